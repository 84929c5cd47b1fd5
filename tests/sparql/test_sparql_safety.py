"""Attacks on the SPARQL endpoint: checklist T-12 to T-21 (section B of research/reliability_security.md),
each with its expected answer, while the server keeps serving other clients. A loopback listener proves
that SERVICE, FROM and LOAD make no connection; a control query run on pyoxigraph directly proves the
listener would see one."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph as ox
import pytest
import requests

from conftest import LiveServer, make_settings

GOOD = "SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/thb-kb/def#Agency> }"


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def kb_store():
    from kb import curated
    from kb.store import open_store

    store = open_store(make_settings())
    assert curated.build(store) is None
    return store


@pytest.fixture(scope="module")
def server(kb_store):
    from server import create_app

    app = create_app(make_settings(), store=kb_store, load_if_empty=False)
    live = LiveServer(app)
    yield live
    live.stop()


@pytest.fixture()
def listener():
    lst = Listener()
    yield lst
    lst.close()


def good_answer(url: str) -> int:
    r = requests.get(url + "/sparql", params={"query": GOOD}, timeout=30)
    assert r.status_code == 200, r.text
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def while_serving(url: str, bad):
    """Run `bad()` while another client asks a simple query; both answers come back."""
    with ThreadPoolExecutor(2) as pool:
        bad_future = pool.submit(bad)
        good_future = pool.submit(good_answer, url)
        assert good_future.result(timeout=60) > 0
        return bad_future.result(timeout=60)


def test_listener_control_pyoxigraph_would_connect(listener):
    """Without the endpoint's check, pyoxigraph really calls a SERVICE: the listener sees it."""
    with pytest.raises(OSError):
        list(ox.Store().query(f"SELECT * {{ SERVICE <http://127.0.0.1:{listener.port}/sparql> {{ ?s ?p ?o }} }}"))
    deadline = time.monotonic() + 5
    while listener.accepted == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener.accepted >= 1


# -- T-12 SERVICE ------------------------------------------------------------------------------------------
def test_t12_service_refused_without_connection(server, listener):
    target = f"http://127.0.0.1:{listener.port}/sparql"
    queries = [
        f"SELECT * {{ SERVICE <{target}> {{ ?s ?p ?o }} }}",
        f"SELECT * {{ SERVICE SILENT <{target}> {{ ?s ?p ?o }} }}",
        f"SELECT * {{ VALUES ?x {{ <{target}> }} SERVICE ?x {{ ?s ?p ?o }} }}",
        # the keyword written with a SPARQL \\u escape is still found (escapes are decoded before parsing)
        f"SELECT * {{ \\u0053ERVICE <{target}> {{ ?s ?p ?o }} }}",
    ]
    for query in queries:
        for send in (lambda q: requests.get(server.url + "/sparql", params={"query": q}, timeout=30),
                     lambda q: requests.post(server.url + "/sparql", data=q.encode(), timeout=30,
                                             headers={"Content-Type": "application/sparql-query"})):
            r = while_serving(server.url, lambda: send(query))
            assert r.status_code == 400, (query, r.text)
            assert "SERVICE is not allowed" in r.text
    # nested SERVICE (rdflib#2136: the safety parser recurses without end) is refused too
    nested = f"SELECT * {{ ?a ?b ?c OPTIONAL {{ SERVICE <{target}> {{ SERVICE <{target}> {{ ?s ?p ?o }} }} }} }}"
    r = while_serving(server.url, lambda: requests.get(server.url + "/sparql", params={"query": nested}, timeout=30))
    assert r.status_code == 400 and "could not be checked" in r.text
    time.sleep(0.3)
    assert listener.accepted == 0


