"""Two gunicorn servers (two workers each) on one Virtuoso: the app tier keeps no state of its own. Both give the same answers
(bodies and ETags), and a write through one is visible through the other at once. `kb load` against the
remote store shows its progress."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import BASE, ROOT, free_port, require_binary

pytestmark = pytest.mark.slow

KB = str(Path(sys.executable).with_name("kb"))
TOKEN = "two-servers-token"
QUERY = ("SELECT ?s ?label WHERE { ?s a <https://w3id.org/thb-kb/def#Agency> ; "
         "<http://www.w3.org/2000/01/rdf-schema#label> ?label } ORDER BY ?s ?label")


def fetch(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"kb serve exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if fetch(url + "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not become healthy")


def counted_health(url: str, seconds: float = 30) -> dict:
    """/healthz once the triples of the current version are counted (a background count per worker process)."""
    import json

    deadline = time.monotonic() + seconds
    while True:
        data = json.loads(fetch(url + "/healthz")[2])
        if data.get("triples") is not None or time.monotonic() > deadline:
            return data
        time.sleep(0.05)


@pytest.fixture(scope="module")
def two_servers(virtuoso_factory):
    require_binary("virtuoso-t")
    virtuoso = virtuoso_factory("two-servers")
    virtuoso.empty_store()
    env = {**os.environ, **virtuoso.env(KB_WRITE_TOKEN=TOKEN, KB_RATE_LIMIT="0", KB_THREADS="4", KB_WORKERS="2",
                                        KB_LOG_LEVEL="WARNING")}
    load = subprocess.run([KB, "load"], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert load.returncode == 0, load.stderr[-2000:]
    procs, urls = [], []
    for _ in range(2):
        port = free_port()
        proc = subprocess.Popen([KB, "serve", "--gunicorn", "--no-load"], env={**env, "KB_PORT": str(port)},
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        procs.append(proc)
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url, proc in zip(urls, procs):
            wait_healthy(url, proc)
        yield urls, load
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def sparql(url: str, query: str) -> bytes:
    from urllib.parse import urlencode

    status, _, body = fetch(url + "/sparql?" + urlencode({"query": query}),
                            headers={"Accept": "application/sparql-results+json"})
    assert status == 200, body[:300]
    return body


def doc(url: str, path: str):
    status, headers, body = fetch(url + path, headers={"Accept": "text/turtle"})
    assert status == 200, (path, body[:300])
    return headers.get("ETag"), body


def test_kb_load_reports_progress(two_servers):
    _, load = two_servers
    assert "validated" in load.stderr and "stored" in load.stderr
    assert "SPARQL store at http://127.0.0.1:" in load.stdout


def test_two_servers_agree_and_see_each_others_writes_at_once(two_servers):
    import json

    (a, b), _ = two_servers
    assert counted_health(a) == counted_health(b)
    rows = json.loads(sparql(a, QUERY))["results"]["bindings"]
    assert rows, "the curated KB has agencies"
    assert sparql(a, QUERY) == sparql(b, QUERY)
    agency = rows[0]["s"]["value"]
    path = "/doc/" + agency[len(BASE + "id/"):]
    etag_a, body_a = doc(a, path)
    etag_b, body_b = doc(b, path)
    assert etag_a and etag_a == etag_b and body_a == body_b
    for _ in range(6):  # two gunicorn workers each (forked after the store was opened): all agree
        assert doc(a, path) == doc(b, path) == (etag_a, body_a)

    labels = f"SELECT ?l WHERE {{ <{agency}> <http://www.w3.org/2004/02/skos/core#altLabel> ?l }} ORDER BY ?l"
    before = sparql(b, labels)
    assert sparql(b, labels) == before and b"two-servers test label" not in before  # B's cache of answers holds it

    # a write through A ...
    turtle = (f"<{agency}> <http://www.w3.org/2004/02/skos/core#altLabel> \"two-servers test label\"@en .\n").encode()
    status, _, body = fetch(a + "/graph/two-servers-test", method="PUT", data=turtle,
                            headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {TOKEN}"})
    assert status in (200, 201, 204), body[:500]
    # ... is visible through B at once, ETags included
    ask = f'ASK {{ <{agency}> ?p "two-servers test label"@en }}'
    assert json.loads(sparql(b, ask))["boolean"] is True
    assert b"two-servers test label" in sparql(b, labels)  # never B's cached answer of the older KB
    new_a, _ = doc(a, path)
    new_b, body_b2 = doc(b, path)
    assert new_a == new_b and new_a != etag_a
    assert b"two-servers test label" in body_b2
    assert counted_health(a) == counted_health(b)
