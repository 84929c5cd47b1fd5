"""What the Linked Data blueprints share: the KB state and caches, input checks, conditional responses,
serialisation, errors in the negotiated format, and gzip.

`server.resources` registers the error handlers and the compression hook for the whole app:
- every HTTP error becomes the status with a clear message in the negotiated format (an HTML page, or an RDF
  document holding one `hydra:Error`), never a traceback; a store that cannot be reached is a 503;
- compressible responses are gzipped when the client accepts it (`Vary: Accept-Encoding`).
Rendered bodies are kept in a small LRU keyed by the KB version, so a write invalidates them all.
"""

from __future__ import annotations

import gzip
import hmac
import logging
import zlib
from typing import Callable

import pyoxigraph as ox
from flask import Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from . import documents, negotiation
from .iris import MAX_PATH, IriMap
from .labels import LabelCache, Vocabulary
from .lru import LRU  # noqa: F401 - re-exported for the modules that type their caches
from .negotiation import DocFormat

log = logging.getLogger("thb-kb")

MAX_QUERY_STRING = 2048
MAX_ACCEPT = 4096
MAX_PAGE = 1_000_000
COMPRESSIBLE = ("text/", "application/ld+json", "application/rdf+xml", "application/n-triples", "application/json",
                "application/xml", "image/svg+xml", "application/sparql-results", "application/n-quads",
                "application/trig")


# -- shared state ------------------------------------------------------------------------------------
def document_weight(value) -> int:
    """Bytes a cached document entry holds (its bodies, or a fast-path record's headers), plus a fixed
    overhead."""
    if isinstance(value, tuple):
        return 200 + sum(len(v) for v in value if isinstance(v, (bytes, str)))
    from .fastpath import route_weight

    return route_weight(value) or 200


def kbx():
    return current_app.extensions["kb"]


def ext_state() -> dict:
    """Per-app state of this module (cache, vocabulary labels, IRI map)."""
    kb = kbx()
    state = current_app.extensions.get("kb.ld")
    if state is None:
        state = current_app.extensions.setdefault(
            "kb.ld", {"cache": LRU(max_entries=50_000, max_bytes=kb.settings["cache_mb"] * 2 * 1024 * 1024 // 3,
                                 sizeof=document_weight),  # KB_CACHE_MB
                      "vocab": Vocabulary(), "imap": IriMap(kb.iris.base), "label_cache": LabelCache()})
    return state


def kb_state():
    """(version, last modified) of the KB, in one query."""
    return state_of(kbx().store)


def state_of(store):
    """(version, last modified) of the KB in `store` (the embedded store keeps it until the next write)."""
    getter = getattr(store, "_version_and_modified", None)
    if getter is not None:
        return getter()
    return store.version(), store.last_modified()


def label_source(version: str):
    """`documents.build`'s `labels`: the label triples of IRIs through this app's per-version LabelCache."""
    kb = kbx()
    cache: LabelCache = ext_state()["label_cache"]
    return lambda iris: cache.triples(kb.store, version, iris)


def vocabulary(version: str) -> Vocabulary:
    kb = kbx()
    return ext_state()["vocab"].refresh(kb.store, kb.iris, version)


# -- input checks --------------------------------------------------------------------------------------
def check_request() -> None:
    """Refuse over-long URLs and Accept headers before any work (414/431, with a message)."""
    if len(request.query_string) > MAX_QUERY_STRING:
        abort_with(414, f"The query string is too long ({len(request.query_string)} bytes; at most "
                        f"{MAX_QUERY_STRING}).")
    if len(request.path) > MAX_PATH + 16:
        abort_with(414, f"The path is too long ({len(request.path)} characters; at most {MAX_PATH}).")
    if len(request.headers.get("Accept", "")) > MAX_ACCEPT:
        abort_with(431, f"The Accept header is too long (at most {MAX_ACCEPT} characters).")


def abort_with(code: int, message: str):
    exc = HTTPException(message)
    exc.code = code
    raise exc


