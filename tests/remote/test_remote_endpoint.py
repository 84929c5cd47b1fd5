"""/sparql on a remote store: the row cap is never silent in any format (the store's answer is counted when
it is checked, and a result within the cap is written as it came), and an answer larger than the buffer
still leaves whole, in chunks (the query runs in the request's thread)."""

from __future__ import annotations

import io
import json

import pyoxigraph as ox
import pytest

from conftest import BASE

EX = "http://example.org/"
G = BASE + "graph/endpoint-cap"
CAP = 5


@pytest.fixture(scope="module")
def capped(virtuoso_factory):
    from server import create_app

    virtuoso = virtuoso_factory("endpoint")
    store = virtuoso.empty_store()
    store.replace_graph(G, [ox.Triple(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), ox.Literal(f"v{i}"))
                            for i in range(8)])
    app = create_app(virtuoso.settings(max_rows=CAP), load_if_empty=False)
    return app


def get(app, query, accept="application/sparql-results+json"):
    resp = app.test_client().get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp


ROWS = f"SELECT ?s ?o WHERE {{ ?s <{EX}p> ?o }} ORDER BY ?s"
RESULTS = {"application/sparql-results+json": ox.QueryResultsFormat.JSON,
           "application/sparql-results+xml": ox.QueryResultsFormat.XML,
           "text/csv": ox.QueryResultsFormat.CSV, "text/tab-separated-values": ox.QueryResultsFormat.TSV}


@pytest.mark.parametrize("accept", list(RESULTS))
def test_the_cap_is_signalled_in_every_results_format(capped, accept):
    resp = get(capped, ROWS, accept)
    assert resp.headers["X-KB-Truncated"] == "true" and resp.headers["X-KB-Row-Limit"] == str(CAP)
    if accept == "text/csv":
        assert len(resp.get_data(as_text=True).strip().splitlines()) == CAP + 1  # the header line and CAP rows
    else:
        rows = list(ox.parse_query_results(resp.data, RESULTS[accept]))
        assert [r["o"].value for r in rows] == [f"v{i}" for i in range(CAP)]
    if accept.endswith("json"):
        assert json.loads(resp.data)["x-kb"] == {"truncated": True, "limit": CAP}


@pytest.mark.parametrize("limit,cut", [(CAP, False), (CAP - 1, False), (CAP + 1, True)])
def test_exactly_at_the_cap_is_not_cut(capped, limit, cut):
    resp = get(capped, f"{ROWS} LIMIT {limit}")
    data = json.loads(resp.data)
    assert ("X-KB-Truncated" in resp.headers) is cut and ("x-kb" in data) is cut
    assert len(data["results"]["bindings"]) == min(limit, CAP)


@pytest.mark.parametrize("accept,fmt", [("text/turtle", ox.RdfFormat.TURTLE), ("application/n-triples", ox.RdfFormat.N_TRIPLES),
                                        ("application/ld+json", ox.RdfFormat.JSON_LD), ("application/rdf+xml", ox.RdfFormat.RDF_XML),
                                        ("application/trig", ox.RdfFormat.TRIG), ("application/n-quads", ox.RdfFormat.N_QUADS)])
def test_construct_is_capped_in_every_rdf_format(capped, accept, fmt):
    resp = get(capped, f"CONSTRUCT WHERE {{ ?s <{EX}p> ?o }}", accept)
    assert resp.headers["X-KB-Truncated"] == "true"
    assert len(list(ox.parse(resp.data, fmt))) == CAP


def test_an_answer_larger_than_the_buffer_leaves_whole_in_chunks(capped):
    endpoint = capped.extensions["sparql"]
    endpoint.buffer_bytes = 200
    try:
        resp = get(capped, f"{ROWS} LIMIT {CAP}")
        assert resp.is_streamed  # chunks, not one body
        rows = list(ox.parse_query_results(io.BytesIO(resp.data), ox.QueryResultsFormat.JSON))
        assert len(rows) == CAP and "X-KB-Truncated" not in resp.headers
    finally:
        endpoint.buffer_bytes = 1024 * 1024
