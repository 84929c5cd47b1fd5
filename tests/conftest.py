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


STORE_KINDS = ("oxigraph", "virtuoso")
VIRTUOSO_SCRIPT = ROOT / "scripts" / "virtuoso.sh"


class Virtuoso:
    """A throwaway Virtuoso on loopback, run by scripts/virtuoso.sh; tests may stop, kill and restart it."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None):
        self.folder = folder
        self.extra_env = env or {}
        self.http_port = free_port()
        self.sql_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}/sparql"
        self.update_url = f"http://127.0.0.1:{self.http_port}/sparql-auth"

    def _script(self, *args: str, timeout: float = 180) -> str:
        import subprocess

        proc = subprocess.run(["bash", str(VIRTUOSO_SCRIPT), *args], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT, env={**os.environ, **self.extra_env})
        if proc.returncode != 0:
            raise RuntimeError(f"scripts/virtuoso.sh {' '.join(args)} failed: {proc.stderr[-2000:]}")
        return proc.stdout.strip()

    def start(self) -> "Virtuoso":
        self.url = self._script("start", str(self.http_port), str(self.sql_port), str(self.folder))
        return self

    def stop(self) -> None:
        self._script("stop", str(self.folder))

    def kill(self) -> None:
        """SIGKILL: the store crashes."""
        self._script("kill", str(self.folder))

    @property
    def store_setting(self) -> str:
        return "sparql+" + self.url

    def settings(self, **overrides):
        values = dict(store=self.store_setting, sparql_update_url=self.update_url, sparql_user="kb",
                      sparql_password="kb-secret", remote_timeout=20.0)
        values.update(overrides)
        return make_settings(**values)

    def env(self, **extra: str) -> dict[str, str]:
        """KB_* environment variables that point a `kb` process at this Virtuoso."""
        return {"KB_STORE": self.store_setting, "KB_SPARQL_UPDATE_URL": self.update_url, "KB_SPARQL_USER": "kb",
                "KB_SPARQL_PASSWORD": "kb-secret", "KB_BASE_IRI": BASE, **extra}

    def open_store(self, **overrides):
        from kb.store import open_store

        return open_store(self.settings(**overrides))

    def empty_store(self, **overrides):
        """A store on this Virtuoso with the KB emptied first (graphs of other KBs/the engine stay)."""
        store = self.open_store(**overrides)
        store.reset()
        return store


@pytest.fixture(scope="session")
def virtuoso_factory(tmp_path_factory):
    """Start throwaway Virtuoso servers on loopback: `virtuoso_factory("name")` (stopped at session end).
    Without Virtuoso the test skips locally and FAILS with CI=true."""
    require(shutil.which("virtuoso-t") is not None or Path("/usr/bin/virtuoso-t").exists(),
            "Virtuoso (`virtuoso-t`, Debian package virtuoso-opensource)")
    started: dict[str, Virtuoso] = {}

    def make(name: str = "default", **env: str) -> Virtuoso:
        """The Virtuoso called `name` (started on first use; `env`: VIRTUOSO_* variables of the script)."""
        if name not in started:
            started[name] = Virtuoso(tmp_path_factory.mktemp(f"virtuoso-{name}"), env).start()
        return started[name]

    yield make
    for server in started.values():
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass


@pytest.fixture(scope="session")
def virtuoso(virtuoso_factory):
    """The session's shared Virtuoso for stores tests write to (`fresh_store`); tests must not stop it."""
    return virtuoso_factory("scratch")


@pytest.fixture(scope="session", params=STORE_KINDS)
def store_kind(request):
    """Which store implementation the store-backed fixtures use: the same tests run on both."""
    return request.param


def pytest_collection_modifyitems(config, items):
    """Tests marked `oxigraph_only` (they use Oxigraph internals such as `.raw`) run on that store only
    (KB_TEST_IGNORE_OXIGRAPH_ONLY=1 runs them on Virtuoso too, to check whether the mark is still needed)."""
    keep, drop = [], []
    for item in items:
        kind = getattr(item, "callspec", None) and item.callspec.params.get("store_kind")
        if kind == "virtuoso" and item.get_closest_marker("oxigraph_only") and not os.environ.get("KB_TEST_IGNORE_OXIGRAPH_ONLY"):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config):
    config.addinivalue_line("markers", "oxigraph_only: runs only with the embedded Oxigraph store "
                                       "(deselected from the virtuoso parametrisation)")


def store_settings(request, kind: str, **overrides):
    """Settings for a store of `kind`: in-memory Oxigraph, or the curated/scratch Virtuoso."""
    if kind == "virtuoso":
        return request.getfixturevalue("virtuoso_factory")("curated").settings(**overrides)
    return make_settings(**overrides)


@pytest.fixture(scope="session")
def curated_store(request, store_kind):
    """A store holding the curated KB (built once per store kind; tests must not write to it): in-memory
    Oxigraph, or a Virtuoso of its own."""
    from kb import curated
    from kb.store import open_store

    store = open_store(store_settings(request, store_kind))
    if store_kind == "virtuoso":
        store.reset()
    report = curated.build(store)
    assert report is None, report.text()
    return store


@pytest.fixture()
def fresh_store(request, store_kind):
    """An empty store a test may write to: in-memory Oxigraph, or the KB emptied on the scratch Virtuoso."""
    from kb.store import open_store

    if store_kind == "virtuoso":
        return request.getfixturevalue("virtuoso").empty_store()
    return open_store(make_settings())


@pytest.fixture(scope="session")
def app(request, store_kind, curated_store):
    from server import create_app

    application = create_app(store_settings(request, store_kind), store=curated_store, load_if_empty=False)
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
def metadata_store(request, store_kind):
    """A fresh store (in-memory Oxigraph, or the KB emptied on the scratch Virtuoso) holding
    tests/server/metadata_fixture.ttl in graph/fixture, with the convention's triples also in graph/extra
    (so a triple sits in two graphs). Tests may write to it."""
    import pyoxigraph as ox

    from kb.store import open_store

    if store_kind == "virtuoso":
        store = request.getfixturevalue("virtuoso").empty_store()
    else:
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
