"""Every query on the remote store is checked against the KB's state: read in the same round trip
(RemoteStore._run), or read less than KB_REMOTE_STATE_TTL before, while every write through thb-kb returns
only after that long. Two app servers (two stores, two apps) on one Virtuoso, one writes, the other sees it
at its next query, and never serves or caches an answer of the older KB as the newer one's. Each test runs
with the state read beside every query (ttl 0) and with the default TTL."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pyoxigraph as ox
import pytest

from conftest import BASE
from faultservers import CountingProxy
from kb.store import open_store

EX = "http://example.org/"
G1, G2 = BASE + "graph/checked-one", BASE + "graph/checked-two"


def t(s, o):
    return ox.Triple(ox.NamedNode(EX + s), ox.NamedNode(EX + "p"), ox.Literal(o))


@pytest.fixture(params=[0.0, 0.25], ids=["read-each-query", "state-ttl"])
def ttl(request):
    return request.param


@pytest.fixture()
def writer(virtuoso):
    store = virtuoso.empty_store()
    store.replace_graph(G1, [t("a", "1")])
    return store


def test_a_graph_another_server_adds_is_seen_at_once(virtuoso, writer, ttl):
    reader = open_store(virtuoso.settings(remote_state_ttl=ttl))  # another app server
    assert bool(reader.query(f'ASK {{ <{EX}a> ?p "1" }}'))
    assert reader.seen_state == writer.snapshot().state  # it knows the KB's graphs now: later queries do not wait
    writer.replace_graph(G2, [t("new", "2")])  # a new graph: the registry changes
    assert bool(reader.query(f'ASK {{ <{EX}new> ?p "2" }}'))  # sent with the old graphs, then again
    graphs = {r["g"].value for r in reader.query("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")}
    assert graphs == {G1, G2, writer.iris.meta_graph}
    writer.drop_graph(G2)
    assert not bool(reader.query(f'ASK {{ <{EX}new> ?p "2" }}'))


def test_an_answer_is_vouched_for_only_when_its_state_is_confirmed(virtuoso, writer, ttl):
    reader = open_store(virtuoso.settings(remote_state_ttl=ttl))
    q = f"SELECT ?o WHERE {{ <{EX}a> ?p ?o }}"
    first = reader.query_answer(q)
    assert first.state == writer.snapshot().state and [r["o"].value for r in first.result] == ["1"]
    assert first.rows == 1
    writer.replace_graph(G1, [t("a", "changed")])  # same graphs, new content, new version
    second = reader.query_answer(q)
    assert [r["o"].value for r in second.result] == ["changed"]  # the new KB at once
    assert second.state is None  # sent while this process still knew the old version: not vouched for
    third = reader.query_answer(q)
    assert third.state == writer.snapshot().state and [r["o"].value for r in third.result] == ["changed"]


def test_the_query_does_not_wait_for_the_state_read(virtuoso, writer, ttl):
    proxy = CountingProxy(virtuoso.http_port, delay=1.0)  # every request takes 1 s more
    try:
        reader = open_store(virtuoso.settings(store="sparql+" + proxy.url(), remote_state_ttl=ttl))
        reader.query("ASK {}")  # the first query reads the state first
        started = time.monotonic()
        assert bool(reader.query(f'ASK {{ <{EX}a> ?p "1" }}'))
        assert time.monotonic() - started < 1.8  # both in flight at once: one delay, not two
    finally:
        proxy.close()


def test_two_apps_never_serve_a_cached_answer_of_an_older_kb(virtuoso, writer, ttl):
    from server import create_app

    a = create_app(virtuoso.settings(remote_state_ttl=ttl), load_if_empty=False).test_client()
    b = create_app(virtuoso.settings(remote_state_ttl=ttl), load_if_empty=False).test_client()
    path = "/sparql?" + urlencode({"query": f"SELECT ?o WHERE {{ <{EX}a> ?p ?o }}"})
    accept = {"Accept": "application/sparql-results+json"}

    def values(client):
        resp = client.get(path, headers=accept)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return [row["o"]["value"] for row in resp.get_json()["results"]["bindings"]]

    for _ in range(3):  # B has it in its cache of answers now
        assert values(a) == values(b) == ["1"]
    writer.replace_graph(G1, [t("a", "2")])  # through neither app
    assert values(b) == values(a) == ["2"]
    for _ in range(2):
        assert values(b) == ["2"]
    writer.replace_graph(G1, [t("a", "3")])
    assert values(b) == ["3"]


def test_a_graph_registered_by_hand_is_seen_by_cached_queries_too(virtuoso, writer, ttl):
    """The documented way to add bulk-loaded data: load it into a graph, then register the graph with a
    hand-written update (no new KB version). The answer cache keys answers by version AND graphs. A write
    by other means than thb-kb does not wait: it is seen within the TTL."""
    from server import create_app

    b = create_app(virtuoso.settings(remote_state_ttl=ttl), load_if_empty=False).test_client()
    path = "/sparql?" + urlencode({"query": f"SELECT ?o WHERE {{ ?s <{EX}p> ?o }} ORDER BY ?o"})

    def values():
        resp = b.get(path, headers={"Accept": "application/sparql-results+json"})
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        return [row["o"]["value"] for row in resp.get_json()["results"]["bindings"]]

    g3 = BASE + "graph/checked-by-hand"
    version = writer.version()
    writer._update(f'INSERT DATA {{ GRAPH <{g3}> {{ <{EX}h> <{EX}p> "by hand" }} }}')  # loaded, not registered
    assert values() == values() == ["1"]  # not the KB's yet; the answer is in B's cache now
    writer._update(f"INSERT DATA {{ GRAPH <{writer.registry}> {{ <{g3}> "
                   "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
                   "<http://www.w3.org/ns/sparql-service-description#NamedGraph> } }")
    assert writer.version() == version  # no new version
    time.sleep(ttl)
    assert values() == ["1", "by hand"]
    writer.drop_graph(g3)


def _recording(store) -> list:
    """The datasets (default graphs, named graphs) of the queries `store` sends, in order."""
    sent: list = []
    start = store._start_query

    def recorded(text, form, dataset, timeout):
        sent.append(dataset)
        return start(text, form, dataset, timeout)

    store._start_query = recorded
    return sent


def test_a_query_that_cannot_match_the_metadata_graph_is_sent_without_it(virtuoso, writer):
    """kb.store.query_reads: Virtuoso plans a dataset of fewer graphs better; the answer is the same."""
    from kb.store.base import VERSION

    reader = open_store(virtuoso.settings())
    sent = _recording(reader)
    meta = reader.iris.meta_graph
    rows = reader.query(f"SELECT ?s ?o WHERE {{ ?s <{EX}p> ?o }}")
    assert [(r["s"].value, r["o"].value) for r in rows] == [(EX + "a", "1")]
    assert sent[-1] == ([G1], [G1])
    # the version triple is in the metadata graph: a query that can match it gets every graph
    rows = reader.query(f"SELECT ?v WHERE {{ ?d <{VERSION.value}> ?v }}")
    assert [r["v"].value for r in rows] == [writer.version()]
    assert meta in sent[-1][0]
    rows = reader.query("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")  # a variable predicate: every graph
    assert meta in sent[-1][0] and int(next(iter(rows))["n"].value) > 1


def test_a_write_meanwhile_sends_a_query_without_the_metadata_graph_again_with_it(virtuoso, writer):
    reader = open_store(virtuoso.settings())
    sent = _recording(reader)
    q = f"SELECT ?o WHERE {{ <{EX}a> <{EX}p> ?o }}"
    assert [r["o"].value for r in reader.query(q)] == ["1"]
    writer.replace_graph(G1, [t("a", "2")])  # another app server writes: a new KB state
    del sent[:]
    answer = reader.query_answer(q)
    assert [r["o"].value for r in answer.result] == ["2"]
    meta = reader.iris.meta_graph
    # sent without the metadata graph (the vocabulary it knew was the old state's), then again with it
    assert [meta in dataset[0] for dataset in sent] == [False, True]
    assert answer.state == writer.snapshot().state


def _counting_state_reads(store) -> list:
    """The times `store` sends a read of the KB's state (appended to the returned list)."""
    reads: list = []
    start = store._start_snapshot

    def counted(*args, **kwargs):
        reads.append(time.monotonic())
        return start(*args, **kwargs)

    store._start_snapshot = counted
    return reads


