"""The query workers' in-memory copies of the KB (KB_QUERY_REPLICA, server.sparql.replica): once loaded they
answer, with the same answers as the store on disk; a write is seen at once (from disk) and then from a
new copy; a KB above the setting is never copied."""

from __future__ import annotations

import json
import time

import pyoxigraph as ox
import pytest

from conftest import BASE, make_settings

EX = "http://example.org/"
N = 2000
ROWS = f"SELECT ?s ?o WHERE {{ ?s <{EX}p1> ?o }} ORDER BY ?s"
COUNT = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{EX}p0> ?o }}"


def _app(tmp_path, replica: int, **settings):
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore
    from server import create_app

    store = OxigraphStore(Iris(BASE), tmp_path / "store")
    store.replace_graph(EX + "g", [ox.Triple(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p{i % 10}"),
                                             ox.Literal(str(i))) for i in range(N)])
    settings = {"query_memory": 2048, **settings}
    app = create_app(make_settings(store=str(tmp_path / "store"), sparql_workers=2, query_replica=replica,
                                   **settings), store=store, load_if_empty=False)
    return app, store


def ask(app, query):
    r = app.test_client().post("/sparql", data={"query": f"{query}\n# {time.time()}"},
                               headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.get_data(as_text=True)
    return json.loads(r.data)["results"]["bindings"], "memory" in (r.headers.get("Server-Timing") or "")


def from_memory(app, query, within: float = 60.0, in_a_row: int = 4):
    """Ask until `in_a_row` answers in a row (both workers) came from the in-memory copies."""
    deadline, seen = time.monotonic() + within, 0
    while time.monotonic() < deadline:
        rows, memory = ask(app, query)
        seen = seen + 1 if memory else 0
        if seen >= in_a_row:
            return rows
        time.sleep(0.05 if memory else 0.3)
    pytest.fail(f"the workers did not answer from their in-memory copies within {within} s")


@pytest.fixture
def replica_app(tmp_path):
    app, store = _app(tmp_path, 100_000)
    yield app, store
    app.extensions["sparql"].close()
    store.close()


def test_workers_answer_from_their_copies_what_the_disk_store_answers(replica_app):
    app, store = replica_app
    first, memory = ask(app, ROWS)  # the first answers come from the checkpoint on disk
    assert not memory and len(first) == N // 10
    assert from_memory(app, ROWS) == first
    direct = [{"s": r["s"].value, "o": r["o"].value} for r in store.query(ROWS)]
    assert [{"s": b["s"]["value"], "o": b["o"]["value"]} for b in first] == direct


def test_a_write_is_seen_at_once_and_then_from_a_new_copy(replica_app):
    app, store = replica_app
    from_memory(app, COUNT)
    store.add_to_graph(EX + "g", [ox.Triple(ox.NamedNode(EX + "new"), ox.NamedNode(EX + "p0"), ox.Literal("x"))])
    rows, memory = ask(app, COUNT)
    assert int(rows[0]["n"]["value"]) == N // 10 + 1  # the next answer already holds the write
    assert not memory  # from the new checkpoint on disk: the old copy is never used for the new version
    rows = from_memory(app, COUNT)
    assert int(rows[0]["n"]["value"]) == N // 10 + 1


def test_a_kb_above_the_setting_is_not_copied(tmp_path):
    app, store = _app(tmp_path, N // 2)
    try:
        for _ in range(12):  # well past the time a copy of this KB takes
            rows, memory = ask(app, COUNT)
            assert int(rows[0]["n"]["value"]) == N // 10 and not memory
            time.sleep(0.25)
    finally:
        app.extensions["sparql"].close()
        store.close()


def test_a_copy_keeps_the_blank_nodes_identifiers(tmp_path):
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore
    from server import create_app

    store = OxigraphStore(Iris(BASE), tmp_path / "store")
    node = ox.BlankNode()
    store.replace_graph(EX + "g", [ox.Triple(ox.NamedNode(EX + "a"), ox.NamedNode(EX + "has"), node),
                                   ox.Triple(node, ox.NamedNode(EX + "p0"), ox.Literal("x"))])
    app = create_app(make_settings(store=str(tmp_path / "store"), sparql_workers=2, query_replica=100),
                     store=store, load_if_empty=False)
    try:
        query = f"SELECT ?b WHERE {{ <{EX}a> <{EX}has> ?b }}"
        on_disk, memory = ask(app, query)
        assert not memory and on_disk[0]["b"]["type"] == "bnode"
        assert from_memory(app, query) == on_disk  # the same label: a parser would have named it anew
    finally:
        app.extensions["sparql"].close()
        store.close()


def test_the_memory_limit_is_not_applied_to_a_worker_loading_its_copy(tmp_path):
    """KB_QUERY_MEMORY counts what a query adds to its worker; while the worker loads a copy (its marker
    file exists) the growth is the copy's and the query is not stopped for it (its time limit still is)."""
    from server.sparql.replica import loading_marker

    app, store = _app(tmp_path, 0, query_memory=200, query_timeout=6)
    try:
        pool = app.extensions["sparql"].pool
        assert pool.wait_started(60)
        heavy = "SELECT (COUNT(*) AS ?n) { SELECT DISTINCT ?a ?d ?g ?c { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } }"
        client = app.test_client()
        stopped = client.post("/sparql", data={"query": heavy})
        assert stopped.status_code == 503 and "MiB of memory" in stopped.get_data(as_text=True)
        assert pool.wait_started(60)
        for pid in pool.pids():
            loading_marker(pool.root, pid).touch()
        try:
            r = client.post("/sparql", data={"query": heavy + " # while loading"})
            text = r.get_data(as_text=True)
            assert r.status_code == 503 and "longer than" in text and "MiB" not in text
        finally:
            for pid in pool.pids():
                loading_marker(pool.root, pid).unlink(missing_ok=True)
    finally:
        app.extensions["sparql"].close()
        store.close()
