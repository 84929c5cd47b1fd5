"""Apps over on-disk stores whose entity documents are built by the SPARQL worker processes
(`server.docworkers`), for the document worker tests."""

from __future__ import annotations

import time
from pathlib import Path

import pyoxigraph as ox

from conftest import BASE, make_settings

THB = "https://w3id.org/thb-kb/def#"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
HUB = BASE + "id/agency/hub"


def disk_app(path: Path, quads, **settings):
    """An app over a new on-disk store at `path` holding `quads`, with document workers on (as
    `kb serve --gunicorn` starts them: server.wsgi.warm_up), once its two workers have started."""
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore
    from server import create_app
    from server.wsgi import warm_up

    store = OxigraphStore(Iris(BASE), path)
    store.apply(insert=list(quads))
    app = create_app(make_settings(store=str(path), sparql_workers=2, **settings), store=store, load_if_empty=False)
    app.testing = True
    warm_up(app)
    wait_idle(app.extensions["sparql"].pool)
    return app


def wait_idle(pool, timeout: float = 60.0) -> None:
    """Until every worker has started and is idle."""
    assert pool.wait_started(timeout)
    deadline = time.monotonic() + timeout
    while pool._idle.qsize() < pool.size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool._idle.qsize() == pool.size


def close(app) -> None:
    app.extensions["sparql"].close()
    app.extensions["kb"].store.close()


def hub_quads(n: int) -> list[ox.Quad]:
    """An agency that organised `n` labelled events: its document lists them all when the page is big."""
    g = ox.NamedNode(BASE + "graph/hub")
    a = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    hub = ox.NamedNode(HUB)
    quads = [ox.Quad(hub, a, ox.NamedNode(THB + "Agency"), g),
             ox.Quad(hub, ox.NamedNode(RDFS_LABEL), ox.Literal("Hub agency", language="en"), g)]
    for i in range(n):
        e = ox.NamedNode(f"{BASE}id/event/hub-event-{i}")
        quads += [ox.Quad(e, ox.NamedNode(THB + "organiser"), hub, g),
                  ox.Quad(e, ox.NamedNode(RDFS_LABEL), ox.Literal(f"Event {i}", language="en"), g)]
    return quads


def busy_worker(pool, timeout: float = 30.0):
    """The worker that has just taken a job (the others are idle)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        idle = list(pool._idle.queue)
        busy = [w for w in list(pool._all) if w not in idle]
        if busy:
            return busy[0]
        time.sleep(0.005)
    raise AssertionError("no worker took the job")


def without_workers(app):
    """The same app building its documents in-process, with an empty document cache (a context manager)."""
    from contextlib import contextmanager

    from server import docworkers

    @contextmanager
    def local():
        clear_cache(app)
        app.extensions[docworkers.ENABLED] = False
        try:
            yield
        finally:
            app.extensions[docworkers.ENABLED] = True
            clear_cache(app)

    return local()


def clear_cache(app) -> None:
    state = app.extensions.get("kb.ld")
    if state is not None:
        state["cache"].clear()


def another_request_in_flight(app):
    """As if another /doc/ request were being answered meanwhile (a lone request is built in-process): a
    context manager."""
    from contextlib import contextmanager

    @contextmanager
    def busy():
        front = app.extensions["kb.fastpath"]
        with front._lock:
            front.in_flight += 1
        try:
            yield
        finally:
            with front._lock:
                front.in_flight -= 1

    return busy()
