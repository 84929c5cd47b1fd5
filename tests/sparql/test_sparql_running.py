"""The running-queries admin API (`/sparql/queries`): a running query is listed with its worker, an
administrator stops it with DELETE (its client gets 503 at once, the worker is killed and replaced, the
next query is served), a query still waiting for a worker never runs, the remote store's query connection
is cut, the in-memory store answers 409, and every route needs the token."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph as ox
import pytest

from conftest import BASE, make_settings

EX = "http://example.org/"
TOKEN = "admin-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SIMPLE = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{EX}p0> ?o }}"
TIMEOUT = 60.0  # far longer than a test waits: a 503 within seconds was the administrator's doing


def _triples(n: int):
    return [ox.Triple(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p{i % 10}"), ox.Literal(str(i)))
            for i in range(n)]


@pytest.fixture(scope="module")
def disk_app(tmp_path_factory):
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore
    from server import create_app

    path = tmp_path_factory.mktemp("running") / "store"
    store = OxigraphStore(Iris(BASE), path)
    store.replace_graph(EX + "g", _triples(3000))
    app = create_app(make_settings(store=str(path), query_timeout=TIMEOUT, sparql_workers=2, write_token=TOKEN,
                                   max_rows=0),
                     store=store, load_if_empty=False)
    yield app
    app.extensions["sparql"].close()
    store.close()


def ask(app, query):
    started = time.monotonic()
    r = app.test_client().post("/sparql", data={"query": query})
    return r, time.monotonic() - started


def listing(app, **headers):
    r = app.test_client().get("/sparql/queries", headers={**AUTH, **headers})
    assert r.status_code == 200, r.data
    return json.loads(r.data)["queries"]


def wait_listed(app, count: int, state: str | None = None, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queries = listing(app)
        if len([q for q in queries if state is None or q["state"] == state]) >= count:
            return queries
        time.sleep(0.05)
    raise AssertionError(f"never saw {count} queries {state or ''}: {listing(app)}")


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie until its parent reaps it
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"
    except OSError:
        return True


def test_a_running_query_is_listed_and_stopped(disk_app):
    assert ask(disk_app, SIMPLE)[0].status_code == 200
    pool = disk_app.extensions["sparql"].pool
    assert pool.wait_started(60)
    replaced = pool.replaced
    with ThreadPoolExecutor(1) as executor:
        slow = executor.submit(ask, disk_app, CARTESIAN)
        [entry] = wait_listed(disk_app, 1, "running")
        assert entry["query"] == CARTESIAN and entry["cancellable"] is True
        assert entry["timeout_s"] == TIMEOUT and entry["elapsed_s"] >= 0
        pid = entry["worker_pid"]
        assert pid in pool.pids() and pid != os.getpid()
        metrics = disk_app.test_client().get("/metrics").get_data(as_text=True)
        assert "thb_kb_sparql_running_queries 1.0" in metrics
        one = disk_app.test_client().get(f"/sparql/queries/{entry['id']}", headers=AUTH)
        assert one.status_code == 200 and json.loads(one.data)["worker_pid"] == pid

        stopped = disk_app.test_client().delete(f"/sparql/queries/{entry['id']}", headers=AUTH)
        assert stopped.status_code == 200, stopped.data
        assert json.loads(stopped.data)["stopped"] is True and json.loads(stopped.data)["answered"] is True
        r, elapsed = slow.result(timeout=30)
    assert r.status_code == 503
    assert "stopped by an administrator" in r.get_data(as_text=True)
    assert elapsed < TIMEOUT / 2
    assert gone(pid)
    assert pool.replaced == replaced + 1
    assert listing(disk_app) == []
    assert "thb_kb_sparql_running_queries 0.0" in disk_app.test_client().get("/metrics").get_data(as_text=True)
    after, _ = ask(disk_app, SIMPLE)  # the next query is served (by the other worker or the replacement)
    assert after.status_code == 200 and json.loads(after.data)["results"]["bindings"][0]["n"]["value"] == "300"
    assert disk_app.test_client().delete(f"/sparql/queries/{entry['id']}", headers=AUTH).status_code == 404


def test_a_query_waiting_for_a_worker_never_runs(disk_app):
    pool = disk_app.extensions["sparql"].pool
    assert pool.wait_started(60)
    with ThreadPoolExecutor(3) as executor:
        busy = [executor.submit(ask, disk_app, CARTESIAN) for _ in range(2)]  # both workers
        wait_listed(disk_app, 2, "running")
        queued = executor.submit(ask, disk_app, SIMPLE + " # queued")
        entries = wait_listed(disk_app, 1, "queued")
        [waiting] = [q for q in entries if q["state"] == "queued"]
        assert waiting["worker_pid"] is None
        replaced = pool.replaced
        assert disk_app.test_client().delete(f"/sparql/queries/{waiting['id']}", headers=AUTH).status_code == 200
        r, _ = queued.result(timeout=30)
        assert r.status_code == 503 and "stopped by an administrator" in r.get_data(as_text=True)
        assert pool.replaced == replaced  # no worker was killed for it
        for q in listing(disk_app):
            disk_app.test_client().delete(f"/sparql/queries/{q['id']}", headers=AUTH)
        assert [f.result(timeout=30)[0].status_code for f in busy] == [503, 503]
    assert ask(disk_app, SIMPLE)[0].status_code == 200


def test_the_admin_api_needs_the_token(disk_app):
    client = disk_app.test_client()
    r = client.get("/sparql/queries")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in json.loads(r.data)["message"]
    assert client.get("/sparql/queries", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.delete("/sparql/queries/abc", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.delete("/sparql/queries/abc").status_code == 401
    r = client.delete("/sparql/queries/abc", headers={**AUTH, "Accept": "text/plain"})
    assert r.status_code == 404 and r.mimetype == "text/plain" and "abc" in r.get_data(as_text=True)


def test_without_a_token_the_admin_api_is_off():
    from server import create_app

    app = create_app(make_settings(), load_if_empty=False)
    r = app.test_client().get("/sparql/queries", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 403 and "KB_WRITE_TOKEN" in json.loads(r.data)["message"]


def test_the_html_listing_shows_query_text_as_text(disk_app):
    hostile = CARTESIAN + " # <script>alert(1)</script>"
    with ThreadPoolExecutor(1) as executor:
        slow = executor.submit(ask, disk_app, hostile)
        [entry] = wait_listed(disk_app, 1, "running")
        page = disk_app.test_client().get("/sparql/queries", headers={**AUTH, "Accept": "text/html"})
        assert page.status_code == 200 and page.mimetype == "text/html"
        html = page.get_data(as_text=True)
        assert entry["id"] in html and str(entry["worker_pid"]) in html
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
        assert page.headers["Cache-Control"] == "no-store"
        disk_app.test_client().delete(f"/sparql/queries/{entry['id']}", headers=AUTH)
        assert slow.result(timeout=30)[0].status_code == 503


def test_in_memory_queries_cannot_be_stopped():
    from kb.store import open_store
    from server import create_app

    store = open_store(make_settings())
    store.replace_graph(EX + "g", _triples(150))  # the cartesian count runs for a second or two
    app = create_app(make_settings(write_token=TOKEN), store=store, load_if_empty=False)
    with ThreadPoolExecutor(1) as executor:
        slow = executor.submit(ask, app, CARTESIAN)
        [entry] = wait_listed(app, 1)
        assert entry["cancellable"] is False
        r = app.test_client().delete(f"/sparql/queries/{entry['id']}", headers=AUTH)
        assert r.status_code == 409 and "in-memory" in json.loads(r.data)["message"]
        answer, _ = slow.result(timeout=120)
    assert answer.status_code == 200  # it ran to its end
    n = store.count()  # the 150 triples and the store's own records
    assert json.loads(answer.data)["results"]["bindings"][0]["n"]["value"] == str(n ** 3)


@pytest.mark.slow
def test_a_query_on_the_remote_store_is_stopped(virtuoso_factory):
    from server import create_app

    virtuoso = virtuoso_factory("running")
    store = virtuoso.empty_store()
    store.replace_graph(BASE + "graph/running", _triples(3000))
    app = create_app(virtuoso.settings(write_token=TOKEN, query_timeout=TIMEOUT, remote_timeout=TIMEOUT + 10),
                     load_if_empty=False)
    slow_query = ("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i "
                  "FILTER(STR(?c) != CONCAT(STR(?f), STR(?i))) }")
    with ThreadPoolExecutor(1) as executor:
        slow = executor.submit(ask, app, slow_query)
        [entry] = wait_listed(app, 1, "running")
        assert entry["cancellable"] is True and entry["worker_pid"] is None
        time.sleep(0.5)  # the request is on its way to Virtuoso
        r = app.test_client().delete(f"/sparql/queries/{entry['id']}", headers=AUTH)
        assert r.status_code == 200, r.data
        answer, elapsed = slow.result(timeout=30)
    assert answer.status_code == 503 and "stopped by an administrator" in answer.get_data(as_text=True)
    assert elapsed < TIMEOUT / 2
    assert listing(app) == []
    after, _ = ask(app, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{EX}p0> ?o }}")
    assert after.status_code == 200 and json.loads(after.data)["results"]["bindings"][0]["n"]["value"] == "300"


ENDLESS = "CONSTRUCT { ?a ?b ?f . ?a ?b ?i } WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # streams, never ends


def test_a_streaming_answer_is_stopped_mid_way(disk_app):
    """A streamed answer listed as `streaming` is stopped: its worker is killed and replaced, and the client
    sees a cut transfer (an incomplete chunked body), never an answer that looks complete."""
    import requests

    from conftest import LiveServer

    pool = disk_app.extensions["sparql"].pool
    assert pool.wait_started(60)
    replaced = pool.replaced
    server = LiveServer(disk_app)
    try:
        with requests.get(server.url + "/sparql", params={"query": ENDLESS}, stream=True, timeout=60,
                          headers={"Accept": "application/n-triples"}) as r:
            assert r.status_code == 200 and r.headers.get("Transfer-Encoding") == "chunked"
            chunks = r.iter_content(chunk_size=None)
            assert next(chunks)
            [entry] = wait_listed(disk_app, 1, "streaming")
            stopped = requests.delete(f"{server.url}/sparql/queries/{entry['id']}", headers=AUTH, timeout=30)
            assert stopped.status_code == 200, stopped.text
            assert stopped.json()["stopped"] is True  # answered or not: this client is not reading now
            with pytest.raises(requests.exceptions.ChunkedEncodingError):
                for _ in chunks:  # the chunks already on their way, then the cut
                    pass
        assert pool.replaced == replaced + 1
        assert listing(disk_app) == []
        assert pool.wait_started(60) and ask(disk_app, SIMPLE)[0].status_code == 200
    finally:
        server.stop()
