"""/healthz (200 with version and size; 503 when the store is down) and /metrics (Prometheus text format)."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import make_settings
from kb.namespaces import Iris
from kb.store import StoreUnavailable
from kb.store.oxigraph import OxigraphStore


class FlakyStore(OxigraphStore):
    """Fault injection: a real in-memory Oxigraph store whose reads fail while `down` is set, the way the
    remote store fails when its server is unreachable."""

    down = False

    def query(self, sparql, **kwargs):
        if self.down:
            raise StoreUnavailable("the store does not answer (injected fault)")
        return super().query(sparql, **kwargs)


@pytest.fixture()
def flaky_app(metadata_store):
    from server import create_app

    store = FlakyStore(Iris(make_settings()["base_iri"]))
    store.apply(insert=list(metadata_store.quads()))
    app = create_app(make_settings(), store=store, load_if_empty=False)
    app.testing = True
    return app, store


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(fams, family, name=None, **labels):
    for s in fams[family].samples:
        if (name is None or s.name == name) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError((family, name, labels))


def test_healthz_reports_the_store(metadata_app, metadata_store):
    client = metadata_app.test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 200
    data = resp.get_json()
    deadline = time.monotonic() + 10
    while data["triples"] is None and time.monotonic() < deadline:  # counted in the background
        time.sleep(0.02)
        data = client.get("/healthz").get_json()
    assert data["status"] == "ok"
    assert data["version"] == metadata_store.version()
    assert data["triples"] == metadata_store.count()
    assert data["last_modified"] == metadata_store.last_modified().isoformat()


@pytest.mark.oxigraph_only  # a subclass of the embedded store
def test_healthz_503_when_the_store_is_down(flaky_app):
    app, store = flaky_app
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    store.down = True
    resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["status"] == "unavailable" and "injected fault" in resp.get_json()["error"]
    # /metrics still answers, and says the store is down
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert sample(families(metrics.get_data(as_text=True)), "thb_kb_store_up") == 0
    store.down = False
    assert client.get("/healthz").status_code == 200


def test_metrics_parse_and_count_requests(metadata_app, metadata_store):
    client = metadata_app.test_client()
    for _ in range(3):
        client.get("/robots.txt")
    client.get("/no/such/page")
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    fams = families(resp.get_data(as_text=True))  # the official parser accepts the whole text
    reqs = "thb_kb_http_requests"
    assert sample(fams, reqs, endpoint="/robots.txt", method="GET", status="200") == 3
    assert sample(fams, reqs, endpoint="(unmatched)", method="GET", status="404") == 1
    assert fams["thb_kb_http_request_duration_seconds"].type == "histogram"
    assert sample(fams, "thb_kb_http_request_duration_seconds", "thb_kb_http_request_duration_seconds_count",
                  endpoint="/robots.txt") == 3
    assert sample(fams, "thb_kb_store_triples") == metadata_store.count()
    assert sample(fams, "thb_kb_store_up") == 1
    assert sample(fams, "thb_kb_version_info", version=metadata_store.version()) == 1
    assert sample(fams, "thb_kb_uptime_seconds") >= 0
    assert sample(fams, "thb_kb_last_modified_timestamp_seconds") == pytest.approx(
        metadata_store.last_modified().timestamp())
    # the next scrape sees the previous one
    again = families(client.get("/metrics").get_data(as_text=True))
    assert sample(again, reqs, endpoint="/metrics", method="GET", status="200") == 1