# -- T-13 FROM / FROM NAMED --------------------------------------------------------------------------------
def test_t13_from_unknown_graphs_refused_without_fetch(server, listener):
    remote = f"http://127.0.0.1:{listener.port}/g"
    for clause in (f"FROM <{remote}>", "FROM <file:///etc/passwd>", f"FROM NAMED <{remote}>",
                   "FROM NAMED <file:///etc/passwd>"):
        query = f"SELECT * {clause} WHERE {{ ?s ?p ?o }}"
        r = while_serving(server.url, lambda: requests.get(server.url + "/sparql", params={"query": query}, timeout=30))
        assert r.status_code == 400 and "holds no such graph" in r.text, r.text
        assert "root:" not in r.text
    time.sleep(0.3)
    assert listener.accepted == 0


def test_from_a_graph_of_the_store_is_allowed(server, kb_store):
    graph = next(g for g in kb_store.graphs() if g.endswith("graph/agencies"))
    r = requests.get(server.url + "/sparql", timeout=30,
                     params={"query": f"SELECT (COUNT(*) AS ?n) FROM <{graph}> WHERE {{ ?s ?p ?o }}"})
    assert r.status_code == 200
    assert int(r.json()["results"]["bindings"][0]["n"]["value"]) == kb_store.count(graph)


# -- T-14 updates ------------------------------------------------------------------------------------------
UPDATES = ["LOAD <http://127.0.0.1:{port}/x>", "DROP ALL", "CLEAR DEFAULT",
           "INSERT DATA { <http://example.org/s> <http://example.org/p> 'o' }"]


def test_t14_updates_refused_and_data_unchanged(server, kb_store, listener):
    before = kb_store.count()
    version = kb_store.version()
    for text in UPDATES:
        update = text.replace("{port}", str(listener.port))
        attempts = [
            lambda: requests.get(server.url + "/sparql", params={"update": update}, timeout=30),
            lambda: requests.post(server.url + "/sparql", data={"update": update}, timeout=30),
            lambda: requests.post(server.url + "/sparql", data=update.encode(), timeout=30,
                                  headers={"Content-Type": "application/sparql-update"}),
            lambda: requests.get(server.url + "/sparql", params={"query": update}, timeout=30),
            lambda: requests.post(server.url + "/sparql", data={"query": update}, timeout=30),
        ]
        for attempt in attempts:
            r = while_serving(server.url, attempt)
            assert r.status_code == 403, (update, r.status_code, r.text)
            assert "read-only" in r.text
    assert kb_store.count() == before and kb_store.version() == version
    time.sleep(0.3)
    assert listener.accepted == 0


# -- T-16 result explosion ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def capped(kb_store):
    from server import create_app

    app = create_app(make_settings(max_rows=50), store=kb_store, load_if_empty=False)
    return app.test_client()


