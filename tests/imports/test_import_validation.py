"""Checklist C (V-01 .. V-04), and the proof that validating a change with its KB context finds exactly
what validating the whole KB after the change finds."""

from __future__ import annotations

import time

import pyoxigraph as ox

import pytest
from import_helpers import *  # noqa: F401,F403 - fixtures and helpers

from kb import batchcheck, rdfio
from kb.importer import Importer, Invalid, Source, ValidationTimedOut
from kb.store import open_store

THB = "https://w3id.org/thb-kb/def#"
ID = BASE + "id/"
PREFIXES = f"""@prefix thb: <{THB}> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix prov: <http://www.w3.org/ns/prov#> . @prefix org: <http://www.w3.org/ns/org#> .
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix owl: <http://www.w3.org/2002/07/owl#> .
"""


def ttl(text: str) -> Source:
    return Source("test.ttl", (PREFIXES + text).encode(), rdfio.format_for("turtle"))


INVALID_AGENCY = f"<{ID}agency/nameless> a thb:Agency ."


# --- V-01 .. V-04 ----------------------------------------------------------------------------------

def test_v01_data_cannot_bring_or_switch_off_shapes(gsp, kbstore):
    before = checksum(kbstore)
    hostile = f"""
    {INVALID_AGENCY}
    <https://w3id.org/thb-kb/shapes#LabelledShape> sh:deactivated true .
    <https://w3id.org/thb-kb/shapes#AgencyShape> sh:deactivated true .
    <https://w3id.org/thb-kb/shapes#CitedShape> sh:deactivated true ; sh:severity sh:Info .
    <urn:x:MyShape> a sh:NodeShape ; sh:targetClass thb:Agency ; sh:deactivated true .
    """
    r = gsp.put("/graphs?graph=" + G + "hostile", data=(PREFIXES + hostile).encode(),
                headers={**AUTH, "Content-Type": "text/turtle", "Accept": "application/json"})
    assert r.status_code == 422, r.data
    results = r.get_json()["results"]
    assert any(x["focus"] == f"{ID}agency/nameless" and x["severity"] == "violation" for x in results)
    assert checksum(kbstore) == before


def test_v02_owl_imports_is_never_fetched(gsp, kbstore, listener):
    body = (PREFIXES + f"<urn:x:onto> a owl:Ontology ; owl:imports <http://127.0.0.1:{listener.port}/o> .").encode()
    r = gsp.put("/graphs?graph=" + G + "imports", data=body, headers={**AUTH, "Content-Type": "text/turtle"})
    assert r.status_code == 201, r.data
    time.sleep(0.3)
    assert listener.hits == 0


def test_v03_cyclic_data_terminates_with_a_deterministic_result(kbstore):
    cyc = f"""
    <{ID}agency/cycle-a> org:subOrganizationOf <{ID}agency/cycle-b> .
    <{ID}agency/cycle-b> org:subOrganizationOf <{ID}agency/cycle-a> ; a thb:Agency .
    <{ID}agency/cycle-a> a thb:Agency ; rdfs:label "A"@en .
    """
    imp = Importer(kbstore, import_settings())
    keys = []
    for _ in range(2):
        with pytest.raises(Invalid) as info:
            imp.import_sources([ttl(cyc)], graph=G + "cycle", dry_run=True)
        keys.append(sorted((str(r.focus), str(r.path), r.message) for r in info.value.report.results))
    assert keys[0] == keys[1] and keys[0]


def test_v04_validation_timeout_rejects_and_writes_nothing(kbstore):
    """With a validation budget too small for the batch, the worker process is killed, the import is
    refused (HTTP 503), nothing is written, and the next import works (a fresh worker)."""
    body = "\n".join(agency_ttl(f"timeout-{i}") for i in range(4000))
    before = checksum(kbstore)
    imp = Importer(kbstore, import_settings(validation_timeout=0.05))  # 4,000 agencies: far more with any engine
    with pytest.raises(ValidationTimedOut) as info:
        imp.import_sources([Source("big.ttl", body.encode(), rdfio.format_for("turtle"))], graph=G + "big")
    assert info.value.status == 503
    assert checksum(kbstore) == before
    ok = Importer(kbstore, import_settings(validation_timeout=60))
    result = ok.import_sources([Source("one.ttl", agency_ttl("after-timeout").encode(), rdfio.format_for("turtle"))],
                               graph=G + "after")
    assert result.added == 7 and result.record