def requested_page() -> int:
    value = request.args.get("page", "1")
    if not value.isdigit() or not 1 <= int(value) <= MAX_PAGE:
        abort_with(400, f"page must be a whole number from 1 to {MAX_PAGE}, not {value[:40]!r}.")
    return int(value)



def alternate_links(url_for: Callable[[DocFormat], str], formats: tuple[DocFormat, ...] = negotiation.FORMATS) -> list[str]:
    return [f'<{url_for(f)}>; rel="alternate"; type="{f.media_type}"; title="{f.label}"' for f in formats]


def not_modified(etag: str, modified) -> bool:
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag.strip('W/"')) or "*" in request.if_none_match
    ims = request.if_modified_since
    return ims is not None and modified.replace(microsecond=0) <= ims


def accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def finish(body: bytes | None, gz: bytes | None, fmt: DocFormat, *, etag: str, modified, links: list[str],
           content_location: str | None, vary: str, status: int = 200) -> Response:
    settings = kbx().settings
    if body is None:
        resp = Response(status=304)
    else:
        use_gz = gz is not None and accepts_gzip()
        resp = Response(gz if use_gz else body, status=status, content_type=fmt.content_type)
        if use_gz:
            resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = vary + ", Accept-Encoding"
    resp.set_etag(etag.strip('W/"'), weak=True)
    resp.last_modified = modified
    resp.headers["Cache-Control"] = settings["cache_control"]
    if content_location:
        resp.headers["Content-Location"] = content_location
    if links:
        resp.headers["Link"] = ", ".join(links)
    return resp


def gzip_bytes(body: bytes) -> bytes | None:
    return gzip.compress(body, compresslevel=5, mtime=0) if len(body) > 600 else None


def pack(body: bytes) -> tuple[bytes, bool]:
    """A body as the document cache keeps it: gzipped when it is big enough to gain (a fifth of the bytes
    of Turtle or HTML: the cache holds five times more documents), and whether it is."""
    gz = gzip_bytes(body)
    return (body, False) if gz is None else (gz, True)


def finish_packed(data: bytes | None, gzipped: bool, fmt: DocFormat, **headers) -> Response:
    """`finish` for a body kept by `pack`: sent as it is to clients that accept gzip, decompressed for the
    others (None: 304)."""
    if data is None or not gzipped:
        return finish(data, None, fmt, **headers)
    if accepts_gzip():
        return finish(data, data, fmt, **headers)  # `finish` sends the gzip form
    return finish(zlib.decompress(data, 16 + zlib.MAX_WBITS), None, fmt, **headers)


def serialize(triples: list[ox.Triple], fmt: DocFormat) -> bytes:
    prefixes = documents.used_prefixes(triples)
    if fmt.name == "jsonld":
        return _jsonld(triples, prefixes)
    if fmt.name == "ntriples":
        return ox.serialize(triples, format=fmt.rdf.ox)
    try:
        return ox.serialize(triples, format=fmt.rdf.ox, prefixes=prefixes)
    except (ValueError, OSError):  # an IRI RDF/XML cannot write as a QName: let rdflib find a way
        from kb import rdfio

        return rdfio.serialize_graph(rdfio.triples_to_graph(triples), fmt.rdf)


def _jsonld(triples: list[ox.Triple], prefixes: dict[str, str]) -> bytes:
    """Compacted JSON-LD (rdflib's conversion, with the prefixes as its context). rdflib lists the nodes in
    the order of a set of subjects, which changes with the interpreter's hash seed: they are sorted by @id
    here, so the bytes are the same in every process (and after a restart). The rest is written as rdflib's
    serialiser writes it (its defaults: native types, sorted keys, an indent of 2)."""
    import json

    from rdflib import Graph
    from rdflib.plugins.serializers.jsonld import from_rdf

    from kb import rdfio

    g = rdfio.triples_to_graph(triples, Graph(bind_namespaces="none"))
    obj = from_rdf(g, prefixes, use_native_types=True, auto_compact=True)
    nodes = obj.get("@graph") if isinstance(obj, dict) else obj
    if isinstance(nodes, list):
        nodes.sort(key=lambda node: str(node.get("@id", "")) if isinstance(node, dict) else "")
    return json.dumps(obj, indent=2, separators=(",", ": "), sort_keys=True, ensure_ascii=False).encode("utf-8", "replace")


