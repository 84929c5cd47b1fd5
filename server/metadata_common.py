"""What the harvester-facing endpoints share: a per-KB-version cache, the web root, and serving a small
rdflib graph in the RDF format (or HTML page) the client asks for, with validators.

Metadata (VoID statistics, counts, sitemaps) is computed once per KB version: the version token changes on
every write, so a cached value is never stale and never needs an expiry.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Callable

from flask import Response, current_app, render_template, request
from rdflib import Graph

from kb import rdfio
from kb.namespaces import PREFIXES
from kb.store import StoreError

from . import negotiation

# The RDF formats of metadata documents, first = default for clients that accept anything.
RDF_FORMATS = tuple(rdfio.BY_NAME[n] for n in ("turtle", "jsonld", "rdfxml", "ntriples"))
HTML = "text/html"
_lock = threading.Lock()


def kb():
    return current_app.extensions["kb"]


def per_version(name: str, compute: Callable[[Any], Any]) -> tuple[str, Any]:
    """(version, value): `compute(kb)` runs once per KB version and per app. Concurrent requests after a
    write wait for the one computation instead of all running it (statistics of a large KB take seconds)."""
    state = kb()
    version = state.store.version()
    cache = current_app.extensions.setdefault("thb-per-version", {})
    entry = cache.get(name)
    if entry is not None and entry[0] == version:
        return entry
    with _lock:
        name_lock = current_app.extensions.setdefault("thb-per-version-locks", {}).setdefault(name, threading.Lock())
    with name_lock:
        entry = cache.get(name)
        if entry is not None and entry[0] == version:
            return entry
        value = compute(state)
        cache[name] = (version, value)
    return version, value


def select_all(store, select: str, order_by: str) -> list:
    """Every row of a SELECT, even from a store that caps results (Virtuoso's ResultSetMaxRows, signalled
    by the remote store as a StoreError with `.limit`): then again in ordered pages below the cap."""
    try:
        return list(store.query(select))
    except StoreError as exc:
        limit = getattr(exc, "limit", None)
        if not limit:
            raise
    page, rows = max(1, int(limit) - 1), []
    while True:
        chunk = list(store.query(f"{select} ORDER BY {order_by} LIMIT {page} OFFSET {len(rows)}"))
        rows += chunk
        if len(chunk) < page:
            return rows


def web_root() -> str:
    """Where this server is reached, ending with '/' (honours the proxy fix when configured)."""
    return request.url_root


class NotAcceptable(Exception):
    pass


def negotiate(*, html: bool) -> str:
    """The format name ('html' or an rdfio format name) from `?format=` or the Accept header: the rules of
    the entity documents (server.negotiation), except that a client that accepts anything gets Turtle."""
    try:
        fmt = negotiation.param_format(request)
    except ValueError as exc:
        raise NotAcceptable(str(exc).splitlines()[0]) from None
    if fmt is None:
        fmt = negotiation.negotiate(request.accept_mimetypes, rdf_only=not html, rdf_first=True)
        if fmt is None:
            raise NotAcceptable("none of the offered formats is acceptable")
    if fmt.is_html and not html:
        raise NotAcceptable("HTML is not offered here")
    return fmt.name


def not_acceptable(message: str, *, html: bool) -> Response:
    offered = [f.media_type for f in RDF_FORMATS] + ([HTML] if html else [])
    text = f"406 Not Acceptable: {message}.\nAvailable formats: {', '.join(offered)}\n"
    return Response(text, 406, mimetype="text/plain")


def serialize(graph: Graph, fmt_name: str) -> bytes:
    fmt = rdfio.BY_NAME[fmt_name]
    data = rdfio.serialize_graph(graph, fmt, prefixes=PREFIXES)
    assert data is not None
    return data


def rdf_response(build: Callable[[], Graph], *, cache_name: str, template: str | None = None,
                 context: Callable[[Graph], dict] | None = None) -> Response:
    """Serve the graph from `build()` in the negotiated format, cached per KB version, web root and format,
    with ETag, Last-Modified, Vary, Link rel=alternate and 304 on If-None-Match / If-Modified-Since."""
    html = template is not None
    try:
        fmt = negotiate(html=html)
    except NotAcceptable as exc:
        return not_acceptable(str(exc), html=html)
    root = web_root()
    version, rendered = per_version(cache_name, lambda _kb: {})
    key = (root, fmt)
    body = rendered.get(key)
    if body is None:
        graph = build()
        if fmt == "html":
            body = render_template(template, graph=graph, turtle=serialize(graph, "turtle").decode(),
                                   formats=RDF_FORMATS, **(context(graph) if context else {})).encode()
        else:
            body = serialize(graph, fmt)
        if len(rendered) > 64:  # the Host header varies the root: keep the cache bounded
            rendered.clear()
        rendered[key] = body
    mimetype = "text/html" if fmt == "html" else rdfio.BY_NAME[fmt].media_type
    resp = Response(body, mimetype=mimetype)
    if mimetype.startswith("text/") and "charset" not in resp.content_type:
        resp.content_type = f"{mimetype}; charset=utf-8"
    tag = hashlib.sha1(f"{version}|{cache_name}|{root}|{fmt}".encode()).hexdigest()[:20]
    resp.set_etag(tag)
    resp.last_modified = kb().store.last_modified()
    resp.headers["Cache-Control"] = kb().settings["cache_control"]
    resp.vary.add("Accept")
    path = request.path
    links = [f'<{path}?format={f.name}>; rel="alternate"; type="{f.media_type}"' for f in RDF_FORMATS]
    if html:
        links.append(f'<{path}?format=html>; rel="alternate"; type="text/html"')
    resp.headers["Link"] = ", ".join(links)
    return resp.make_conditional(request)