def test_v04_timeout_over_http_is_503_with_report(kbstore):
    from server import create_app

    app = create_app(import_settings(validation_timeout=0.05), store=kbstore, load_if_empty=False)
    before = checksum(kbstore)
    body = "\n".join(agency_ttl(f"t-{i}") for i in range(4000)).encode()
    r = app.test_client().put("/graphs?graph=" + G + "big", data=body,
                              headers={**AUTH, "Content-Type": "text/turtle", "Accept": "application/json"})
    assert r.status_code == 503
    assert r.get_json()["error"] == "validation-timeout"
    assert checksum(kbstore) == before


@pytest.mark.parametrize("engine", ["sparql", "pyshacl"])
def test_an_agency_without_an_english_name_is_rejected(kbstore, monkeypatch, engine):
    """The batch check passes focus nodes; the English-name rule is a nested shape (sh:qualifiedValueShape)
    checked on the label literals, which are no focus nodes: both engines still check it (pySHACL 0.40 did
    not, before kb.pyshacl_speedups corrected its focus_nodes option)."""
    from kb import shacl_runner

    monkeypatch.setattr(shacl_runner, "ENGINE", engine)
    text = agency_ttl("french-only").replace('"French-Only"@en', '"French-Only"@fr')
    with pytest.raises(Invalid) as info:
        Importer(kbstore, import_settings()).import_sources([ttl(text)], graph=G + "french", dry_run=True)
    found = {(str(r.path), str(r.constraint).rsplit("#", 1)[1]) for r in info.value.report.results}
    assert ("http://www.w3.org/2004/02/skos/core#prefLabel", "QualifiedMinCountConstraintComponent") in found
    assert ("http://www.w3.org/2000/01/rdf-schema#label", "QualifiedMinCountConstraintComponent") in found


# --- batch + context == whole KB --------------------------------------------------------------------

MORE = f"""
<{ID}agency/frontex> a thb:Agency ; rdfs:label "Frontex"@en ; skos:prefLabel "Frontex"@en ;
    dct:description "Border agency."@en ;
    org:classification <{ID}concept/agency-type/border-immigration-service> ;
    org:subOrganizationOf <{ID}agency/europol> ;
    dct:source <{ID}document/europol-report-2020> ; prov:wasDerivedFrom <{ID}document/europol-report-2020> .
"""

# (name, graph, mode, turtle): each change is applied to the same starting KB (base.ttl in graph/base and
# MORE in graph/more), then validated both ways.
CHANGES = [
    ("new entity referencing existing ones", "new", "replace", agency_ttl("new-one")),
    ("new entity referencing a missing one", "new", "replace",
     agency_ttl("dangling", extra=f"; org:subOrganizationOf <{ID}agency/not-in-kb> ")),
    ("reference to an entity of the wrong class", "new", "replace",
     agency_ttl("wrong-class", extra=f"; org:subOrganizationOf <{ID}document/europol-report-2020> ")),
    ("replace removes an entity others reference", "base", "replace",
     agency_ttl("europol", label="Europol") + agency_ttl("eurojust", label="Eurojust")),
    ("replace removes the type of a referenced entity", "base", "replace",
     f"<{ID}agency/europol> rdfs:label \"Europol\"@en .\n" + agency_ttl("eurojust", label="Eurojust")),
    ("merge adds a second English label to an existing entity", "more", "merge",
     f"<{ID}agency/frontex> rdfs:label \"Frontex again\"@en ."),
    ("merge keeps existing triples of the focus node", "more", "merge",
     f"<{ID}agency/frontex> skos:altLabel \"FX\"@en ."),
    ("malformed IRI of the id/ space in object position", "new", "replace",
     agency_ttl("bad-link", extra=f"; org:subOrganizationOf <{ID}Agency/Bad_Slug> ")),
    ("a concept of the wrong scheme", "new", "replace",
     agency_ttl("bad-type").replace("agency-type/police", "event-type/workshop")),
    ("an entity with nothing but a type", "new", "replace", INVALID_AGENCY),
]


def _start_store():
    store = base_store()
    Importer(store, import_settings()).import_sources([ttl(MORE)], graph=G + "more")
    return store


def _key(r):
    return (str(r.focus), str(r.path), str(r.value), r.severity, str(r.constraint), r.message)


@pytest.fixture(scope="module")
def start_quads():
    return list(_start_store().quads())


