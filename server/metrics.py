"""`/metrics` in the Prometheus text format (version 0.0.4), with prometheus_client.

Each app has its own registry (no process-global state, so several apps in one process, as in the tests,
do not mix their numbers). Requests are counted by endpoint (the URL rule, so the label set stays small),
method and status; latency goes into a histogram per endpoint. The KB's own numbers (store reachable,
triples, version, last write) are read at scrape time; the triple count is
counted once per KB version in the background (shared with /healthz).

With several gunicorn worker processes each worker counts its own requests (the default is one worker with
threads, because the embedded store allows one process).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (CollectorRegistry, Counter, Histogram, ProcessCollector, disable_created_metrics,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

from kb.store import StoreError

from .home import triple_count

COUNT_WAIT = 5.0  # seconds a scrape waits for the triple count in progress

bp = Blueprint("metrics", __name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
disable_created_metrics()  # the *_created series only add noise to a scrape
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class KBCollector:
    """Numbers read from the store when Prometheus scrapes (needs the request's app context)."""

    def __init__(self, started: float):
        self.started = started

    def collect(self):
        up = GaugeMetricFamily("thb_kb_store_up", "1 if the store answered the last scrape, else 0")
        uptime = GaugeMetricFamily("thb_kb_uptime_seconds", "Seconds since this server process started")
        uptime.add_metric([], time.time() - self.started)
        yield uptime
        state = current_app.extensions["kb"]
        store = state.store
        try:
            store.query("ASK { }")  # a real round trip: the version and the count may come from caches
            version = store.version()
            modified = store.last_modified()
        except StoreError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        # counted once per version in the background, shared with /healthz; absent while a large store is
        # still being counted (right after start or a write), rather than a scrape that times out
        triples = triple_count(state).get(version, wait=COUNT_WAIT)
        if triples is not None:
            t = GaugeMetricFamily("thb_kb_store_triples", "Triples (quads) in the store, all named graphs")
            t.add_metric([], triples)
            yield t
        m = GaugeMetricFamily("thb_kb_last_modified_timestamp_seconds", "Time of the last write to the KB")
        m.add_metric([], modified.timestamp())
        yield m
        sparql = current_app.extensions.get("sparql")
        if sparql is not None:
            running = GaugeMetricFamily("thb_kb_sparql_running_queries",
                                        "SPARQL queries being evaluated or answered now (GET /sparql/queries)")
            running.add_metric([], len(sparql.running))
            yield running
        info = InfoMetricFamily("thb_kb_version", "The KB version token (changes on every write) and the store")
        info.add_metric([], {"version": version, "store": store.describe()})
        yield info


def _setup(state) -> None:
    app = state.app
    registry = CollectorRegistry(auto_describe=False)
    metrics = {
        "registry": registry,
        "requests": Counter("thb_kb_http_requests", "HTTP requests answered, by endpoint, method and status",
                            ["endpoint", "method", "status"], registry=registry),
        "latency": Histogram("thb_kb_http_request_duration_seconds",
                             "Time to produce the response, by endpoint", ["endpoint"], buckets=BUCKETS,
                             registry=registry),
        "documents": Counter("thb_kb_documents_built", "Entity documents built (the others come from the cache), "
                             "by where: a worker process or the serving process", ["where"], registry=registry),
    }
    ProcessCollector(registry=registry)
    registry.register(KBCollector(time.time()))
    app.extensions["thb-metrics"] = metrics


bp.record_once(_setup)


@bp.before_app_request
def _start_timer():
    g.thb_started = time.perf_counter()


@bp.after_app_request
def _count(response):
    metrics = current_app.extensions.get("thb-metrics")
    started = g.pop("thb_started", None)
    if metrics is None or started is None:
        return response
    endpoint = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    metrics["requests"].labels(endpoint, request.method, str(response.status_code)).inc()
    metrics["latency"].labels(endpoint).observe(time.perf_counter() - started)
    return response


@bp.get("/metrics")
def metrics():
    registry = current_app.extensions["thb-metrics"]["registry"]
    resp = Response(generate_latest(registry), content_type=CONTENT_TYPE)
    resp.headers["Cache-Control"] = "no-store"
    return resp
