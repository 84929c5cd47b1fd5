"""The entity documents the cache holds, answered again without going through Flask.

Most `/doc/` requests ask for a document the cache already holds, and then Flask's own work (request
context, routing, hooks, the response object) is most of what the serving process does: that process is one
GIL, and it is the server's narrowest point. This WSGI middleware sits in front of the Flask app (inside
`ProxyFix`, so the forwarded prefix and host are applied first):

* The first time, a request goes through Flask. When the document view answers 200 from the document cache,
  it notes in the WSGI environ the cache key of the body and the KB version; the middleware records the
  status and headers Flask sent (all of them), under the request's own key: the path (as routed, and as sent,
  escapes and all), the query string, the script root, the host, the scheme, and the exact `Accept`,
  `Accept-Language` and `Accept-Encoding` headers (what the response varies on).
* A later request with the same key, at the same KB version, whose body is still in the cache, gets those
  headers and the same body (the gzip form, or decompressed, as the first one got): the same bytes. It is
  counted in `/metrics` like the others.
* Anything else goes through Flask: other paths and methods, conditional requests (`If-None-Match`,
  `If-Modified-Since`, ...), ranges and Memento requests (`Accept-Datetime`: the document is its own
  TimeGate), another KB version (every write), a body that has left the cache.

The records are kept in the document cache itself (weighed by their headers; the Link header, the longest, is
read from the document's entry), so KB_CACHE_MB bounds them.
"""

from __future__ import annotations

import threading
import time
import zlib
from typing import NamedTuple

NOTE = "thb.doc"  # environ key: (version, cache key, gzipped body sent) set by the document view
_BYPASS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE",
           "HTTP_IF_RANGE", "HTTP_RANGE", "HTTP_ACCEPT_DATETIME")  # the last: a Memento TimeGate request
ENDPOINT = "/doc/<path:_path>"
# what a document response depends on: the path as routed and as sent (escapes are significant: server.iris),
# the query, where the app is mounted, and the headers the response varies on
_KEY = ("PATH_INFO", "RAW_URI", "REQUEST_URI", "QUERY_STRING", "SCRIPT_NAME", "SERVER_SOFTWARE", "HTTP_HOST",
        "wsgi.url_scheme", "HTTP_ACCEPT", "HTTP_ACCEPT_LANGUAGE", "HTTP_ACCEPT_ENCODING")


class Route(NamedTuple):  # a tuple of strings: the garbage collector stops tracking it
    version: str
    doc_key: tuple
    gzipped: bool             # the body sent is the cache's gzip form (else it is decompressed)
    status: str
    headers: tuple[tuple[str, str | None], ...]  # None: the Link header of the document's cache entry


def _weight(route: Route) -> int:
    return 300 + sum(len(k) + len(v or "") for k, v in route.headers)


class DocFastPath:
    def __init__(self, app, inner):
        self.app = app
        self.inner = inner
        self.hits = 0  # requests answered here (for tests; /metrics counts them with the others)
        self.in_flight = 0  # /doc/ requests being answered now (server.docworkers: is this one alone?)
        self._lock = threading.Lock()
        app.extensions["kb.fastpath"] = self

    def _key(self, environ) -> tuple | None:
        if any(h in environ for h in _BYPASS):
            return None
        return ("route", *(environ.get(name) for name in _KEY))

    def _cache(self):
        state = self.app.extensions.get("kb.ld")
        return None if state is None else state["cache"]

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or not environ.get("PATH_INFO", "").startswith("/doc/"):
            return self.inner(environ, start_response)
        with self._lock:
            self.in_flight += 1
        try:
            key = self._key(environ) if environ["REQUEST_METHOD"] == "GET" else None
            if key is None:
                return self.inner(environ, start_response)
            return self._answer(key, environ, start_response)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, key: tuple, environ, start_response):
        started = time.perf_counter()
        cache = self._cache()  # made by the first request
        route: Route | None = cache.get(key) if cache is not None else None
        if route is not None:
            entry = self._entry(route, cache)
            if entry is not None:
                data, gzipped, link = entry[0], entry[1], entry[2]
                if gzipped and not route.gzipped:
                    data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
                start_response(route.status, [(k, link if v is None else v) for k, v in route.headers])
                self.hits += 1
                self._count(route.status, started)
                return [data]
        captured: list = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.inner(environ, capture)
        note = environ.get(NOTE)
        cache = self._cache()
        if note is not None and cache is not None and captured and captured[0].startswith("200 "):
            version, doc_key, gzipped = note
            entry = cache.get(doc_key)
            if entry is not None:  # the Link header (the longest) is the entry's: not kept twice
                headers = tuple((k, None) if k == "Link" and v == entry[2] else (k, v) for k, v in captured[1])
                cache.put(key, Route(version, doc_key, gzipped, captured[0], headers))
        return result

    def _entry(self, route: Route, cache):
        """The document cache's entry of `route`: None when the KB has moved on or it has left the cache."""
        from .http_common import state_of

        if state_of(self.app.extensions["kb"].store)[0] != route.version:
            return None
        return cache.get(route.doc_key)

    def _count(self, status: str, started: float) -> None:
        metrics = self.app.extensions.get("thb-metrics")
        if metrics is not None:
            metrics["requests"].labels(ENDPOINT, "GET", status.split(" ", 1)[0]).inc()
            metrics["latency"].labels(ENDPOINT).observe(time.perf_counter() - started)


def route_weight(value) -> int | None:
    """The weight of a record in the document cache (None: not a record)."""
    return _weight(value) if isinstance(value, Route) else None