@pytest.mark.parametrize("name,graph,mode,text", CHANGES, ids=[c[0] for c in CHANGES])
def test_batch_with_context_finds_what_whole_kb_validation_finds(request, store_kind, start_quads, name, graph,
                                                                 mode, text):
    settings = import_settings()
    if store_kind == "virtuoso":  # the batch's context queries run on the remote store too
        store = request.getfixturevalue("virtuoso").empty_store()
        store.apply(insert=start_quads)
    else:
        store = open_store(settings)
        store.raw.extend(start_quads)
    assert batchcheck.validate_kb(store).results == []  # the starting KB conforms: no warnings either
    try:
        result = Importer(store, settings).import_sources([ttl(text)], graph=G + graph, mode=mode, dry_run=True)
        batch = result.report.results
    except Invalid as exc:
        batch = exc.report.results
    # the same change, written without validation, then the whole KB validated
    Importer(store, settings).import_sources([ttl(text)], graph=G + graph, mode=mode)  # may raise: see below
    whole = batchcheck.validate_kb(store).results
    assert sorted(map(_key, batch)) == sorted(map(_key, whole)), name
    # and pySHACL over rdflib (its reference backend) agrees with pySHACL over Oxigraph (the one imports use)
    reference = batchcheck.validate_kb(store, engine="rdflib").results
    assert sorted(map(_key, reference)) == sorted(map(_key, whole)), name


@pytest.fixture(autouse=True)
def _write_without_validation(monkeypatch, request):
    """In the batch-vs-whole test, the second import writes the change without validating it."""
    if "batch_with_context" not in request.node.name:
        return
    original = Importer.write
    calls = {"n": 0}

    def write(self, plan, **kw):
        calls["n"] += 1
        if calls["n"] >= 2:
            kw["validate"] = False
        return original(self, plan, **kw)

    monkeypatch.setattr(Importer, "write", write)


def test_changes_cover_both_outcomes(start_quads):
    """The crafted changes include conforming and non-conforming ones (the equality test is not vacuous)."""
    outcomes = set()
    for _, graph, mode, text in CHANGES:
        store = open_store(import_settings())
        store.raw.extend(start_quads)
        try:
            Importer(store, import_settings()).import_sources([ttl(text)], graph=G + graph, mode=mode, dry_run=True)
            outcomes.add("ok")
        except Invalid:
            outcomes.add("invalid")
    assert outcomes == {"ok", "invalid"}


def test_chunked_parallel_validation_finds_the_same_results(kbstore, monkeypatch):
    """A batch split into many chunks, validated by the worker processes in parallel, gets the same report
    as one in-process validation of the whole batch."""
    body = "\n".join(agency_ttl(f"chunk-{i}") if i % 7 else f"<{ID}agency/chunk-{i}> a thb:Agency ."
                     for i in range(120))
    src = ttl(body)

    def results(**settings):
        with pytest.raises(Invalid) as info:
            Importer(kbstore, import_settings(**settings)).import_sources([src], graph=G + "chunks", dry_run=True)
        return sorted(map(_key, info.value.report.results))

    whole = results(validation_timeout=0)
    monkeypatch.setattr(batchcheck, "FOCUS_CHUNK", 25)
    parallel = results(validation_timeout=120)
    assert parallel == whole
    assert {k[0] for k in whole} == {f"{ID}agency/chunk-{i}" for i in range(0, 120, 7)}


