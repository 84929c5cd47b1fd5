"""The SPARQL 1.1 Protocol at /sparql: the W3C protocol suite (cases that apply to a read-only endpoint),
formats and content negotiation, errors, the service description, CORS, and the example queries."""

from __future__ import annotations

import csv
import io
import json

import pyoxigraph as ox
import pytest
from rdflib import RDF, RDFS, Graph, Namespace
from rdflib.collection import Collection

from conftest import make_settings

PROTOCOL = "sparql/sparql11/protocol"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")

# Cases of the manifest that do not apply to a read-only endpoint: each expects an update to succeed.
INAPPLICABLE = {
    "update_dataset_default_graph": "a successful SPARQL Update; this endpoint is read-only (403)",
    "update_dataset_default_graphs": "a successful SPARQL Update; this endpoint is read-only (403)",
    "update_dataset_named_graphs": "a successful SPARQL Update; this endpoint is read-only (403)",
    "update_dataset_full": "a successful SPARQL Update; this endpoint is read-only (403)",
    "update_post_form": "a successful SPARQL Update; this endpoint is read-only (403)",
    "update_post_direct": "a successful SPARQL Update; this endpoint is read-only (403)",
    "update_base_uri": "a successful SPARQL Update; this endpoint is read-only (403)",
}

RESULT_TYPES = {
    "boolean": {"application/sparql-results+json", "application/sparql-results+xml"},
    "tabular": {"application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                "text/tab-separated-values"},
    "RDF": {"application/rdf+xml", "text/turtle", "application/n-triples"},
}


def _manifest(shared_dir):
    path = shared_dir / "w3c" / PROTOCOL / "manifest.ttl"
    g = Graph().parse(path, publicID="http://www.w3.org/2009/sparql/docs/tests/data-sparql11/protocol/manifest")
    manifest = g.value(None, RDF.type, MF.Manifest)
    return g, list(Collection(g, g.value(manifest, MF.entries))), path.parent


def _cases():
    from conftest import SHARED

    if not (SHARED / "w3c" / PROTOCOL / "manifest.ttl").exists():
        return []
    g, entries, _ = _manifest(SHARED)
    names = [str(e).rsplit("#", 1)[1] for e in entries]
    assert set(INAPPLICABLE) <= set(names)
    return [name for name in names if name not in INAPPLICABLE]


@pytest.mark.parametrize("name", _cases())
def test_w3c_protocol_case(name, shared_dir):
    from server import create_app
    from kb.store import open_store

    g, entries, folder = _manifest(shared_dir)
    test = next(e for e in entries if str(e).endswith("#" + name))
    store = open_store(make_settings())
    for data in g.objects(test, UT.graphData):
        source = g.value(data, UT.graph)
        label = str(g.value(data, RDFS.label))
        triples = ox.parse((folder / str(source).rsplit("/", 1)[1]).read_bytes(), format=ox.RdfFormat.N_TRIPLES)
        store.add_to_graph(label, triples)
    app = create_app(make_settings(), store=store, load_if_empty=False)
    client = app.test_client()
    action = g.value(test, MF.action)
    for request in Collection(g, g.value(action, HT.requests)):
        method = str(g.value(request, HT.methodName))
        path = str(g.value(request, HT.absolutePath))
        headers = {}
        if g.value(request, HT.headers) is not None:
            for h in Collection(g, g.value(request, HT.headers)):
                headers[str(g.value(h, HT.fieldName))] = str(g.value(h, HT.fieldValue))
        body = None
        node = g.value(request, HT.body)
        if node is not None:
            encoding = str(g.value(node, CNT.characterEncoding) or "UTF-8")
            body = str(g.value(node, CNT.chars)).encode(encoding.lower())
        response = client.open(path, method=method, data=body, headers=headers)
        expected = g.value(request, HT.resp)
        statuses = {str(s).rsplit("#", 1)[1] for s in g.objects(expected, MF.expectedStatus)}
        klass = f"StatusCode{response.status_code // 100}xx"
        assert klass in statuses, (name, response.status_code, response.get_data(as_text=True))
        if klass == "StatusCode4xx":
            assert response.get_data(as_text=True).strip(), "an error says why"
        fmt = g.value(expected, MF.expectedFormat)
        if fmt is not None:
            assert response.mimetype in RESULT_TYPES[str(fmt)], (name, response.mimetype)
        boolean = g.value(expected, MF.expectedBoolean)
        if boolean is not None:
            assert response.mimetype == "application/sparql-results+json"
            assert json.loads(response.data)["boolean"] is boolean.toPython()


def test_inapplicable_cases_are_updates_and_refused(client):
    """The cases left out expect an update to succeed; here every update is refused."""
    assert all(name.startswith("update_") for name in INAPPLICABLE)
    r = client.post("/sparql", data="CLEAR ALL", headers={"Content-Type": "application/sparql-update"})
    assert r.status_code == 403 and "read-only" in r.get_data(as_text=True)


# -- formats -------------------------------------------------------------------------------------------
SELECT_EVENTS = ("PREFIX thb: <https://w3id.org/thb-kb/def#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
                 "SELECT ?e ?label WHERE { ?e a thb:Event ; rdfs:label ?label } ORDER BY ?e ?label")


def _count_events(curated_store) -> int:
    return len(list(curated_store.query(SELECT_EVENTS)))


@pytest.mark.parametrize("accept,mimetype", [
    ("application/sparql-results+json", "application/sparql-results+json"),
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/csv", "text/csv"),
    ("text/tab-separated-values", "text/tab-separated-values"),
    ("text/csv;q=0.5, text/tab-separated-values;q=0.9", "text/tab-separated-values"),
    ("application/json", "application/sparql-results+json"),
    ("*/*", "application/sparql-results+json"),
    (None, "application/sparql-results+json"),
])
def test_select_formats_by_accept(client, curated_store, accept, mimetype):
    headers = {"Accept": accept} if accept else {}
    r = client.get("/sparql", query_string={"query": SELECT_EVENTS}, headers=headers)
    assert r.status_code == 200 and r.mimetype == mimetype
    parsed = ox.parse_query_results(r.data, format={
        "application/sparql-results+json": ox.QueryResultsFormat.JSON,
        "application/sparql-results+xml": ox.QueryResultsFormat.XML,
        "text/tab-separated-values": ox.QueryResultsFormat.TSV,
        "text/csv": None}[mimetype]) if mimetype != "text/csv" else None
    expected = _count_events(curated_store)
    assert expected > 0
    if parsed is None:
        rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
        assert rows[0] == ["e", "label"] and len(rows) - 1 == expected
    else:
        assert len(list(parsed)) == expected
    assert r.headers["Vary"] == "Accept"


CONSTRUCT = ("PREFIX thb: <https://w3id.org/thb-kb/def#> CONSTRUCT { ?e a thb:Event ; ?p ?o } "
             "WHERE { ?e a thb:Event ; ?p ?o }")


@pytest.mark.parametrize("name,mimetype,oxfmt", [
    ("turtle", "text/turtle", ox.RdfFormat.TURTLE),
    ("ntriples", "application/n-triples", ox.RdfFormat.N_TRIPLES),
    ("jsonld", "application/ld+json", ox.RdfFormat.JSON_LD),
    ("rdfxml", "application/rdf+xml", ox.RdfFormat.RDF_XML),
    ("trig", "application/trig", ox.RdfFormat.TRIG),
    ("nquads", "application/n-quads", ox.RdfFormat.N_QUADS),
])
def test_construct_formats_by_accept_and_parameter(client, curated_store, name, mimetype, oxfmt):
    expected = {str(t) for t in curated_store.query(CONSTRUCT)}
    assert expected
    for kwargs in ({"headers": {"Accept": mimetype}}, {"query_string": {"format": name}}):
        qs = {"query": CONSTRUCT, **kwargs.get("query_string", {})}
        r = client.get("/sparql", query_string=qs, headers=kwargs.get("headers", {}))
        assert r.status_code == 200 and r.mimetype == mimetype
        got = {str(ox.Triple(q.subject, q.predicate, q.object)) for q in ox.parse(r.data, format=oxfmt)}
        # blank nodes get new labels when parsed: compare the ground triples and the count
        assert {t for t in got if "_:" not in t} == {t for t in expected if "_:" not in t}
        assert len(got) == len(expected)


def test_describe_and_ask(client):
    r = client.get("/sparql", query_string={"query": "DESCRIBE <https://w3id.org/thb-kb/id/agency/coe>"},
                   headers={"Accept": "application/n-triples"})
    assert r.status_code == 200 and b"Council of Europe" in r.data
    r = client.get("/sparql", query_string={"query": "ASK { ?s a <https://w3id.org/thb-kb/def#Agency> }"},
                   headers={"Accept": "application/sparql-results+xml"})
    assert r.status_code == 200 and b"<boolean>true</boolean>" in r.data


@pytest.mark.parametrize("query,accept", [
    ("SELECT * { ?s ?p ?o } LIMIT 1", "text/turtle"),
    ("CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "application/sparql-results+json"),
    ("ASK {}", "image/png"),
])
def test_not_acceptable(client, query, accept):
    r = client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert r.status_code == 406 and "available" in r.get_data(as_text=True)


def test_unknown_format_parameter(client):
    r = client.get("/sparql", query_string={"query": "ASK {}", "format": "yaml"})
    assert r.status_code == 406 and "yaml" in r.get_data(as_text=True)


def test_syntax_error_has_position(client, store_kind):
    r = client.get("/sparql", query_string={"query": "SELECT * WHERE {\n  ?s ?p \n}"})
    text = r.get_data(as_text=True)
    assert r.status_code == 400 and text.startswith("SPARQL syntax error")
    assert "line " in text and "column" in text
    if store_kind == "oxigraph":  # the remote store's queries are checked by rdflib's parser, less precise
        assert "line 3" in text


def test_post_form_and_direct_with_dataset_parameters(client, curated_store):
    graph = [g for g in curated_store.graphs() if g.endswith("graph/events")][0]
    query = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
    expected = curated_store.count(graph)
    r = client.post("/sparql", data={"query": query, "default-graph-uri": graph})
    assert json.loads(r.data)["results"]["bindings"][0]["n"]["value"] == str(expected)
    r = client.post("/sparql?default-graph-uri=" + graph, data=query,
                    headers={"Content-Type": "application/sparql-query"})
    assert json.loads(r.data)["results"]["bindings"][0]["n"]["value"] == str(expected)
    r = client.get("/sparql", query_string={"query": "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }",
                                            "named-graph-uri": graph})
    assert [b["g"]["value"] for b in json.loads(r.data)["results"]["bindings"]] == [graph]


def test_bad_dataset_parameter(client):
    r = client.get("/sparql", query_string={"query": "ASK {}", "default-graph-uri": "not an iri"})
    assert r.status_code == 400 and "default-graph-uri" in r.get_data(as_text=True)


def test_timeout_parameter_validated(client):
    assert client.get("/sparql", query_string={"query": "ASK {}", "timeout": "soon"}).status_code == 400
    assert client.get("/sparql", query_string={"query": "ASK {}", "timeout": "-1"}).status_code == 400
    assert client.get("/sparql", query_string={"query": "ASK {}", "timeout": "2.5"}).status_code == 200


# -- service description and query page ----------------------------------------------------------------
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")


@pytest.mark.parametrize("accept,fmt", [("text/turtle", "turtle"), ("application/rdf+xml", "xml"),
                                        ("application/ld+json", "json-ld"), ("*/*", "turtle")])
def test_service_description(client, app, accept, fmt):
    r = client.get("/sparql", headers={"Accept": accept})
    assert r.status_code == 200
    g = Graph().parse(data=r.data, format=fmt, publicID="http://localhost/sparql")
    service = g.value(None, RDF.type, SD.Service)
    assert service is not None
    assert str(g.value(service, SD.endpoint)) == "http://localhost/sparql"
    formats = {str(o) for o in g.objects(service, SD.resultFormat)}
    assert "http://www.w3.org/ns/formats/SPARQL_Results_TSV" in formats and len(formats) == 10
    kbsd = Namespace("https://w3id.org/thb-kb/sparql#")
    settings = app.extensions["kb"].settings
    assert int(g.value(service, kbsd.maxRows)) == settings["max_rows"]
    assert float(g.value(service, kbsd.queryTimeout)) == settings["query_timeout"]
    assert str(g.value(service, kbsd.truncationHeader)) == "X-KB-Truncated"
    dataset = g.value(service, SD.defaultDataset)
    assert "http://localhost/.well-known/void" in {str(o) for o in g.objects(dataset, Namespace(
        "http://www.w3.org/2000/01/rdf-schema#").seeAlso)}
    assert len(list(g.objects(dataset, SD.namedGraph))) == len(app.extensions["kb"].store.graphs())


def test_query_page_for_browsers(client):
    r = client.get("/sparql", headers={"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "yasgui/yasgui.min.js" in page and "yasgui/yasgui.min.css" in page
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    for title in ("Events of an agency", "Agencies per country", "Events per year", "Who met whom"):
        assert title in page
    assert client.get("/static/yasgui/yasgui.min.js").status_code == 200
    assert client.get("/static/yasgui/LICENSE").status_code == 200


# -- example queries against the curated KB ------------------------------------------------------------
def _examples():
    from server.sparql.protocol import load_examples

    return load_examples()


@pytest.mark.parametrize("example", _examples(), ids=lambda e: e["file"])
def test_example_queries_answer_sensibly(client, example):
    r = client.post("/sparql", data={"query": example["query"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    data = json.loads(r.data)
    rows = data["results"]["bindings"]
    assert rows, f"{example['file']} found nothing in the curated KB"
    variables = data["head"]["vars"]
    name = example["file"]
    if name.startswith("01"):
        assert all(row["event"]["value"].startswith("https://w3id.org/thb-kb/id/event/") for row in rows)
        assert all(row["how"]["value"] for row in rows)
    elif name.startswith("02"):
        assert all(int(row["agencies"]["value"]) > 0 for row in rows)
        assert all(row["country"]["value"].startswith("http://publications.europa.eu/resource/authority/country/")
                   for row in rows)
    elif name.startswith("03"):
        years = [int(row["year"]["value"]) for row in rows]
        assert years == sorted(years) and all(1990 < y < 2100 for y in years)
    elif name.startswith("04"):
        assert all("programmeName" in row and "conventionName" in row for row in rows)
    elif name.startswith("05"):
        assert all(row["nameA"]["value"] != row["nameB"]["value"] and row["eventName"]["value"] for row in rows)
        pairs = {(row["nameA"]["value"], row["nameB"]["value"]) for row in rows}
        assert not any((b, a) in pairs for a, b in pairs), "each pair once"
    assert variables == {"01": ["event", "title", "start", "how"], "02": ["country", "code", "agencies"],
                         "03": ["year", "events"], "04": ["action", "actionName", "programmeName", "conventionName"],
                         "05": ["nameA", "nameB", "eventName"]}[name[:2]]


# -- CORS, body limit -----------------------------------------------------------------------------------
def test_cors_for_reads_without_credentials(client):
    r = client.get("/sparql", query_string={"query": "ASK {}"}, headers={"Origin": "https://example.org"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in r.headers
    r = client.options("/sparql", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST",
                                           "Access-Control-Request-Headers": "Content-Type"})
    assert r.status_code == 200 and "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "X-KB-Truncated" in r.headers.get("Access-Control-Expose-Headers", "")


def test_body_limit_413(curated_store):
    from server import create_app

    app = create_app(make_settings(max_body=1000), store=curated_store, load_if_empty=False)
    client = app.test_client()
    big = "ASK {} #" + "x" * 1000
    r = client.post("/sparql", data=big, headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 413 and "1000 bytes" in r.get_data(as_text=True)
    r = client.post("/sparql", data={"query": big})
    assert r.status_code == 413
    assert client.post("/sparql", data={"query": "ASK {}"}).status_code == 200


# -- cache ---------------------------------------------------------------------------------------------
def test_results_cached_per_format_and_invalidated_by_writes():
    from kb.store import open_store
    from server import create_app

    store = open_store(make_settings())
    graph = "https://w3id.org/thb-kb/graph/cache-test"
    store.add_to_graph(graph, [ox.Triple(ox.NamedNode("http://example.org/a"), ox.NamedNode("http://example.org/p"),
                                         ox.Literal("1"))])
    app = create_app(make_settings(), store=store, load_if_empty=False)
    client = app.test_client()
    cache = app.extensions["sparql"].cache
    query = "SELECT (COUNT(*) AS ?n) { ?s <http://example.org/p> ?o }"

    def n(accept="application/sparql-results+json"):
        r = client.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
        assert r.status_code == 200
        return r

    assert json.loads(n().data)["results"]["bindings"][0]["n"]["value"] == "1"
    hits = cache.responses.hits
    assert json.loads(n().data)["results"]["bindings"][0]["n"]["value"] == "1"
    assert cache.responses.hits == hits + 1  # served from the cache
    assert n("text/csv").mimetype == "text/csv"  # another format is another entry
    assert cache.responses.hits == hits + 1
    store.add_to_graph(graph, [ox.Triple(ox.NamedNode("http://example.org/b"), ox.NamedNode("http://example.org/p"),
                                         ox.Literal("2"))])
    assert json.loads(n().data)["results"]["bindings"][0]["n"]["value"] == "2"  # the write invalidated it


def test_engine_pragmas_never_reach_the_store(client, curated_store):
    """Virtuoso's DEFINE pragmas (input:grab-all makes it dereference IRIs) are not SPARQL 1.1: refused."""
    before = curated_store.count()
    for query in ('DEFINE input:grab-all "yes" SELECT * WHERE { ?s ?p ?o } LIMIT 1',
                  'DEFINE get:soft "replace" SELECT * WHERE { <http://127.0.0.1:9/x> ?p ?o }'):
        r = client.get("/sparql", query_string={"query": query})
        assert r.status_code == 400 and "syntax error" in r.get_data(as_text=True)
    assert curated_store.count() == before
