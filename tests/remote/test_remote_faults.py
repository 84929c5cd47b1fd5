"""Faults of the remote store: down at start, killed mid-run, slow, answering garbage. The store raises
StoreUnavailable within its timeout, the server answers 503 with a message (never a traceback, never
hangs), recovers when the store is back, and an interrupted bulk write leaves the target graph as it was."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pyoxigraph as ox
import pytest

from conftest import BASE, free_port, make_settings
from faultservers import MODES, FaultServer
from kb.store import StoreError, StoreUnavailable, open_store

TIMEOUT = 1.5
EX = "http://example.org/"
G = BASE + "graph/faults"


def triples(n: int, tag: str = "") -> list[ox.Triple]:
    return [ox.Triple(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), ox.Literal(f"{i}{tag}")) for i in range(n)]


def quads(ts, graph=G):
    return [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(graph)) for t in ts]


def remote_settings(url: str, **extra):
    return make_settings(store="sparql+" + url, remote_timeout=TIMEOUT, **extra)


@pytest.fixture(params=MODES)
def fault_server(request):
    server = FaultServer(request.param)
    yield server
    server.close()


def test_a_misbehaving_store_is_unavailable_within_the_timeout(fault_server):
    store = open_store(remote_settings(fault_server.url))
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        list(store.query("SELECT * WHERE { ?s ?p ?o }"))
    assert time.monotonic() - started < TIMEOUT + 2.0
    assert fault_server.url.split("/sparql")[0] in str(info.value)


def test_connection_refused_is_unavailable_at_once():
    url = f"http://127.0.0.1:{free_port()}/sparql"
    store = open_store(remote_settings(url))
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match="not reachable"):
        store.version()
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("path", ["/healthz", "/sparql?query=ASK%7B%7D", "/", "/id/agency/europol", "/.well-known/void"])
def test_the_server_answers_503_with_a_message(fault_server, path):
    from server import create_app

    app = create_app(remote_settings(fault_server.url), load_if_empty=True)  # store broken at start too
    started = time.monotonic()
    resp = app.test_client().get(path, headers={"Accept": "text/plain, application/json;q=0.9, */*;q=0.1"})
    assert time.monotonic() - started < 2 * TIMEOUT + 3.0
    assert resp.status_code == 503, resp.get_data(as_text=True)[:500]
    body = resp.get_data(as_text=True)
    assert "store" in body.lower() and "Traceback" not in body  # says what is wrong


@pytest.fixture(scope="module")
def faulty_virtuoso(virtuoso_factory):
    """A Virtuoso of its own: these tests kill and restart it."""
    server = virtuoso_factory("faults")
    yield server
    server.start()  # leave it running for the session's teardown


def test_server_recovers_when_virtuoso_is_killed_and_restarted(faulty_virtuoso):
    from server import create_app

    store = faulty_virtuoso.empty_store()
    store.replace_graph(G, triples(3))
    app = create_app(faulty_virtuoso.settings(remote_timeout=TIMEOUT), load_if_empty=False)
    client = app.test_client()
    ask = "/sparql?" + urlencode({"query": f"ASK {{ <{EX}s1> ?p ?o }}"})
    assert client.get(ask, headers={"Accept": "application/sparql-results+json"}).status_code == 200
    faulty_virtuoso.kill()
    try:
        started = time.monotonic()
        for path in (ask, "/healthz", "/"):
            resp = client.get(path, headers={"Accept": "application/sparql-results+json, */*;q=0.1"})
            assert resp.status_code == 503, (path, resp.get_data(as_text=True)[:300])
            assert "Traceback" not in resp.get_data(as_text=True)
        assert time.monotonic() - started < 3 * TIMEOUT
    finally:
        faulty_virtuoso.start()
    resp = client.get(ask, headers={"Accept": "application/sparql-results+json"})
    assert resp.status_code == 200 and resp.get_json()["boolean"] is True
    assert client.get("/healthz").status_code == 200


def test_server_starts_while_virtuoso_is_down_and_recovers(faulty_virtuoso):
    from server import create_app

    faulty_virtuoso.empty_store().replace_graph(G, triples(2))
    faulty_virtuoso.stop()
    try:
        app = create_app(faulty_virtuoso.settings(remote_timeout=TIMEOUT), load_if_empty=True)
        assert app.test_client().get("/healthz").status_code == 503
    finally:
        faulty_virtuoso.start()
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["status"] == "ok"
    assert app.extensions["kb"].store.count(G) == 2  # nothing was loaded over it


def test_interrupted_bulk_write_leaves_the_graph_as_it_was_and_is_cleaned_up(faulty_virtuoso):
    from kb.store import remote

    store = faulty_virtuoso.empty_store()
    before = store.replace_graph(G, triples(5, "-old"))
    messages: list[str] = []

    def crash_after_first_chunk(message: str) -> None:
        messages.append(message)
        if message.startswith("staged") and len(messages) == 1:
            faulty_virtuoso.kill()

    big = quads(triples(remote.CHUNK * 2 + 10, "-new"))
    try:
        with pytest.raises(StoreError):
            store.apply(drop=[G], insert=big, progress=crash_after_first_chunk)
    finally:
        faulty_virtuoso.start()
    assert messages[0] == f"staged {remote.CHUNK}/{len(big)} triples"
    assert store.version() == before
    assert store.count(G) == 5
    assert {t.object.value for t in store.triples(G)} == {f"{i}-old" for i in range(5)}
    assert store.staging_graphs(), "the first chunk was committed to a staging graph before the crash"
    assert G in store.graphs() and not any("staging" in g for g in store.graphs())
    # A writer whose lease is short (remote_timeout 1 s: lease 4 s) cleans the leftovers on its next write.
    cleaner = faulty_virtuoso.open_store(remote_timeout=1.0)
    time.sleep(4.5)
    cleaner.add_to_graph(G, triples(1, "-after"))
    assert cleaner.staging_graphs() == []
    assert cleaner.count(G) == 6


def test_bulk_write_commits_in_one_step_with_progress(faulty_virtuoso):
    from kb.store import remote

    store = faulty_virtuoso.empty_store()
    store.replace_graph(G, triples(5, "-old"))
    messages: list[str] = []
    seen_during: list[int] = []

    def watch(message: str) -> None:
        messages.append(message)
        seen_during.append(store.count(G))  # what readers see while the write goes on

    big = quads(triples(remote.CHUNK + 500, "-new")) + [
        ox.Quad(ox.BlankNode("a"), ox.NamedNode(EX + "p"), ox.BlankNode("b"), ox.NamedNode(G)),
        ox.Quad(ox.BlankNode("b"), ox.NamedNode(EX + "p"), ox.Literal("leaf"), ox.NamedNode(G))]
    version = store.apply(drop=[G], insert=big, progress=watch)
    assert [m.split()[0] for m in messages] == ["staged", "staged", "committed"]
    assert set(seen_during[:2]) == {5}  # the old graph, whole, until the commit
    assert store.count(G) == len(big) and store.version() == version
    rows = list(store.query(f"SELECT ?leaf WHERE {{ ?a <{EX}p> ?b . ?b <{EX}p> ?leaf }}"))
    assert [r["leaf"].value for r in rows] == ["leaf"]  # the blank nodes stayed one structure
    assert store.staging_graphs() == []


@pytest.mark.parametrize("args", [["stats"], ["query", "ASK {}"], ["export"], ["load"]])
def test_the_cli_says_the_store_is_down_without_a_traceback(args, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "KB_STORE": f"sparql+http://127.0.0.1:{free_port()}/sparql", "KB_REMOTE_TIMEOUT": "2"}
    kb = str(Path(sys.executable).with_name("kb"))
    proc = subprocess.run([kb, *args], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-1000:]
    assert "not reachable" in proc.stderr and "Traceback" not in proc.stderr
