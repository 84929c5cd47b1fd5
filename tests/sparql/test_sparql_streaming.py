"""Large SPARQL answers are streamed: sent in chunks while the result is read (no Content-Length, chunked
transfer over real HTTP), in every format, equal to the unstreamed answer, with the row-cap flags still exact.
Through the worker processes: a client that leaves mid-stream frees its worker (no kill, the pool intact, the
next queries served), and a query that stalls mid-stream is still stopped at its timeout (the client sees a
cut connection). Small answers are still sent whole and cached; streamed ones never are."""

from __future__ import annotations

import gc
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse

import pyoxigraph as ox
import pytest
import requests

from conftest import BASE, LiveServer, make_settings

EX = "http://example.org/"
N = 20_000  # triples: every format of the full answer is well over the 1 MiB in-memory bound
FILLER = "a literal long enough that the answer grows past the in-memory bound " * 2
SELECT_ALL = f"SELECT ?s ?p ?o WHERE {{ GRAPH <{EX}g> {{ ?s ?p ?o }} }}"
CONSTRUCT_ALL = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{EX}g> {{ ?s ?p ?o }} }}"
ENDLESS = "CONSTRUCT { ?a ?b ?f . ?a ?b ?i } WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # lazily evaluated, never ends
SMALL = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{EX}p0> ?o }}"
TIMEOUT = 4.0
SLACK = 4.0

SELECT_FORMATS = {"application/sparql-results+json": ox.QueryResultsFormat.JSON,
                  "application/sparql-results+xml": ox.QueryResultsFormat.XML,
                  "text/csv": ox.QueryResultsFormat.CSV,
                  "text/tab-separated-values": ox.QueryResultsFormat.TSV}
GRAPH_FORMATS = {"text/turtle": ox.RdfFormat.TURTLE, "application/n-triples": ox.RdfFormat.N_TRIPLES,
                 "application/ld+json": ox.RdfFormat.JSON_LD, "application/rdf+xml": ox.RdfFormat.RDF_XML,
                 "application/trig": ox.RdfFormat.TRIG, "application/n-quads": ox.RdfFormat.N_QUADS}


