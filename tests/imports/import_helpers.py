"""Helpers of the import tests: stores holding a small conformant KB, a checksum of a whole store, an app
with a write token, a real loopback server, and a listener that records connection attempts."""

from __future__ import annotations

import hashlib
import socket
import threading
from pathlib import Path

import pyoxigraph as ox
import pytest

from conftest import BASE, LiveServer, make_settings

DATA = Path(__file__).parent / "data"
TOKEN = "test-write-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
G = BASE + "graph/"


def import_settings(**overrides):
    values = {"write_token": TOKEN, "validation_timeout": 0, "write_lock_timeout": 5}
    values.update(overrides)
    return make_settings(**values)


def checksum(store) -> tuple[int, str]:
    """(number of quads, SHA-256 of the sorted N-Quads dump): equal iff the stores hold the same quads."""
    lines = sorted(str(q) + " ." for q in store.quads())
    return len(lines), hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def base_store(settings=None):
    """An in-memory store with tests/imports/data/base.ttl imported into graph/base (through the pipeline)."""
    from kb.importer import Importer, Source
    from kb.store import open_store

    settings = settings or import_settings()
    store = open_store(settings)
    Importer(store, settings).import_sources([Source.from_file(DATA / "base.ttl")], graph=G + "base")
    return store


def kind_settings(request, store_kind, **overrides):
    """import_settings() for the store kind under test: in-memory Oxigraph, or the session's scratch Virtuoso
    (tests/conftest.py); the same import tests run against both stores (issue 7)."""
    if store_kind == "virtuoso":
        values = {"write_token": TOKEN, "validation_timeout": 0, "write_lock_timeout": 5}
        values.update(overrides)
        return request.getfixturevalue("virtuoso").settings(**values)
    return import_settings(**overrides)


@pytest.fixture()
def kbstore(request, store_kind):
    """A store holding tests/imports/data/base.ttl in graph/base: in-memory Oxigraph, or the KB emptied on the
    scratch Virtuoso."""
    if store_kind == "virtuoso":
        from kb.importer import Importer, Source

        store = request.getfixturevalue("virtuoso").empty_store()
        Importer(store, import_settings()).import_sources([Source.from_file(DATA / "base.ttl")], graph=G + "base")
        return store
    return base_store()


@pytest.fixture()
def gsp_app(request, store_kind, kbstore):
    from server import create_app

    app = create_app(kind_settings(request, store_kind), store=kbstore, load_if_empty=False)
    app.testing = True
    return app


@pytest.fixture()
def gsp(gsp_app):
    return gsp_app.test_client()


@pytest.fixture()
def gsp_server(gsp_app):
    server = LiveServer(gsp_app)
    yield server
    server.stop()


class Listener:
    """A TCP listener on loopback that counts connection attempts (an outbound request would show here)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.hits += 1
            conn.close()

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture()
def listener():
    lst = Listener()
    yield lst
    lst.close()


def agency_ttl(slug: str, *, label: str | None = None, extra: str = "") -> str:
    label = label or slug.title()
    return f"""
<{BASE}id/agency/{slug}> a <https://w3id.org/thb-kb/def#Agency> ;
    <http://www.w3.org/2000/01/rdf-schema#label> "{label}"@en ;
    <http://www.w3.org/2004/02/skos/core#prefLabel> "{label}"@en ;
    <http://purl.org/dc/terms/description> "An agency for the tests."@en ;
    <http://www.w3.org/ns/org#classification> <{BASE}id/concept/agency-type/police> ;
    <http://purl.org/dc/terms/source> <{BASE}id/document/europol-report-2020> ;
    <http://www.w3.org/ns/prov#wasDerivedFrom> <{BASE}id/document/europol-report-2020> {extra}.
"""


def quads_of(store, graph: str) -> set:
    return set(store.triples(graph))


__all__ = ["AUTH", "BASE", "DATA", "G", "TOKEN", "Listener", "agency_ttl", "base_store", "checksum", "import_settings",
           "kind_settings", "quads_of",
           "kbstore", "gsp_app", "gsp", "gsp_server", "listener", "ox"]
