"""Entity documents built by the SPARQL worker processes (server.docworkers) are the same responses as
documents built in the serving process, in every format, language, page and script root; a write is seen at
once (new checkpoint, new ETag); documents never wait behind busy workers; KB_DOC_WORKERS=false keeps them
in the serving process."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph as ox
import pytest

from doc_worker_apps import (RDFS_LABEL, another_request_in_flight, clear_cache, close, disk_app, wait_idle,
                             without_workers)
from ld_sample_data import AGENCY, BASE, PARENT, sample_store

FORMATS = [("ttl", "text/turtle"), ("html", "text/html"), ("jsonld", "application/ld+json"),
           ("rdf", "application/rdf+xml"), ("nt", "application/n-triples"), ("trig", "application/trig"),
           ("nq", "application/n-quads")]
CARTESIAN = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = disk_app(tmp_path_factory.mktemp("docworkers") / "store", sample_store().quads(), page_size=5,
                   query_timeout=4.0)
    yield app
    close(app)


@pytest.fixture
def app(server):
    """The server while other document requests are in progress (a lone one is built in-process)."""
    with another_request_in_flight(server):
        yield server


def test_a_lone_request_is_built_in_the_serving_process_unless_the_workers_answer_from_memory(server, monkeypatch):
    client = server.test_client()
    pool = server.extensions["sparql"].pool
    wait_idle(pool)
    url = f"/doc/{PARENT[len(BASE) + 3:]}.html"
    with monkeypatch.context() as m:  # workers without in-memory copies (KB_QUERY_REPLICA=0)
        m.setattr(pool, "replica_quads", 0)
        m.setattr(pool, "from_copies", False)
        clear_cache(server)
        before = pool.documents
        alone = client.get(url)
        assert alone.status_code == 200 and pool.documents == before
        clear_cache(server)
        with another_request_in_flight(server):
            busy = client.get(url)
        assert pool.documents == before + 1
        assert busy.get_data() == alone.get_data()
    deadline = time.monotonic() + 60  # the workers' copies (server.sparql.replica) are loaded by now or soon
    while "memory" not in (client.get(f"/sparql?query=ASK%7B%7D%23{time.time()}").headers.get("Server-Timing") or ""):
        assert time.monotonic() < deadline, "the workers did not answer from their in-memory copies"
        time.sleep(0.2)
    assert pool.prefers_workers()
    clear_cache(server)
    before = pool.documents
    from_copy = client.get(url)
    assert pool.documents == before + 1  # a lone request, built by a worker from its copy
    assert from_copy.get_data() == alone.get_data()


def _paths(app) -> list[str]:
    store = app.extensions["kb"].store
    return [r[0].value[len(BASE) + 3:] for r in store.query(
        f'SELECT DISTINCT ?s WHERE {{ GRAPH <{BASE}graph/ld-sample> {{ ?s ?p ?o }} '
        f'FILTER(STRSTARTS(STR(?s), "{BASE}id/")) }} ORDER BY ?s')]


def _response(client, url, headers, base_url):
    r = client.get(url, headers=headers, base_url=base_url)
    return r.status_code, r.get_data(), sorted((k, v) for k, v in r.headers.items() if k != "Date")


def test_documents_built_by_workers_are_the_responses_of_the_serving_process(app):
    from urllib.parse import quote

    client = app.test_client()
    pool = app.extensions["sparql"].pool
    wait_idle(pool)
    paths = _paths(app)
    assert len(paths) > 10
    compared = 0
    for i, path in enumerate(paths):
        for suffix, accept in FORMATS:
            page = 2 if i % 4 == 1 else 1
            url = f"/doc/{quote(path)}.{suffix}" + ("?page=2" if page == 2 else "")
            if i % 5 == 2:
                url = f"/doc/{quote(path)}?lang=fr"  # negotiated, with the reader's language
            headers = {"Accept": accept, "Accept-Language": "fr, en;q=0.5" if i % 3 == 0 else "en",
                       "Accept-Encoding": "gzip" if i % 2 else "identity"}
            base_url = "http://localhost/kb/" if i % 6 == 3 else "http://localhost/"  # a script root
            clear_cache(app)
            before = pool.documents
            by_worker = _response(client, url, headers, base_url)
            with without_workers(app):
                here = _response(client, url, headers, base_url)
            if by_worker[0] == here[0] == 404:  # not described, or no such page (RDF errors name a fresh node)
                continue
            assert by_worker == here, url
            assert pool.documents == before + 1, "the worker built it"
            compared += by_worker[0] == 200
    assert compared > 50


def test_a_write_is_seen_at_once_with_a_new_etag(app):
    client = app.test_client()
    store = app.extensions["kb"].store
    pool = app.extensions["sparql"].pool
    wait_idle(pool)
    # the page of the agency's document that mentions its parent (labels of mentioned things: the worker's
    # label cache must not keep the old one), and the parent's own document
    doc = f"/doc/{AGENCY[len(BASE) + 3:]}.ttl"
    page = next(k for k in range(1, 6) if PARENT in client.get(f"{doc}?page={k}").get_data(as_text=True))
    urls = [f"{doc}?page={page}", f"/doc/{PARENT[len(BASE) + 3:]}.ttl"]
    first = [client.get(u) for u in urls]
    assert all(r.status_code == 200 and store.version() in r.headers["ETag"] for r in first)
    name = "Police nationale (renamed while serving)"
    store.add_to_graph(BASE + "graph/ld-sample",
                       [ox.Triple(ox.NamedNode(PARENT), ox.NamedNode(RDFS_LABEL), ox.Literal(name, language="fr"))])
    for url, old in zip(urls, first):
        before = pool.documents
        again = client.get(url, headers={"If-None-Match": old.headers["ETag"]})
        assert again.status_code == 200, "the old ETag no longer matches"
        assert pool.documents == before + 1
        assert name in again.get_data(as_text=True) and name not in old.get_data(as_text=True)
        assert again.headers["ETag"] != old.headers["ETag"] and store.version() in again.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": again.headers["ETag"]}).status_code == 304


def test_documents_do_not_wait_for_busy_workers(app):
    from server import docworkers

    client = app.test_client()
    pool = app.extensions["sparql"].pool
    wait_idle(pool)
    url = f"/doc/{PARENT[len(BASE) + 3:]}.ttl"
    with ThreadPoolExecutor(3) as executor:
        slow = [executor.submit(client.post, "/sparql", data={"query": CARTESIAN}) for _ in range(3)]
        deadline = time.monotonic() + 10
        while (pool._idle.qsize() or not pool._waiting) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool._idle.qsize() == 0 and pool._waiting == 1, "two queries run, a third waits"
        clear_cache(app)
        before = pool.documents
        started = time.monotonic()
        doc = client.get(url)
        elapsed = time.monotonic() - started
        assert doc.status_code == 200 and pool.documents == before
        assert elapsed < 2.0, "built in the serving process, without waiting for the queries"
        assert elapsed < docworkers.DOC_WAIT + 1.5
        answers = [f.result(timeout=60) for f in slow]
    assert all(a.status_code == 503 for a in answers)  # past the 4 s timeout
    assert pool.wait_started(60)


def test_doc_workers_can_be_switched_off(app):
    client = app.test_client()
    pool = app.extensions["sparql"].pool
    wait_idle(pool)
    url = f"/doc/{AGENCY[len(BASE) + 3:]}.jsonld"
    clear_cache(app)
    before = pool.documents
    assert client.get(url).status_code == 200 and pool.documents == before + 1  # on: a worker builds it
    app.extensions["kb"].settings["doc_workers"] = False
    try:
        clear_cache(app)
        r = client.get(url)
        assert r.status_code == 200 and json.loads(r.data)
        assert pool.documents == before + 1  # off: the serving process did
    finally:
        app.extensions["kb"].settings["doc_workers"] = True


def test_the_setting_reads_false_from_the_environment():
    from kb import settings

    assert settings.load({}, environ={"KB_DOC_WORKERS": "false"})["doc_workers"] is False
    assert settings.load({}, environ={})["doc_workers"] is True


def test_a_document_built_while_a_write_lands_is_built_again(monkeypatch):
    """A document built in the serving process reads the live store with several queries: when a write lands
    between them, it is built again, so that the body served and cached under a version is that version's."""
    from ld_sample_data import sample_app
    from server import docrender

    app = sample_app(page_size=100)
    client = app.test_client()
    store = app.extensions["kb"].store
    name = "Police nationale (written during a build)"
    real_build, calls = docrender.documents.build, []

    def build_then_write(*args, **kwargs):
        doc = real_build(*args, **kwargs)
        calls.append(store.version())
        if len(calls) == 1:  # the first build has read the store: a write lands before it is served
            store.add_to_graph(BASE + "graph/ld-sample", [ox.Triple(ox.NamedNode(PARENT), ox.NamedNode(RDFS_LABEL),
                                                                    ox.Literal(name, language="fr"))])
        return doc

    monkeypatch.setattr(docrender.documents, "build", build_then_write)
    r = client.get(f"/doc/{PARENT[len(BASE) + 3:]}.ttl")
    assert r.status_code == 200 and len(calls) == 2
    assert name in r.get_data(as_text=True)
    assert store.version() in r.headers["ETag"] and calls[0] not in r.headers["ETag"]