@pytest.mark.parametrize("query,kind", [
    ("SELECT * { ?s ?p ?o }", "select"),
    ("CONSTRUCT WHERE { ?s ?p ?o }", "graph"),
    ("DESCRIBE ?x { ?x a ?c }", "graph"),
])
def test_t16_row_cap_is_signalled(capped, query, kind):
    accept = "application/sparql-results+json" if kind == "select" else "application/n-triples"
    r = capped.get("/sparql", query_string={"query": query}, headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["X-KB-Truncated"] == "true" and r.headers["X-KB-Row-Limit"] == "50"
    if kind == "select":
        data = json.loads(r.data)
        assert len(data["results"]["bindings"]) == 50
        assert data["x-kb"] == {"truncated": True, "limit": 50}
    else:
        assert len([line for line in r.data.decode().splitlines() if line.strip()]) == 50


@pytest.mark.parametrize("accept", ["application/sparql-results+xml", "text/csv", "text/tab-separated-values"])
def test_row_cap_header_in_every_format(capped, accept):
    r = capped.get("/sparql", query_string={"query": "SELECT * { ?s ?p ?o }"}, headers={"Accept": accept})
    assert r.headers["X-KB-Truncated"] == "true"
    rows = ox.parse_query_results(r.data, format={"application/sparql-results+xml": ox.QueryResultsFormat.XML,
                                                  "text/csv": None,
                                                  "text/tab-separated-values": ox.QueryResultsFormat.TSV}[accept]) \
        if accept != "text/csv" else None
    if rows is not None:
        assert len(list(rows)) == 50
    else:
        assert len(r.data.decode().strip().splitlines()) == 51


def test_no_flag_when_not_cut(capped):
    for query in ("SELECT * { ?s ?p ?o } LIMIT 50", "SELECT * { ?s ?p ?o } LIMIT 3"):
        r = capped.get("/sparql", query_string={"query": query})
        assert "X-KB-Truncated" not in r.headers and "X-KB-Row-Limit" not in r.headers
        assert "x-kb" not in json.loads(r.data)
    r = capped.get("/sparql", query_string={"query": "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 50"})
    assert "X-KB-Truncated" not in r.headers


# -- T-17 parser recursion ---------------------------------------------------------------------------------
def test_t17_deep_nesting_and_big_updates(server, kb_store):
    before = kb_store.count()
    deep_braces = "SELECT * WHERE " + "{" * 500 + " ?s ?p ?o " + "}" * 500
    deep_parens = "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * 5000 + "?o" + ")" * 5000 + ") }"
    nested_service = "SELECT * WHERE " + "{ SERVICE <http://127.0.0.1:9/> " * 60 + "{ ?s ?p ?o }" + " }" * 60
    big_insert = "INSERT DATA { " + " ".join(
        f"<http://example.org/s{i}> <http://example.org/p> {i} ." for i in range(10_000)) + " }"
    for query, status in ((deep_braces, 400), (deep_parens, 400), (nested_service, 400)):
        r = while_serving(server.url, lambda: requests.post(server.url + "/sparql", data={"query": query}, timeout=60))
        assert r.status_code == status, r.text[:300]
    r = while_serving(server.url, lambda: requests.post(server.url + "/sparql", data={"update": big_insert}, timeout=60))
    assert r.status_code == 403
    r = requests.post(server.url + "/sparql", data={"query": big_insert}, timeout=60)
    assert r.status_code == 403
    assert kb_store.count() == before
    assert good_answer(server.url) > 0


