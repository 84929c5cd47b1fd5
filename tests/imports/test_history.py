"""kb.history: every write's changes are recorded with it, and the state of some nodes after any earlier write
is reconstructed exactly as it was then (checked against snapshots taken after each write), on both stores."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from import_helpers import *  # noqa: F401,F403 - fixtures and helpers

from kb import history
from kb.importer import Importer, Source
from kb import rdfio

AGENCY = BASE + "id/agency/frontex"
DOC = BASE + "id/document/europol-report-2020"
PREFIXES = """@prefix thb: <https://w3id.org/thb-kb/def#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix prov: <http://www.w3.org/ns/prov#> . @prefix org: <http://www.w3.org/ns/org#> .
"""


def agency(label: str, description: str, extra: str = "") -> bytes:
    return (PREFIXES + f"""<{AGENCY}> a thb:Agency ; rdfs:label "{label}"@en ; skos:prefLabel "{label}"@en ;
    dct:description "{description}"@en ;
    org:classification <{BASE}id/concept/agency-type/police> ; dct:source <{DOC}> ; prov:wasDerivedFrom <{DOC}> {extra}.
""").encode()


def src(name: str, data: bytes) -> Source:
    return Source(name, data, rdfio.format_for("turtle"))


@pytest.fixture()
def hstore(request, store_kind):
    """base.ttl in graph/base; Frontex is then written by the test, in graphs of its own."""
    if store_kind == "virtuoso":
        store = request.getfixturevalue("virtuoso").empty_store()
        Importer(store, import_settings()).import_sources([Source.from_file(DATA / "base.ttl")], graph=G + "base")
        return store
    return base_store()


def test_each_earlier_state_is_reconstructed_exactly(hstore):
    store = hstore
    imp = Importer(store, import_settings())
    snapshots: list[tuple[str, set]] = []

    def write(**kw) -> None:
        result = kw.pop("result")
        snapshots.append((result.record.rsplit("/", 1)[1], history._current(store, [AGENCY])))

    # 1: Frontex appears in a new graph (a creation: one record, not one per triple)
    write(result=imp.import_sources([src("e1.ttl", agency("Frontex", "The EU border agency."))], graph=G + "frontex"))
    # 2: replaced: label and description change
    write(result=imp.import_sources([src("e2.ttl", agency("FRONTEX", "The European Border and Coast Guard Agency."))],
                                    graph=G + "frontex"))
    # 3: merged: one more statement about it
    write(result=imp.import_sources([src("e3.ttl", (PREFIXES + f'<{AGENCY}> skos:altLabel "EBCGA"@en .').encode())],
                                    graph=G + "frontex", mode="merge"))
    # 4: a new graph links to it (an incoming statement)
    write(result=imp.import_sources([src("e4.ttl", (PREFIXES + f'<{BASE}id/agency/eurojust> org:linkedTo <{AGENCY}> .').encode())],
                                    graph=G + "links", mode="merge"))
    # 5: an unrelated write: not a version of Frontex
    imp.import_sources([src("e5.ttl", (PREFIXES + f'<{BASE}id/agency/eurojust> skos:altLabel "EJ"@en .').encode())],
                       graph=G + "other", mode="merge")
    # 6: its graph is dropped: only the incoming link is left
    write(result=imp.drop_graph(G + "frontex"))

    tl = history.timeline(store, [AGENCY])
    for import_id, snapshot in snapshots:
        assert tl.state_after(import_id) == snapshot, f"state after {import_id} differs"
    assert [w.import_id for w in tl.versions()] == [i for i, _ in snapshots]
    assert snapshots[0][1] and snapshots[1][1] != snapshots[0][1]  # the writes did change what the test checks


def test_a_creation_costs_one_record_and_records_stay_out_of_the_kb(hstore):
    store = hstore
    before = store.count()
    imp = Importer(store, import_settings())
    imp.import_sources([src("e1.ttl", agency("Frontex", "The EU border agency."))], graph=G + "frontex")
    records = [history.decode(BASE, t) for t in store.history_records([G + "frontex"])]
    assert [(c.op, c.graph) for c in records if c and c.graph == G + "frontex"] == [("create", G + "frontex")]
    imp.import_sources([src("e2.ttl", agency("FRONTEX", "The EU agency."))], graph=G + "frontex")
    ops = sorted(c.op for c in (history.decode(BASE, t) for t in store.history_records([AGENCY]))
                 if c and c.graph == G + "frontex")
    assert ops == ["add", "add", "add", "del", "del", "del"]  # label, prefLabel, description: out and in
    # none of it is in the KB's union, its graphs, its dumps or its counts
    preds = {row["p"].value for row in store.query("SELECT DISTINCT ?p WHERE { ?s ?p ?o }")}
    assert not any(p.startswith(BASE + history.RECORD) for p in preds)
    assert history.history_graph(BASE) not in store.graphs()
    assert not any(history.RECORD in str(q.predicate) for q in store.quads())
    assert store.count() > before
