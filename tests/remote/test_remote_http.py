"""The remote store's HTTP (kb/store/remote_http.py), on a real Virtuoso: queries reuse pooled keep-alive
connections (also from many threads), a pooled connection the store closed is replaced without an error,
and a query URL that asks for authentication is answered through the digest-authenticated path."""

from __future__ import annotations

import threading

import pytest

from faultservers import CountingProxy
from kb.store import StoreError, open_store

ASK = "ASK { ?s ?p ?o }"


@pytest.fixture()
def proxy(virtuoso):
    p = CountingProxy(virtuoso.http_port)
    yield p
    p.close()


def test_queries_reuse_one_connection(virtuoso, proxy):
    # the state read beside every query (no TTL): two requests in flight at a time
    store = open_store(virtuoso.settings(store="sparql+" + proxy.url(), remote_state_ttl=0))
    for _ in range(20):
        store.query(ASK)
        store.version()
    assert proxy.connections == 2  # 40 queries; a query and the read of the KB's state go at the same time


def test_threads_share_the_pool(virtuoso, proxy):
    store = open_store(virtuoso.settings(store="sparql+" + proxy.url()))
    errors = []

    def work():
        try:
            for _ in range(10):
                list(store.query("SELECT ?s WHERE { ?s ?p ?o } LIMIT 3"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert proxy.connections <= 16  # 80 queries: at most two per thread at a time (a query, its state read)


def test_a_connection_the_store_closed_is_replaced_without_an_error(virtuoso):
    proxy = CountingProxy(virtuoso.http_port, drop_second=True)
    try:
        store = open_store(virtuoso.settings(store="sparql+" + proxy.url(), remote_state_ttl=0))
        versions = {store.version() for _ in range(5)}  # one request each (no TTL)
        assert len(versions) == 1
        assert proxy.connections == 5 and proxy.dropped == 4  # each reuse met a closed connection: sent again
    finally:
        proxy.close()


def test_a_query_url_that_asks_for_authentication(virtuoso):
    store = virtuoso.empty_store(store="sparql+" + virtuoso.update_url)  # digest for every request
    store.register_graphs([])
    assert bool(store.query(ASK)) is not None and store.version() != "empty"
    anonymous = open_store(virtuoso.settings(store="sparql+" + virtuoso.update_url, sparql_user=None))
    with pytest.raises(StoreError, match="refused the credentials"):
        anonymous.version()
