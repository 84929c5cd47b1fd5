"""Every entity document is a complete description of its topic: parsed back and validated against the
project's shapes, with the types of the IRIs it links to as context (the shapes check that an organiser is
an agency, and a document holds its neighbours' labels, not their types), its topic and the anonymous nodes
of its own description have no violation. Its neighbours are described in their own documents: their
results are not counted here. Checked on every format a machine can ask for."""

from __future__ import annotations

import pytest
import rdflib
from rdflib import RDF, BNode, URIRef

from kb.validation import validate

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

BASE = "https://w3id.org/thb-kb/"
THB = BASE + "def#"
CLASSES = ("Action", "Programme", "Convention", "Agency", "Event", "Report", "SourceDocument", "Place", "Person")
PARSERS = {"ttl": "turtle", "jsonld": "json-ld", "rdf": "xml", "nt": "nt"}
PER_CLASS = 2


def entities(store) -> list[str]:
    out = []
    for cls in CLASSES:
        rows = list(store.query(f"SELECT ?s WHERE {{ ?s a <{THB}{cls}> }} ORDER BY ?s LIMIT {PER_CLASS}"))
        assert rows, f"the curated KB has no {cls}"
        out += [r["s"].value for r in rows]
    return out


def types_of(store, g: rdflib.Graph) -> rdflib.Graph:
    iris = {str(t) for triple in g for t in triple if isinstance(t, URIRef) and ">" not in str(t)}
    ctx = rdflib.Graph()
    values = " ".join(f"<{i}>" for i in sorted(iris))
    for row in store.query(f"SELECT ?x ?t WHERE {{ VALUES ?x {{ {values} }} ?x a ?t }}"):
        ctx.add((URIRef(row["x"].value), RDF.type, URIRef(row["t"].value)))
    return ctx


def own_nodes(g: rdflib.Graph, topic: URIRef) -> set:
    """The topic and the anonymous nodes (blank nodes, skolem IRIs) its outgoing triples reach."""
    nodes, todo = {topic}, [topic]
    while todo:
        for o in g.objects(todo.pop(), None):
            if (isinstance(o, BNode) or str(o).startswith(BASE + ".well-known/genid/")) and o not in nodes:
                nodes.add(o)
                todo.append(o)
    return nodes


def test_entity_documents_describe_their_topic_completely_enough_to_validate(client, curated_store):
    checked = 0
    for iri in entities(curated_store):
        path = iri[len(BASE) + 3:]
        for suffix, parser in PARSERS.items():
            r = client.get(f"/doc/{path}.{suffix}")
            assert r.status_code == 200, (path, suffix, r.status_code)
            if 'rel="next"' in r.headers.get("Link", ""):
                continue  # a paged document holds a part of the description by design
            g = rdflib.Graph().parse(data=r.data, format=parser, publicID=BASE)
            topic = URIRef(iri)
            assert (None, URIRef("http://xmlns.com/foaf/0.1/primaryTopic"), topic) in g
            report = validate(g + types_of(curated_store, g))
            mine = own_nodes(g, topic)
            bad = [f"{x.focus} {x.path}: {x.message}" for x in report.results
                   if x.severity == "violation" and x.focus in mine]
            assert not bad, f"/doc/{path}.{suffix}:\n" + "\n".join(bad)
            checked += 1
    assert checked >= len(CLASSES) * 4  # every class, every format


def test_a_document_missing_part_of_its_topic_is_caught(curated_store, client):
    """The check is real: the same event document cut to its first ten outgoing triples has violations."""
    rows = curated_store.query(f"SELECT ?s WHERE {{ ?s a <{THB}Event> ; <https://schema.org/startDate> ?d }} "
                               "ORDER BY ?s LIMIT 1")
    event = URIRef(next(iter(rows))["s"].value)
    g = rdflib.Graph().parse(data=client.get(f"/doc/{event[len(BASE) + 3:]}.ttl").data, format="turtle")
    for triple in sorted(g.triples((event, None, None)))[10:]:
        g.remove(triple)
    report = validate(g + types_of(curated_store, g))
    assert any(x.severity == "violation" and x.focus == event for x in report.results), report.text()