# -- T-18 / T-19 protocol negatives and positives ----------------------------------------------------------
def test_t18_protocol_negatives(server):
    url = server.url + "/sparql"
    assert requests.put(url, params={"query": "ASK {}"}, timeout=30).status_code == 405
    assert requests.delete(url, params={"query": "ASK {}"}, timeout=30).status_code == 405
    assert requests.get(url + "?query=ASK%20%7B%7D&query=SELECT%20*%20%7B%7D", timeout=30).status_code == 400
    no_type = requests.Request("POST", url, data=b"query=ASK%20%7B%7D").prepare()
    no_type.headers.pop("Content-Type", None)
    with requests.Session() as session:
        assert session.send(no_type, timeout=30).status_code == 400
        direct = requests.Request("POST", url, data=b"ASK {}").prepare()
        direct.headers.pop("Content-Type", None)
        assert session.send(direct, timeout=30).status_code == 400
    r = requests.post(url, data="ASK {}".encode("utf-16"), timeout=30,
                      headers={"Content-Type": "application/sparql-query; charset=UTF-16"})
    assert r.status_code in (400, 415)
    r = requests.post(url, data="ASK {}".encode("utf-16"), timeout=30,
                      headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 400 and "UTF-8" in r.text
    r = requests.post(url, data="ASK {}", timeout=30, headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    r = requests.get(url, params={"query": "ASK {"}, timeout=30)
    assert r.status_code == 400 and "syntax error" in r.text
    assert good_answer(server.url) > 0


def test_t19_protocol_positives(server, kb_store):
    url = server.url + "/sparql"
    expected = good_answer(server.url)
    for r in (requests.get(url, params={"query": GOOD}, timeout=30),
              requests.post(url, data={"query": GOOD}, timeout=30),
              requests.post(url, data=GOOD.encode(), headers={"Content-Type": "application/sparql-query"},
                            timeout=30)):
        assert r.status_code == 200 and int(r.json()["results"]["bindings"][0]["n"]["value"]) == expected
    graph = next(g for g in kb_store.graphs() if g.endswith("graph/agencies"))
    r = requests.get(url, params={"query": GOOD, "default-graph-uri": graph}, timeout=30)
    assert int(r.json()["results"]["bindings"][0]["n"]["value"]) == expected
    r = requests.get(url, params={"query": "SELECT ?g { GRAPH ?g { ?s a <https://w3id.org/thb-kb/def#Agency> } }",
                                  "named-graph-uri": graph}, timeout=30)
    assert {b["g"]["value"] for b in r.json()["results"]["bindings"]} == {graph}
    for accept in ("application/sparql-results+json", "application/sparql-results+xml", "text/csv",
                   "text/tab-separated-values"):
        r = requests.get(url, params={"query": GOOD}, headers={"Accept": accept}, timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(accept)
    r = requests.get(url, params={"query": "CONSTRUCT WHERE { ?s a <https://w3id.org/thb-kb/def#Agency> }"},
                     headers={"Accept": "text/turtle"}, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/turtle")
    assert len(list(ox.parse(r.content, format=ox.RdfFormat.TURTLE))) == expected


# -- T-20 flood --------------------------------------------------------------------------------------------
def test_t20_flood_gets_429_and_others_are_served(kb_store):
    from server import create_app

    app = create_app(make_settings(rate_limit=60), store=kb_store, load_if_empty=False)
    client = app.test_client()
    flooder = {"REMOTE_ADDR": "10.0.0.1"}
    statuses = [client.get("/sparql", query_string={"query": GOOD}, environ_base=flooder) for _ in range(200)]
    limited = [r for r in statuses if r.status_code == 429]
    assert 0 < len(limited) and sum(r.status_code == 200 for r in statuses) <= 61
    assert int(limited[0].headers["Retry-After"]) >= 1 and "too many requests" in limited[0].get_data(as_text=True)
    other = client.get("/sparql", query_string={"query": GOOD}, environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert other.status_code == 200


def test_t20_syntax_errors_use_the_budget_sooner(kb_store):
    from server import create_app

    app = create_app(make_settings(rate_limit=120), store=kb_store, load_if_empty=False)
    client = app.test_client()
    bad = [client.get("/sparql", query_string={"query": "SELECT * {"}, environ_base={"REMOTE_ADDR": "10.0.0.3"})
           for _ in range(40)]
    assert bad[-1].status_code == 429 and bad[0].status_code == 400
    good = [client.get("/sparql", query_string={"query": GOOD}, environ_base={"REMOTE_ADDR": "10.0.0.4"})
            for _ in range(40)]
    assert all(r.status_code == 200 for r in good)  # the same number of good queries is fine


# -- T-21 injection ----------------------------------------------------------------------------------------
INJECTIONS = ['a> } ; DROP ALL ; SELECT * {<x', 'x""" } ; CLEAR DEFAULT ; #', 'x\\u0022 } DROP ALL', "x\n} DROP ALL {"]


def test_t21_injection_is_data(server, kb_store):
    from urllib.parse import quote

    before, version = kb_store.count(), kb_store.version()
    for text in INJECTIONS:
        for path in (f"/id/agency/{quote(text, safe='')}", f"/doc/agency/{quote(text, safe='')}",
                     f"/resource/{quote(text, safe='')}"):
            r = while_serving(server.url, lambda: requests.get(server.url + path, timeout=30))
            assert r.status_code in (400, 404), (path, r.status_code)
        # a label with quotes and newlines is a literal in a well-formed query
        literal = json.dumps(text)
        r = requests.get(server.url + "/sparql", timeout=30,
                         params={"query": f"SELECT ?s WHERE {{ ?s <http://www.w3.org/2000/01/rdf-schema#label> {literal} }}"})
        assert r.status_code == 200 and r.json()["results"]["bindings"] == []
    assert kb_store.count() == before and kb_store.version() == version