def test_within_the_ttl_queries_send_no_state_read_and_are_vouched_for(virtuoso, writer):
    reader = open_store(virtuoso.settings(remote_state_ttl=0.5))
    reads = _counting_state_reads(reader)
    q = f"SELECT ?o WHERE {{ <{EX}a> ?p ?o }}"
    first = reader.query_answer(q)
    assert len(reads) == 1 and first.state == writer.snapshot().state
    answers = [reader.query_answer(q) for _ in range(5)]  # well within 0.5 s of that read
    assert len(reads) == 1
    assert {a.state for a in answers} == {first.state}  # the state read less than the TTL ago
    assert [r["o"].value for r in answers[-1].result] == ["1"]
    reader.snapshot(fresh=True)  # a fresh read is a read whatever the TTL (paged reads, resets)
    assert len(reads) == 2
    time.sleep(0.55)
    reader.query_answer(q)
    assert len(reads) == 3  # older than the TTL: read again, beside the query


def test_a_write_returns_only_when_no_server_can_answer_from_before_it(virtuoso):
    """The TTL's guarantee: a reader that read the state just before a write sees the write in its very next
    query after the write returned (the writer waits out the TTL), without any read of its own in between."""
    writer = open_store(virtuoso.settings(remote_state_ttl=1.0))
    writer.reset()
    writer.replace_graph(G1, [t("a", "1")])
    reader = open_store(virtuoso.settings(remote_state_ttl=1.0))
    q = f"SELECT ?o WHERE {{ <{EX}a> ?p ?o }}"
    assert [r["o"].value for r in reader.query(q)] == ["1"]  # the reader's state is recent now
    started = time.monotonic()
    writer.replace_graph(G1, [t("a", "2")])
    assert time.monotonic() - started >= 1.0  # the write waited out the TTL before it returned
    assert [r["o"].value for r in reader.query(q)] == ["2"]  # seen at once
    writer.replace_graph(G2, [t("new", "3")])  # a new graph: the reader must send its queries with it
    assert bool(reader.query(f'ASK {{ <{EX}new> ?p "3" }}'))
