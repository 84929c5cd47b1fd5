"""The on-disk store's killable query workers: a query past its timeout is stopped (503 in time), its worker is
killed and replaced, other clients are served meanwhile, and writes are seen at once (new checkpoint)."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyoxigraph as ox
import pytest

from conftest import BASE, make_settings

EX = "http://example.org/"
N = 3000
CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SIMPLE = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s <{EX}p0> ?o }}"
TIMEOUT = 3.0
SLACK = 4.0


@pytest.fixture(scope="module")
def disk_app(tmp_path_factory):
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore
    from server import create_app

    path = tmp_path_factory.mktemp("sparql-disk") / "store"
    store = OxigraphStore(Iris(BASE), path)
    triples = [ox.Triple(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p{i % 10}"), ox.Literal(str(i)))
               for i in range(N)]
    # a 5,000-item RDF list for the rdf:rest*/rdf:first case
    first, rest, nil = (ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#" + n) for n in ("first", "rest", "nil"))
    cells = [ox.BlankNode() for _ in range(5000)]
    for i, cell in enumerate(cells):
        triples.append(ox.Triple(cell, first, ox.Literal(str(i))))
        triples.append(ox.Triple(cell, rest, cells[i + 1] if i + 1 < len(cells) else nil))
    triples.append(ox.Triple(ox.NamedNode(EX + "list"), ox.NamedNode(EX + "items"), cells[0]))
    store.replace_graph(EX + "g", triples)
    app = create_app(make_settings(store=str(path), query_timeout=TIMEOUT, sparql_workers=2, max_rows=100_000),
                     store=store, load_if_empty=False)
    yield app
    app.extensions["sparql"].close()
    store.close()


def ask(app, query, **params):
    client = app.test_client()
    started = time.monotonic()
    r = client.post("/sparql", data={"query": query, **params})
    return r, time.monotonic() - started


def count(response) -> int:
    return int(json.loads(response.data)["results"]["bindings"][0]["n"]["value"])


def test_queries_run_in_worker_processes(disk_app):
    r, _ = ask(disk_app, SIMPLE)
    assert r.status_code == 200 and count(r) == N // 10
    pool = disk_app.extensions["sparql"].pool
    assert pool.wait_started(60)
    pids = pool.pids()
    assert len(pids) == 2 and os.getpid() not in pids


def test_timeout_stops_the_query_and_replaces_the_worker(disk_app):
    ask(disk_app, SIMPLE)
    pool = disk_app.extensions["sparql"].pool
    assert pool.wait_started(60)
    before_pids, replaced = pool.pids(), pool.replaced
    with ThreadPoolExecutor(2) as executor:
        slow = executor.submit(ask, disk_app, CARTESIAN)
        time.sleep(0.5)
        quick, quick_time = executor.submit(ask, disk_app, SIMPLE).result(timeout=60)
        r, elapsed = slow.result(timeout=60)
    # another client was served while the slow query ran (by the other worker)
    assert quick.status_code == 200 and count(quick) == N // 10 and quick_time < TIMEOUT
    assert r.status_code == 503, r.data
    assert "longer than 3 s" in r.get_data(as_text=True) and r.headers["Retry-After"]
    assert TIMEOUT - 0.1 <= elapsed < TIMEOUT + SLACK
    assert pool.replaced == replaced + 1
    killed = set(before_pids) - set(pool.pids())
    assert killed, "the worker that ran the query is gone"
    for pid in killed:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    # the next query is served (by the remaining worker or the replacement)
    r, _ = ask(disk_app, SIMPLE)
    assert r.status_code == 200 and count(r) == N // 10
    assert pool.wait_started(60) and len(pool.pids()) == 2


def test_client_may_ask_for_a_shorter_timeout(disk_app):
    r, elapsed = ask(disk_app, CARTESIAN, timeout="1")
    assert r.status_code == 503 and "longer than 1 s" in r.get_data(as_text=True)
    assert elapsed < 1 + SLACK
    r, elapsed = ask(disk_app, CARTESIAN, timeout="60")  # never more than the server's limit
    assert r.status_code == 503 and elapsed < TIMEOUT + SLACK


@pytest.mark.parametrize("query", [
    "SELECT * { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?d ?g",
    f"ASK {{ ?x (<{EX}p1>|!<{EX}p1>)* ?y . ?y (<{EX}p1>|!<{EX}p1>)* ?z FILTER(?x != ?z && ?z = <{EX}none>) }}",
    f"SELECT (COUNT(?v) AS ?n) {{ <{EX}list> <{EX}items>/<http://www.w3.org/1999/02/22-rdf-syntax-ns#rest>*/"
    "<http://www.w3.org/1999/02/22-rdf-syntax-ns#first> ?v }",
    f"SELECT (COUNT(*) AS ?n) {{ ?a <{EX}p1>/^<{EX}p2>?/^<{EX}p3> ?b . ?c ?d ?e }}",
])
def test_t15_pathological_queries_are_bounded(disk_app, query):
    r, elapsed = ask(disk_app, query)
    assert r.status_code in (200, 503), r.data[:300]
    assert elapsed < TIMEOUT + SLACK
    if r.status_code == 503:
        assert "stopped" in r.get_data(as_text=True)
    r, _ = ask(disk_app, SIMPLE)
    assert r.status_code == 200


def test_list_walk_answers_in_full(disk_app):
    r, _ = ask(disk_app, f"SELECT (COUNT(?v) AS ?n) {{ <{EX}list> <{EX}items>/"
                         "<http://www.w3.org/1999/02/22-rdf-syntax-ns#rest>*/"
                         "<http://www.w3.org/1999/02/22-rdf-syntax-ns#first> ?v }")
    assert r.status_code == 200 and count(r) == 5000


def test_writes_are_seen_and_old_checkpoints_removed(disk_app):
    store = disk_app.extensions["kb"].store
    pool = disk_app.extensions["sparql"].pool
    r, _ = ask(disk_app, SIMPLE)
    before = count(r)
    for i in range(3):
        store.add_to_graph(EX + "g", [ox.Triple(ox.NamedNode(f"{EX}new{i}"), ox.NamedNode(EX + "p0"), ox.Literal("x"))])
        r, _ = ask(disk_app, SIMPLE)
        assert count(r) == before + i + 1  # a new checkpoint, and no stale cache entry
    for _ in range(4):
        ask(disk_app, SIMPLE)
    assert len([p for p in pool.root.iterdir() if p.is_dir()]) <= len(pool.pids()) + 1


def test_dead_idle_worker_is_replaced_without_failing_a_query(disk_app):
    pool = disk_app.extensions["sparql"].pool
    ask(disk_app, SIMPLE)
    assert pool.wait_started(60)
    victim = pool.pids()[0]
    os.kill(victim, 9)
    time.sleep(0.3)
    for _ in range(3):
        r, _ = ask(disk_app, SIMPLE + " # " + str(time.time()))
        assert r.status_code == 200


@pytest.mark.slow
def test_under_gunicorn_with_the_disk_store(tmp_path):
    """`kb serve --gunicorn` on an on-disk store: queries run in the workers, a long one gets 503 in time and
    the server goes on serving (the app is created after gunicorn's fork, so RocksDB checkpoints work)."""
    import shutil
    import subprocess
    import sys
    import urllib.error
    import urllib.parse
    import urllib.request

    from conftest import ROOT, free_port

    kb = shutil.which("kb", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "kb")
    port = free_port()
    env = {**os.environ, "KB_STORE": str(tmp_path / "store"), "KB_PORT": str(port), "KB_QUERY_TIMEOUT": "3",
           "KB_RATE_LIMIT": "0", "KB_SPARQL_WORKERS": "2"}
    proc = subprocess.Popen([kb, "serve", "--gunicorn"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def post(query: str, timeout: float = 30):
        data = urllib.parse.urlencode({"query": query}).encode()
        started = time.monotonic()
        try:
            with urllib.request.urlopen(urllib.request.Request(url + "/sparql", data=data), timeout=timeout) as r:
                return r.status, r.read(), time.monotonic() - started
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), time.monotonic() - started

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=5).read()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.5)
        status, body, _ = post("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
        assert status == 200 and int(json.loads(body)["results"]["bindings"][0]["n"]["value"]) > 1000
        status, body, elapsed = post(CARTESIAN)
        assert status == 503 and elapsed < TIMEOUT + SLACK, (status, body[:200])
        status, body, _ = post("ASK { ?s ?p ?o }")
        assert status == 200 and json.loads(body)["boolean"] is True
        # a large answer is streamed by gunicorn too (chunked), its cut still flagged (header and JSON member)
        big = "SELECT ?a ?b WHERE { ?a ?p ?x . ?b ?q ?y } LIMIT 50000"
        request = urllib.request.Request(url + "/sparql?" + urllib.parse.urlencode({"query": big}))
        with urllib.request.urlopen(request, timeout=60) as r:
            assert r.headers["Transfer-Encoding"] == "chunked" and r.headers["Content-Length"] is None
            assert r.headers["X-KB-Truncated"] == "true" and r.headers["X-KB-Row-Limit"] == "10000"
            data = json.loads(r.read())
        assert len(data["results"]["bindings"]) == 10000 and data["x-kb"] == {"truncated": True, "limit": 10000}
        # gunicorn's heartbeat file, touched on every turn of the worker's loop, is on a memory file system
        from server.wsgi import heartbeat_dir

        if heartbeat_dir() is not None:
            assert any(link.startswith(heartbeat_dir() + "/wgunicorn-") for link in _open_files_of_children(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    log = proc.stderr.read().decode()  # gunicorn says which worker class serves (server.gunicorn_worker)
    assert "Using worker: server.gunicorn_worker.ConnectionWorker" in log, log[-2000:]


def _open_files_of_children(pid: int) -> list[str]:
    """The paths of the files the child processes of `pid` hold open (Linux /proc)."""
    links = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        for fd in Path(f"/proc/{child}/fd").iterdir():
            try:
                links.append(os.readlink(fd))
            except OSError:
                continue
    return links


def test_memory_cap_stops_a_query(tmp_path):
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore
    from server import create_app
    from server.sparql.pool_process import _rss

    store = OxigraphStore(Iris(BASE), tmp_path / "store")
    store.replace_graph(EX + "g", [ox.Triple(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p{i % 10}"),
                                             ox.Literal(str(i))) for i in range(N)])
    app = create_app(make_settings(store=str(tmp_path / "store"), query_timeout=60, sparql_workers=1,
                                   query_memory=400), store=store, load_if_empty=False)
    try:
        pool = app.extensions["sparql"].pool
        assert pool.wait_started(60)
        assert 0 < _rss(pool.pids()[0]) < 400 * 2**20  # an idle worker is well under the cap
        r, elapsed = ask(app, "SELECT (COUNT(*) AS ?n) { SELECT DISTINCT ?a ?d ?g ?c "
                              "{ ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } }")
        assert r.status_code == 503 and "MiB of memory" in r.get_data(as_text=True)
        assert elapsed < 60 and pool.replaced == 1
        r, _ = ask(app, SIMPLE)
        assert r.status_code == 200
    finally:
        app.extensions["sparql"].close()
        store.close()
