"""Start-up of the server over the on-disk store: `server.wsgi.warm_up` (what gunicorn runs after creating the
app) starts the SPARQL query workers and the store's checkpoint in the background, before any query; an app
created without it starts nothing until the first query."""

from __future__ import annotations

import time

import pyoxigraph as ox

from conftest import BASE, make_settings

EX = "http://example.org/"


def _disk_app(tmp_path):
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore
    from server import create_app

    store = OxigraphStore(Iris(BASE), tmp_path / "store")
    store.replace_graph(EX + "g", [ox.Triple(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), ox.Literal(str(i)))
                                   for i in range(100)])
    app = create_app(make_settings(store=str(tmp_path / "store"), sparql_workers=1), store=store,
                     load_if_empty=False)
    return app, store


def test_warm_up_starts_the_workers_and_the_checkpoint_before_any_query(tmp_path):
    from server.wsgi import warm_up

    app, store = _disk_app(tmp_path)
    endpoint = app.extensions["sparql"]
    try:
        assert endpoint._pool is None  # created lazily: nothing runs for an app that is never served
        warm_up(app)
        deadline = time.monotonic() + 60
        while endpoint._pool is None and time.monotonic() < deadline:
            time.sleep(0.02)
        pool = endpoint._pool
        assert pool is not None and pool.wait_started(60)
        while pool._checkpoint is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pool._checkpoint is not None and pool._checkpoint[0] == store.version()
        checkpoints = sorted(p.name for p in pool.root.iterdir())
        r = app.test_client().post("/sparql", data={"query": f"SELECT (COUNT(*) AS ?n) {{ ?s <{EX}p> ?o }}"},
                                   headers={"Accept": "application/sparql-results+json"})
        assert r.status_code == 200 and r.get_json()["results"]["bindings"][0]["n"]["value"] == "100"
        assert sorted(p.name for p in pool.root.iterdir()) == checkpoints  # the query used the warm checkpoint
    finally:
        endpoint.close()
        store.close()


def test_warm_up_leaves_an_in_memory_store_alone():
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore
    from server import create_app
    from server.wsgi import warm_up

    app = create_app(make_settings(), store=OxigraphStore(Iris(BASE)), load_if_empty=False)
    warm_up(app)
    assert app.extensions["sparql"].pool is None  # queries run in threads: no workers to start