def triples() -> list[ox.Triple]:
    return [ox.Triple(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p{i % 10}"), ox.Literal(f"{i} {FILLER}"))
            for i in range(N)]


@pytest.fixture(scope="module")
def memory_store():
    from kb.store import open_store

    store = open_store(make_settings())
    store.replace_graph(EX + "g", triples())
    return store


def memory_app(store, **settings):
    from server import create_app

    app = create_app(make_settings(**settings), store=store, load_if_empty=False)
    app.testing = True
    return app


@pytest.fixture(scope="module")
def uncapped(memory_store):
    return memory_app(memory_store, max_rows=0)


@pytest.fixture(scope="module")
def disk_app(tmp_path_factory):
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore
    from server import create_app

    path = tmp_path_factory.mktemp("sparql-stream") / "store"
    store = OxigraphStore(Iris(BASE), path)
    store.replace_graph(EX + "g", triples()[:3000])
    app = create_app(make_settings(store=str(path), query_timeout=60, sparql_workers=2, max_rows=0),
                     store=store, load_if_empty=False)
    pool = app.extensions["sparql"].pool
    assert pool.wait_started(90)
    yield app
    app.extensions["sparql"].close()
    store.close()


@pytest.fixture(scope="module")
def disk_server(disk_app):
    server = LiveServer(disk_app)
    yield server
    server.stop()


def fetch(app, query: str, accept: str, *, buffer_bytes: int | None = None, **params):
    """The answer from the test client; with `buffer_bytes`, the endpoint's in-memory bound is changed for
    this request (and the cache emptied, so that the answer is computed)."""
    ep = app.extensions["sparql"]
    saved = ep.buffer_bytes
    if buffer_bytes is not None:
        ep.buffer_bytes = buffer_bytes
    ep.cache.responses.clear()
    try:
        r = app.test_client().get("/sparql", query_string={"query": query, **params}, headers={"Accept": accept})
        # (the test client's body is always an iterator: a streamed answer is the one without a length)
        r.had_length = "Content-Length" in r.headers
        r.was_streamed = not r.had_length
        body = r.get_data()
    finally:
        ep.buffer_bytes = saved
    return r, body


def parsed_graph(body: bytes, fmt: ox.RdfFormat) -> set:
    return {(q.subject, q.predicate, q.object) for q in ox.parse(body, format=fmt)}


def parsed_rows(body: bytes, fmt: ox.QueryResultsFormat) -> list:
    return [tuple(row[i] for i in range(3)) for row in ox.parse_query_results(body, format=fmt)]


# -- every format, streamed and whole ----------------------------------------------------------------------
@pytest.mark.parametrize("accept", list(SELECT_FORMATS))
def test_large_select_streams_and_equals_the_whole_answer(uncapped, accept):
    r, streamed = fetch(uncapped, SELECT_ALL, accept)
    assert r.status_code == 200 and r.was_streamed and not r.had_length
    assert len(streamed) > 1024 * 1024
    assert "X-KB-Truncated" not in r.headers and "Content-Encoding" not in r.headers
    whole_r, whole = fetch(uncapped, SELECT_ALL, accept, buffer_bytes=10**9)
    assert not whole_r.was_streamed and whole_r.had_length and int(whole_r.headers["Content-Length"]) == len(whole)
    assert r.headers["Content-Type"] == whole_r.headers["Content-Type"]
    assert streamed == whole
    if accept == "text/csv":  # CSV loses term types: count the lines
        assert len(streamed.decode().strip().splitlines()) == N + 1
    else:
        rows = parsed_rows(streamed, SELECT_FORMATS[accept])
        assert len(rows) == N and {str(row[2]) for row in rows} == {str(t.object) for t in triples()}


@pytest.mark.parametrize("accept", list(GRAPH_FORMATS))
def test_large_construct_streams_and_equals_the_whole_answer(uncapped, accept):
    r, streamed = fetch(uncapped, CONSTRUCT_ALL, accept)
    assert r.status_code == 200 and r.was_streamed and not r.had_length
    assert len(streamed) > 1024 * 1024
    whole_r, whole = fetch(uncapped, CONSTRUCT_ALL, accept, buffer_bytes=10**9)
    assert not whole_r.was_streamed
    assert streamed == whole
    assert parsed_graph(streamed, GRAPH_FORMATS[accept]) == {(t.subject, t.predicate, t.object) for t in triples()}


def test_small_answers_are_whole_and_cached_streamed_ones_never(uncapped):
    ep = uncapped.extensions["sparql"]
    ep.cache.responses.clear()
    client = uncapped.test_client()
    r = client.get("/sparql", query_string={"query": SMALL})
    assert "Content-Length" in r.headers and json.loads(r.data)["results"]["bindings"][0]["n"]["value"] == str(N // 10)
    hits = ep.cache.responses.hits
    assert client.get("/sparql", query_string={"query": SMALL}).data == r.data
    assert ep.cache.responses.hits == hits + 1
    for _ in range(2):
        r = client.get("/sparql", query_string={"query": CONSTRUCT_ALL}, headers={"Accept": "application/n-triples"})
        assert "Content-Length" not in r.headers and len(r.data) > 1024 * 1024
    assert ep.cache.responses.hits == hits + 1 and len(ep.cache.responses) == 1


def test_stream_bound_is_the_endpoints_setting(uncapped):
    """Any answer past the bound streams (here a few kilobytes), a smaller one does not."""
    query = f"SELECT ?s ?o WHERE {{ ?s <{EX}p3> ?o }} ORDER BY ?s LIMIT 40"
    r, streamed = fetch(uncapped, query, "application/sparql-results+json", buffer_bytes=2000)
    assert r.was_streamed and len(streamed) > 2000
    r2, whole = fetch(uncapped, query, "application/sparql-results+json", buffer_bytes=len(streamed))
    assert not r2.was_streamed and whole == streamed
    assert len(json.loads(streamed)["results"]["bindings"]) == 40


# -- the row cap, streamed ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cap,cut", [(N - 5000, True), (N, False), (N + 1, False)])
def test_row_cap_flags_exact_when_streamed(memory_store, cap, cut):
    app = memory_app(memory_store, max_rows=cap)
    r, body = fetch(app, SELECT_ALL, "application/sparql-results+json")
    assert r.was_streamed and r.status_code == 200
    data = json.loads(body)
    assert len(data["results"]["bindings"]) == min(cap, N)
    if cut:
        assert r.headers["X-KB-Truncated"] == "true" and r.headers["X-KB-Row-Limit"] == str(cap)
        assert data["x-kb"] == {"truncated": True, "limit": cap}
    else:
        assert "X-KB-Truncated" not in r.headers and "X-KB-Row-Limit" not in r.headers and "x-kb" not in data
    for accept, fmt in SELECT_FORMATS.items():
        if accept == "text/csv":
            continue
        r, body = fetch(app, SELECT_ALL, accept)
        assert r.was_streamed and len(parsed_rows(body, fmt)) == min(cap, N)
        assert (r.headers.get("X-KB-Truncated") == "true") is cut
    r, body = fetch(app, CONSTRUCT_ALL, "application/n-triples")
    assert r.was_streamed and len(parsed_graph(body, ox.RdfFormat.N_TRIPLES)) == min(cap, N)
    assert (r.headers.get("X-KB-Truncated") == "true") is cut
    if cut:
        assert r.headers["X-KB-Row-Limit"] == str(cap)


def test_capped_select_streams_the_same_terms_as_uncapped(memory_store, uncapped):
    """A capped answer is re-read from its rows (TSV) before it is written: the terms are the same."""
    capped = memory_app(memory_store, max_rows=N)
    for accept, fmt in SELECT_FORMATS.items():
        if accept == "text/csv":
            continue
        _, a = fetch(capped, SELECT_ALL, accept)
        _, b = fetch(uncapped, SELECT_ALL, accept)
        assert parsed_rows(a, fmt) == parsed_rows(b, fmt)


# -- real HTTP through the worker processes --------------------------------------------------------------
def raw_get(url: str, query: str, accept: str, **params):
    """A GET over http.client (the transfer as sent: chunked or not), returning the connection and response."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("GET", "/sparql?" + urllib.parse.urlencode({"query": query, **params}), headers={"Accept": accept})
    return conn, conn.getresponse()


def test_streamed_over_http_in_chunks_from_the_workers(disk_app, disk_server):
    pool = disk_app.extensions["sparql"].pool
    query = f"CONSTRUCT {{ ?s ?p ?o . ?s <{EX}copy> ?o }} WHERE {{ GRAPH <{EX}g> {{ ?s ?p ?o }} }}"
    conn, r = raw_get(disk_server.url, query, "application/n-triples")
    try:
        assert r.status == 200 and r.getheader("Transfer-Encoding") == "chunked"
        assert r.getheader("Content-Length") is None
        body = r.read()
    finally:
        conn.close()
    assert len(body) > 1024 * 1024
    got = parsed_graph(body, ox.RdfFormat.N_TRIPLES)
    assert len(got) == 6000
    # the same answer whole (the bound raised): equal bytes
    ep = disk_app.extensions["sparql"]
    ep.buffer_bytes = 10**9
    try:
        conn, whole = raw_get(disk_server.url, query, "application/n-triples")
        whole_body = whole.read()
        conn.close()
    finally:
        ep.buffer_bytes = 1024 * 1024
    assert whole.getheader("Transfer-Encoding") is None and whole.getheader("Content-Length") == str(len(body))
    assert whole_body == body
    assert len(pool.pids()) == 2


def test_first_chunk_arrives_long_before_the_whole_body(disk_app, disk_server):
    """An answer that would never end: the first chunk comes at once; the timeout (here the client's 4 s)
    still stops the worker mid-stream, and the client sees a cut transfer, not a complete answer."""
    pool = disk_app.extensions["sparql"].pool
    replaced = pool.replaced
    started = time.monotonic()
    with requests.get(disk_server.url + "/sparql", params={"query": ENDLESS, "timeout": str(TIMEOUT)},
                      headers={"Accept": "application/n-triples"}, stream=True, timeout=60) as r:
        assert r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked"
        chunks = r.iter_content(chunk_size=None)
        first = next(chunks)
        first_at = time.monotonic() - started
        assert first and first_at < TIMEOUT / 2
        received = len(first)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in chunks:
                received += len(chunk)
    elapsed = time.monotonic() - started
    assert TIMEOUT - 0.5 <= elapsed < TIMEOUT + SLACK
    assert received > 1024 * 1024
    assert pool.replaced == replaced + 1  # the stalled worker was killed ...
    assert pool.wait_started(60) and len(pool.pids()) == 2  # ... and replaced
    r = requests.get(disk_server.url + "/sparql", params={"query": SMALL}, timeout=30)
    assert r.status_code == 200 and json.loads(r.content)["results"]["bindings"][0]["n"]["value"] == "300"


def test_client_leaving_mid_stream_frees_its_worker(disk_app, disk_server):
    """More clients leave mid-stream than there are workers: each worker is told to stop and is idle again
    (none killed), and the next queries are served at once."""
    pool = disk_app.extensions["sparql"].pool
    assert pool.wait_started(60)
    pids, replaced = pool.pids(), pool.replaced
    for _ in range(len(pids) + 2):
        parts = urllib.parse.urlsplit(disk_server.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            target = "/sparql?" + urllib.parse.urlencode({"query": ENDLESS})
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: application/n-triples\r\n\r\n"
                         .encode())
            received = b""
            while len(received) < 200_000:
                data = sock.recv(65536)
                assert data, "the server closed the stream early"
                received += data
            assert received.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in received
        # the client is gone: the next writes fail, the WSGI server closes the body, the worker is told to stop
    started = time.monotonic()
    for i in range(4):
        r = requests.get(disk_server.url + "/sparql", params={"query": SMALL + f" # {i}"}, timeout=30)
        assert r.status_code == 200
    assert time.monotonic() - started < 10
    assert pool.replaced == replaced and pool.pids() == pids
    assert pool._idle.qsize() == len(pids)


def test_head_of_a_large_answer_frees_its_worker(disk_app):
    pool = disk_app.extensions["sparql"].pool
    pids, replaced = pool.pids(), pool.replaced
    client = disk_app.test_client()
    for _ in range(len(pids) + 1):
        r = client.head("/sparql", query_string={"query": ENDLESS})
        assert r.status_code == 200 and r.data == b""
    r = client.get("/sparql", query_string={"query": SMALL + " # head"})
    assert r.status_code == 200
    deadline = time.monotonic() + 10
    while pool._idle.qsize() < len(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool._idle.qsize() == len(pids) and pool.replaced == replaced


def test_unread_stream_through_the_test_client_frees_its_worker(disk_app):
    """A streamed body that is dropped unread (its Stream collected) still frees the worker."""
    pool = disk_app.extensions["sparql"].pool
    pids = pool.pids()
    client = disk_app.test_client()
    for _ in range(len(pids) + 1):
        r = client.get("/sparql", query_string={"query": ENDLESS})
        assert r.status_code == 200 and "Content-Length" not in r.headers
        r.close()
        del r
        gc.collect()
    r = client.get("/sparql", query_string={"query": SMALL + " # unread"})
    assert r.status_code == 200


# -- pyoxigraph result objects stay in the thread that made them ----------------------------------------
def test_result_objects_are_dropped_in_their_own_thread(memory_store):
    """pyoxigraph results are `unsendable`: dropped on another thread they make pyo3 complain (an
    'unraisable' error). A query the safety check parses (it names FROM or SERVICE) leaves rdflib parser
    garbage in reference cycles that reach the evaluating frame; collecting it on another thread must find
    no result object there."""
    app = memory_app(memory_store, max_rows=100)
    client = app.test_client()
    seen = []
    saved = sys.unraisablehook
    sys.unraisablehook = lambda u: seen.append(repr(u.exc_value))
    gc.collect()
    gc.disable()  # the cycles must survive until the other thread collects them
    try:
        for query in (f"SELECT * FROM <{EX}g> WHERE {{ ?s ?p ?o }}",
                      f"CONSTRUCT {{ ?s ?p ?o }} FROM <{EX}g> WHERE {{ ?s ?p ?o }}",
                      "SELECT * WHERE { ?s ?p ?o } # service",
                      f"ASK FROM <{EX}g> {{ ?s ?p ?o }}"):
            for accept in ("application/sparql-results+json", "text/turtle"):
                client.get("/sparql", query_string={"query": query}, headers={"Accept": accept}).get_data()
        collector = threading.Thread(target=gc.collect)
        collector.start()
        collector.join()
        gc.collect()
    finally:
        gc.enable()
        sys.unraisablehook = saved
    assert not [s for s in seen if "unsendable" in s], seen


def test_chunk_writer_patches_the_start_then_sends_chunks():
    from server.sparql.execution import Outcome
    from server.sparql.results import FORMATS, Prepared
    from server.sparql.streaming import CHUNK_BYTES, END, ChunkWriter

    sent = []
    head = Outcome(200, b"", streamed=True)
    prepared = Prepared("select", FORMATS[0], None, truncated=True, max_rows=7)
    writer = ChunkWriter(sent.append, head, 1000, prepared.cut_flag())
    row = b'{"s":{"type":"literal","value":"x"}}'
    body = b'{"head":{"vars":["s"]},"results":{"bindings":[' + b",".join([row] * 10_000) + b"]}}"
    writer.write(body[:10])  # not yet at "results": nothing may leave
    assert sent == []
    for i in range(10, len(body), 8192):
        writer.write(body[i:i + 8192])
    assert writer.finish() is None
    assert sent[0] is head and sent[-1] == END
    chunks = sent[1:-1]
    assert all(isinstance(c, bytes) and 0 < len(c) <= CHUNK_BYTES for c in chunks) and len(chunks) > 3
    data = b"".join(chunks)
    assert json.loads(data)["x-kb"] == {"truncated": True, "limit": 7}
    assert len(list(ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON))) == 10_000
    small = ChunkWriter(sent.append, head, 1000, None)
    small.write(b"abc")
    assert small.finish() == b"abc" and not small.streaming


def producer_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "thb-kb-sparql-query")


def test_in_process_producer_stops_when_the_client_leaves(uncapped):
    """In-memory store: the query runs in a producer thread of the serving process; a client that leaves
    mid-stream over real HTTP stops it (an endless answer would otherwise run for ever)."""
    server = LiveServer(uncapped)
    try:
        parts = urllib.parse.urlsplit(server.url)
        for _ in range(3):
            with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
                target = "/sparql?" + urllib.parse.urlencode({"query": ENDLESS})
                sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
                received = b""
                while len(received) < 300_000:
                    data = sock.recv(65536)
                    assert data
                    received += data
                assert b"Transfer-Encoding: chunked" in received
                assert producer_threads() >= 1  # while the client is still there (it stops once it left)
        deadline = time.monotonic() + 10
        while producer_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert producer_threads() == 0
        r = requests.get(server.url + "/sparql", params={"query": SMALL}, timeout=30)
        assert r.status_code == 200
    finally:
        server.stop()


def test_in_process_unread_stream_stops_its_producer(uncapped):
    client = uncapped.test_client()
    r = client.get("/sparql", query_string={"query": ENDLESS})
    assert r.status_code == 200 and "Content-Length" not in r.headers
    assert producer_threads() == 1
    r.close()
    del r
    gc.collect()
    deadline = time.monotonic() + 10
    while producer_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert producer_threads() == 0
