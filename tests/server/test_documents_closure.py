"""The closure of a document's anonymous nodes is whole whatever mix of skolem IRIs (looked up by name) and
blank nodes (reached by a path) it goes through, outgoing and incoming, and stops at MAX_BNODE_DEPTH."""

from __future__ import annotations

import pyoxigraph as ox

from conftest import BASE, make_settings

EX = "http://example.org/"
GENID = BASE + ".well-known/genid/"
SUBJECT = BASE + "id/agency/a"
OTHER = BASE + "id/event/e"


def _store(turtle: str):
    from kb.store import open_store

    store = open_store(make_settings())
    g = ox.NamedNode(BASE + "graph/closure")
    store.apply(insert=[ox.Quad(t.subject, t.predicate, t.object, g)
                        for t in ox.parse(turtle.encode(), ox.RdfFormat.TURTLE)])
    return store


def _build(store, page_size: int = 100):
    from server import documents
    from server.iris import IriMap

    return documents.build(store, IriMap(BASE), SUBJECT[len(BASE) + 3:], page_size=page_size)


def _shape(triples) -> set[tuple[str, str]]:
    """(predicate, object) pairs, blank nodes blurred (their labels are the store's own)."""
    return {(t.predicate.value, "_" if isinstance(t.object, ox.BlankNode) else str(t.object)) for t in triples}


TTL = f"""
@prefix ex: <{EX}> .
<{SUBJECT}> ex:a <{GENID}s1> ; ex:b [ ex:c <{GENID}s2> ; ex:label "b" ] ; ex:own <{SUBJECT}#part> .
<{GENID}s1> ex:d [ ex:e <{GENID}s3> ] ; ex:label "s1" .
<{GENID}s3> ex:f [ ex:g "deep" ] .
<{GENID}s2> ex:h "s2" .
<{SUBJECT}#part> ex:i "hash part" .
<{OTHER}> ex:j <{GENID}p1> .
<{GENID}p1> ex:k <{SUBJECT}> ; ex:l [ ex:m "via blank" ] .
<{OTHER}> ex:n [ ex:o <{SUBJECT}> ; ex:q <{GENID}p2> ] .
<{GENID}p2> ex:r "via skolem below a blank" .
"""


def test_the_closure_goes_through_skolem_iris_and_blank_nodes():
    doc = _build(_store(TTL))
    closure = _shape(doc.closure)
    expected = {(EX + "d", "_"), (EX + "label", '"s1"'), (EX + "e", f"<{GENID}s3>"), (EX + "f", "_"),
                (EX + "g", '"deep"'), (EX + "c", f"<{GENID}s2>"), (EX + "label", '"b"'), (EX + "h", '"s2"'),
                (EX + "i", '"hash part"')}
    assert expected == closure
    via = _shape(doc.via)
    assert {(EX + "j", f"<{GENID}p1>"), (EX + "k", f"<{SUBJECT}>"), (EX + "l", "_"), (EX + "m", '"via blank"'),
            (EX + "n", "_"), (EX + "o", f"<{SUBJECT}>"), (EX + "q", f"<{GENID}p2>"),
            (EX + "r", '"via skolem below a blank"')} == via


def test_the_closure_stops_at_the_depth_limit():
    from server.documents import MAX_BNODE_DEPTH

    chain = " ".join(f"<{GENID}n{i}> <{EX}next> <{GENID}n{i + 1}> ." for i in range(MAX_BNODE_DEPTH + 2))
    doc = _build(_store(f"<{SUBJECT}> <{EX}first> <{GENID}n0> . {chain}"))
    reached = sorted(t.subject.value for t in doc.closure)
    assert reached == [f"{GENID}n{i}" for i in range(MAX_BNODE_DEPTH)]


def test_only_the_nodes_of_the_page_are_closed_over():
    links = " ".join(f"<{SUBJECT}> <{EX}p{i:02d}> <{GENID}x{i:02d}> . <{GENID}x{i:02d}> <{EX}v> {i} ."
                     for i in range(12))
    doc = _build(_store(links), page_size=5)
    assert doc.pages == 3
    assert sorted(t.subject.value for t in doc.closure) == [f"{GENID}x{i:02d}" for i in range(5)]