def error_response(code: int, title: str, message: str) -> Response:
    fmt = negotiation.error_format(request)
    if fmt.is_html:
        try:
            body = render_template("error.html", code=code, title=title, message=message).encode("utf-8")
        except Exception:  # pragma: no cover - a broken template must not hide the error
            body = f"{code} {title}\n{message}\n".encode("utf-8")
            fmt = negotiation.DocFormat("text", "txt", "text/plain", "text")
    else:
        h = "http://www.w3.org/ns/hydra/core#"
        err = ox.BlankNode()
        triples = [ox.Triple(err, ox.NamedNode(documents.RDF_TYPE.value), ox.NamedNode(h + "Error")),
                   ox.Triple(err, ox.NamedNode(h + "statusCode"), ox.Literal(str(code), datatype=ox.NamedNode(
                       "http://www.w3.org/2001/XMLSchema#integer"))),
                   ox.Triple(err, ox.NamedNode(h + "title"), ox.Literal(title)),
                   ox.Triple(err, ox.NamedNode(h + "description"), ox.Literal(message))]
        body = serialize(triples, fmt)
    resp = Response(body, status=code, content_type=fmt.content_type)
    resp.headers["Vary"] = "Accept"
    resp.headers["Cache-Control"] = "no-store"
    return resp


def http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    resp = error_response(exc.code, exc.name, exc.description or exc.name)
    for key in ("Allow", "Retry-After", "WWW-Authenticate"):
        if exc.get_headers() and key in dict(exc.get_headers()):
            resp.headers[key] = dict(exc.get_headers())[key]
    return resp


def store_down(exc):
    log.warning("store unavailable: %s", exc)
    resp = error_response(503, "Service Unavailable", "The knowledge base store cannot be reached now; try again later.")
    resp.headers["Retry-After"] = "10"
    return resp


def unexpected(exc):
    if isinstance(exc, HTTPException):
        return http_error(exc)
    log.exception("unexpected error on %s", request.path)
    return error_response(500, "Internal Server Error", "The server met an unexpected error; it has been logged.")


def not_acceptable(url_for: Callable[[DocFormat], str], formats: tuple[DocFormat, ...] = negotiation.FORMATS) -> Response:
    resp = Response(negotiation.formats_message(formats) + "\n", status=406, content_type="text/plain; charset=utf-8")
    resp.headers["Vary"] = "Accept"
    resp.headers["Link"] = ", ".join(alternate_links(url_for, formats))
    return resp


def compress(resp: Response) -> Response:
    """gzip compressible responses when the client accepts it (bodies already encoded are left alone)."""
    if (resp.status_code < 200 or resp.status_code in (204, 304) or resp.direct_passthrough or resp.is_streamed
            or "Content-Encoding" in resp.headers or not resp.mimetype.startswith(COMPRESSIBLE)
            or not accepts_gzip()):
        return resp
    data = resp.get_data()
    if len(data) < 600:
        return resp
    resp.set_data(gzip.compress(data, compresslevel=5, mtime=0))
    resp.headers["Content-Encoding"] = "gzip"
    etag, weak = resp.get_etag()
    if etag and not weak:  # other bytes than the identity body: a strong validator would lie (as nginx does)
        resp.set_etag(etag, weak=True)
    vary = resp.headers.get("Vary")
    if not vary:
        resp.headers["Vary"] = "Accept-Encoding"
    elif "accept-encoding" not in vary.lower():
        resp.headers["Vary"] = vary + ", Accept-Encoding"
    return resp


def bearer_refusal(token: str | None) -> str | None:
    """Why the request's `Authorization: Bearer` does not carry `token` (the server's KB_WRITE_TOKEN):
    "disabled" (no token is set), "missing" (no bearer header) or "wrong" (compared in constant time);
    None when it does. Writes (/graphs) and the admin API (/sparql/queries) both ask it."""
    if not token:
        return "disabled"
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "missing"
    if not hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
        return "wrong"
    return None
