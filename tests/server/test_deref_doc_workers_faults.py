"""A document worker that dies while it builds a document never loses the request: the serving process builds
it (the same response) and the worker is replaced. A document that takes longer than the query timeout is
stopped like a query: 503 with a message and Retry-After, and the worker is replaced."""

from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from doc_worker_apps import (HUB, another_request_in_flight, busy_worker, close, disk_app, hub_quads, wait_idle,
                             without_workers)
from ld_sample_data import BASE

N_EVENTS = 12_000  # one document lists them all (a big page): it takes a while to build
URL = f"/doc/{HUB[len(BASE) + 3:]}.ttl"


@pytest.fixture(scope="module")
def hub_app(tmp_path_factory):
    app = disk_app(tmp_path_factory.mktemp("docworkers-hub") / "store", hub_quads(N_EVENTS),
                   page_size=2 * N_EVENTS, query_timeout=60.0)
    with another_request_in_flight(app):  # a lone request would be built in-process
        yield app
    close(app)


@pytest.fixture(scope="module")
def impatient_app(tmp_path_factory):
    app = disk_app(tmp_path_factory.mktemp("docworkers-timeout") / "store", hub_quads(N_EVENTS),
                   page_size=2 * N_EVENTS, query_timeout=0.2)
    with another_request_in_flight(app):
        yield app
    close(app)


def test_a_worker_killed_while_building_a_document_does_not_lose_the_request(hub_app):
    client = hub_app.test_client()
    pool = hub_app.extensions["sparql"].pool
    wait_idle(pool)
    documents, replaced = pool.documents, pool.replaced
    with ThreadPoolExecutor(1) as executor:
        request = executor.submit(client.get, URL)
        worker = busy_worker(pool)
        os.kill(worker.pid, signal.SIGKILL)
        response = request.result(timeout=120)
    assert response.status_code == 200
    assert pool.documents == documents, "the worker died before it answered"
    assert pool.replaced == replaced + 1
    with without_workers(hub_app):
        here = client.get(URL)
    assert response.get_data() == here.get_data() and response.headers["ETag"] == here.headers["ETag"]
    assert len(set(re.findall(r"hub-event-[0-9]+>", response.get_data(as_text=True)))) == N_EVENTS
    wait_idle(pool)  # a replacement started, and builds documents again
    from server import docworkers

    docworkers.enable(hub_app)
    hub_app.extensions["kb.ld"]["cache"].clear()
    assert client.get(URL).status_code == 200 and pool.documents == documents + 1


def test_a_document_past_the_timeout_is_stopped_with_503(impatient_app):
    client = impatient_app.test_client()
    pool = impatient_app.extensions["sparql"].pool
    wait_idle(pool)
    replaced = pool.replaced
    started = time.monotonic()
    r = client.get(URL)
    elapsed = time.monotonic() - started
    assert r.status_code == 503
    text = r.get_data(as_text=True)
    assert "longer than 0.2 s" in text and "stopped" in text
    assert r.headers["Retry-After"] == "5"
    assert elapsed < 5.0
    assert pool.replaced == replaced + 1
    wait_idle(pool)
