"""/healthz answers at once while the store's triples are still being counted (a full scan: seconds on a large
store), reports the count when it is known, and counts again after a write; the embedded store's whole-store
count is kept until the next write and leaves the default graph out."""

from __future__ import annotations

import threading
import time

import pyoxigraph as ox

from conftest import BASE, make_settings
from kb.namespaces import Iris
from kb.store.oxigraph import OxigraphStore

EX = "http://example.org/"


class SlowCountStore(OxigraphStore):
    """A real in-memory store whose whole-store count waits until `release` is set (a large store's scan)."""

    def __init__(self, iris):
        super().__init__(iris)
        self.release = threading.Event()
        self.counts = 0

    def count(self, graph=None):
        if graph is None:
            self.counts += 1
            self.release.wait(30)
        return super().count(graph)


def _triple(i: int) -> ox.Quad:
    return ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), ox.Literal(str(i)), ox.NamedNode(EX + "g"))


def _health_until_counted(client, deadline: float = 10.0) -> dict:
    end = time.monotonic() + deadline
    while True:
        data = client.get("/healthz").get_json()
        if data["triples"] is not None or time.monotonic() > end:
            return data
        time.sleep(0.02)


def test_healthz_answers_while_the_count_runs_then_reports_it():
    from server import create_app

    store = SlowCountStore(Iris(BASE))
    store.apply(insert=[_triple(i) for i in range(5)])
    app = create_app(make_settings(), store=store, load_if_empty=False)
    client = app.test_client()
    try:
        resp = client.get("/healthz")
        assert resp.status_code == 200
        data = resp.get_json()
        assert data["status"] == "ok" and data["version"] == store.version()
        assert data["triples"] is None and data["counting"] is True
        assert client.get("/healthz").get_json()["triples"] is None
        assert store.counts == 1  # one count runs, however many health checks come meanwhile
    finally:
        store.release.set()
    data = _health_until_counted(client)
    assert data["counting"] is False and data["triples"] == OxigraphStore.count(store)
    n = data["triples"]
    store.apply(insert=[_triple(100)])  # a write: a new version, counted again
    data = _health_until_counted(client)
    assert data["version"] == store.version() and data["triples"] == n + 1
    assert store.counts == 2


def test_store_count_leaves_out_the_default_graph_and_follows_writes():
    store = OxigraphStore(Iris(BASE))
    store.apply(insert=[_triple(i) for i in range(3)])
    n = store.count()
    named = sum(1 for _ in store.raw.quads_for_pattern(None, None, None, None)
                if not isinstance(_.graph_name, ox.DefaultGraph))
    assert n == named  # the version triple in the meta graph included
    store.raw.add(ox.Quad(ox.NamedNode(EX + "x"), ox.NamedNode(EX + "p"), ox.Literal("d"), ox.DefaultGraph()))
    assert store.count() == n  # cached until the next write; and the default graph is never counted
    store.apply(insert=[_triple(10), _triple(11)])
    assert store.count() == n + 2
    assert store.count(EX + "g") == 5
