"""Shared fixtures: settings, stores, the app, a real HTTP server on loopback, and integration guards."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"
BASE = "https://w3id.org/thb-kb/"


def require(condition: bool, what: str) -> None:
    """Skip when a real integration component is missing, except in CI where that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing, and CI=true forbids skipping integration tests")
    pytest.skip(f"{what} is missing (scripts/install-system.sh installs it)")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"`{name}`")
    return path  # type: ignore[return-value]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    require(SHARED.is_dir(), f"the shared folder {SHARED}")
    return SHARED


def make_settings(**overrides):
    from kb import settings

    values = {"store": "memory", "base_iri": BASE, "rate_limit": 0}
    values.update(overrides)
    return settings.load(values, environ={})


@pytest.fixture(scope="session")
def curated_store():
    """An in-memory store holding the curated KB (built once; tests must not write to it)."""
    from kb import curated
    from kb.store import open_store

    store = open_store(make_settings())
    report = curated.build(store)
    assert report is None, report.text()
    return store


@pytest.fixture()
def fresh_store():
    """An empty in-memory store a test may write to."""
    from kb.store import open_store

    return open_store(make_settings())


@pytest.fixture(scope="session")
def app(curated_store):
    from server import create_app

    application = create_app(make_settings(), store=curated_store, load_if_empty=False)
    application.testing = True
    return application


@pytest.fixture()
def client(app):
    return app.test_client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real HTTP server on loopback, in a thread of the test process."""

    def __init__(self, application):
        from werkzeug.serving import make_server

        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, application, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture(scope="session")
def live_server(app):
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture()
def metadata_store():
    """A fresh in-memory store holding tests/server/metadata_fixture.ttl in graph/fixture, with the
    convention's triples also in graph/extra (so a triple sits in two graphs). Tests may write to it."""
    import pyoxigraph as ox

    from kb.store import open_store

    store = open_store(make_settings())
    triples = [q.triple for q in ox.parse(path=str(ROOT / "tests/server/metadata_fixture.ttl"))]
    store.replace_graph(BASE + "graph/fixture", triples)
    store.replace_graph(BASE + "graph/extra", [t for t in triples if "convention/" in t.subject.value])
    return store


@pytest.fixture()
def metadata_app(metadata_store):
    """An app over `metadata_store` (its own metrics registry and caches)."""
    from server import create_app

    application = create_app(make_settings(), store=metadata_store, load_if_empty=False)
    application.testing = True
    return application