def test_chunks_see_what_the_shapes_read_backwards(kbstore, monkeypatch):
    """A participation belongs to exactly one event (sh:inversePath m8g:hasParticipation): when the chunks of a
    large import put a participation and its event apart, the chunk still sees the event, so the split
    batch finds exactly what one whole validation finds: nothing for generated conformant data, and the one
    participation whose event link was removed."""
    import io

    import pyoxigraph as ox

    from bench.generate import generate

    buf = io.StringIO()
    generate(buf, 3000, seed=11, with_ontology=False)
    triples = list(ox.parse(buf.getvalue().encode(), ox.RdfFormat.TURTLE))
    links = [t for t in triples if t.predicate.value == "http://data.europa.eu/m8g/hasParticipation"]
    assert len(links) > 10
    orphan = links[len(links) // 2]
    body = ox.serialize([t for t in triples if t != orphan], format=ox.RdfFormat.N_TRIPLES)
    src = Source("generated.nt", body, rdfio.format_for("ntriples"))

    def results():
        with pytest.raises(Invalid) as info:
            Importer(kbstore, import_settings()).import_sources([src], graph=G + "generated", dry_run=True)
        from rdflib import BNode  # the inverse path is a blank node: its label differs between reports

        return sorted((_key(r)[0], "_:") + _key(r)[2:] if isinstance(r.path, BNode) else _key(r)
                      for r in info.value.report.results)

    whole = results()
    monkeypatch.setattr(batchcheck, "FOCUS_CHUNK", 150)
    chunked = results()
    assert chunked == whole
    assert len(whole) == 1 and whole[0][0] == orphan.object.value
    assert whole[0][-1].startswith("A participation belongs to exactly one")


def test_an_import_into_an_empty_kb_is_validated_whole_with_the_same_results(monkeypatch):
    """Into an empty KB the batch check validates the change's triples in one run, without gathering
    context: the same results as the batch check's general path, and as whole-KB validation afterwards."""
    import io

    import pyoxigraph as ox

    from bench.generate import generate

    buf = io.StringIO()
    generate(buf, 3000, seed=12, with_ontology=False)
    triples = list(ox.parse(buf.getvalue().encode(), ox.RdfFormat.TURTLE))
    links = [t for t in triples if t.predicate.value == "http://data.europa.eu/m8g/hasParticipation"]
    titles = [t for t in triples if t.predicate.value == "http://purl.org/dc/terms/title"]
    broken = [t for t in triples if t not in (links[3], titles[5])]
    src = Source("generated.nt", ox.serialize(broken, format=ox.RdfFormat.N_TRIPLES), rdfio.format_for("ntriples"))
    settings = import_settings()
    calls = []
    whole_kb = batchcheck._nothing_else
    monkeypatch.setattr(batchcheck, "_nothing_else", lambda store, change: calls.append(1) or whole_kb(store, change))

    from rdflib import BNode  # inverse paths are blank nodes: their labels differ between reports

    def keys(report):
        return sorted((_key(r)[0], "_:") + _key(r)[2:] if isinstance(r.path, BNode) else _key(r)
                      for r in report.results)

    def results(store):
        with pytest.raises(Invalid) as info:
            Importer(store, settings).import_sources([src], graph=G + "generated", dry_run=True)
        return keys(info.value.report)

    empty = open_store(settings)
    assert whole_kb(empty, batchcheck.Change(new={G + "generated": broken}, added=broken))
    at_once = results(empty)
    monkeypatch.setattr(batchcheck, "_nothing_else", lambda store, change: False)
    assert results(open_store(settings)) == at_once
    assert len(at_once) >= 2 and calls
    empty.raw.extend(ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(G + "generated")) for t in broken)
    assert keys(batchcheck.validate_kb(empty)) == at_once


def test_replacing_the_only_graph_still_checks_the_referrers():
    """A change that replaces the KB's only graph is no import into an empty KB: the nodes whose triples it
    keeps still refer to the changed ones, and are checked (here the agencies, unchanged, cite a source
    document that loses its type: their results are about referrers only)."""
    from import_helpers import DATA

    store = base_store()
    assert {g for g in store.graphs() if g not in batchcheck.excluded_graphs(store)} == {G + "base"}
    text = (DATA / "base.ttl").read_text(encoding="utf-8").replace(
        "europol-report-2020> a thb:SourceDocument ;", "europol-report-2020>")
    src = Source("base.ttl", text.encode(), rdfio.format_for("turtle"))
    with pytest.raises(Invalid) as info:
        Importer(store, import_settings()).import_sources([src], graph=G + "base", dry_run=True)
    batch = sorted(map(_key, info.value.report.results))
    assert {k[0] for k in batch} >= {f"{ID}agency/europol", f"{ID}agency/eurojust"}  # the unchanged referrers
    store.raw.remove_graph(ox.NamedNode(G + "base"))
    store.raw.extend(ox.Quad(q.subject, q.predicate, q.object, ox.NamedNode(G + "base"))
                     for q in ox.parse(text.encode(), ox.RdfFormat.TURTLE))
    assert sorted(map(_key, batchcheck.validate_kb(store).results)) == batch


def test_a_validation_worker_killed_while_idle_is_replaced_on_the_next_job():
    """When one chunk passes its time limit, the other validation workers are killed while they may be idle;
    the next import must not meet such a worker (still alive for poll(), gone at the first message) as a
    failure: it runs on a fresh worker."""
    from kb import shacl_runner

    worker = shacl_runner._Worker()
    try:
        assert worker.run(shacl_runner._WARM_SAMPLE, None, 60)
        for _ in range(3):
            old = worker.proc
            old.kill()  # what batchcheck does to the other workers, without waiting
            report = worker.run(shacl_runner._WARM_SAMPLE, None, 60)
            assert report and worker.proc is not old and worker.proc.poll() is None
    finally:
        worker._kill()
