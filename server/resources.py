"""Dereferencing: `/id/...` answers 303 to a document; `/doc/...[.ext]` serves it in five formats.

`GET /id/{path}` -> `303 See Other` to `/doc/{path}` (HTML, for browsers) or `/doc/{path}.{ext}` (the RDF
format the `Accept` header prefers). `/doc/{path}` negotiates; `/doc/{path}.{ext}` is one format. Responses
carry `Vary`, `Content-Location`, typed `Link: rel=alternate` for every format, `ETag`/`Last-Modified` from the
KB version (304 on `If-None-Match`/`If-Modified-Since`), `Cache-Control` from the settings, and are gzipped
when the client accepts it (the `after_app_request` hook below, for every compressible response).
Rendered bodies are kept in a small LRU keyed by the KB version, so a write invalidates them all.

Errors (this blueprint registers the app's HTTP error handlers): the status with a clear message in the
negotiated format (HTML page, or an RDF document holding one `hydra:Error`), never a traceback.
"""

from __future__ import annotations

import gzip
import logging
import re
import threading
from collections import OrderedDict
from urllib.parse import unquote
from typing import Callable

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from kb.store.base import StoreUnavailable

from . import documents, negotiation
from .entity_view import EntityView
from .iris import MAX_PATH, IriMap, path_candidates, raw_path
from .labels import Vocabulary, explicit_lang, reader_languages
from .negotiation import HTML, DocFormat

bp = Blueprint("resources", __name__)
log = logging.getLogger("thb-kb")

MAX_QUERY_STRING = 2048
MAX_ACCEPT = 4096
MAX_PAGE = 1_000_000
COMPRESSIBLE = ("text/", "application/ld+json", "application/rdf+xml", "application/n-triples", "application/json",
                "application/xml", "image/svg+xml", "application/sparql-results", "application/n-quads",
                "application/trig")
_BAD_IRI_CHARS = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f]')
_TIMELINE_KINDS = ("Agency", "Action", "Programme")
READING_LANGUAGES = (("en", "English"), ("fr", "Français"))  # the languages the ontology labels are in


class BadInput(HTTPException):
    code = 400


# -- shared state ------------------------------------------------------------------------------------
class LRU:
    def __init__(self, size: int = 2048):
        self.size, self.data, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key, value):
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


def kbx():
    return current_app.extensions["kb"]


def ext_state() -> dict:
    """Per-app state of this module (cache, vocabulary labels, IRI map)."""
    kb = kbx()
    state = current_app.extensions.get("kb.ld")
    if state is None:
        state = current_app.extensions.setdefault(
            "kb.ld", {"cache": LRU(), "vocab": Vocabulary(), "imap": IriMap(kb.iris.base)})
    return state


def kb_state():
    """(version, last modified) of the KB, in one query."""
    store = kbx().store
    getter = getattr(store, "_version_and_modified", None)
    if getter is not None:
        return getter()
    return store.version(), store.last_modified()


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


def resolve(raw: bytes) -> str | None:
    """The path (under {base}id/) of the thing a raw URL path names, or None when the KB does not describe
    it. Raises 400 for paths that cannot name an IRI."""
    if not raw or raw.endswith(b"/"):
        return None
    candidates = path_candidates(raw)
    if not candidates:
        abort_with(400, "The path is not valid UTF-8 after %-decoding.")
    decoded = unquote(raw.decode("ascii", "replace"), errors="replace")
    if any(seg in (".", "..") for seg in decoded.split("/")):
        abort_with(400, "Path segments '.' and '..' are not allowed (no traversal).")
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in decoded):
        abort_with(400, "The path holds control characters.")
    imap = ext_state()["imap"]
    ok = [c for c in candidates if not _BAD_IRI_CHARS.search(c) and "#" not in c]
    if not ok:
        return None
    found = _described([imap.thing_iri(c) for c in ok])
    for c in ok:
        if imap.thing_iri(c) in found:
            return c
    return None


def _described(iris: list[str]) -> set[str]:
    """Which of these IRIs the KB describes (one query; IRIs the query parser refuses are skipped)."""
    store = kbx().store
    try:
        values = " ".join(f"<{i}>" for i in iris)
        return {row["s"].value for row in store.query(
            f"SELECT ?s WHERE {{ VALUES ?s {{ {values} }} FILTER EXISTS {{ ?s ?p ?o }} }}")}
    except (SyntaxError, ValueError):
        found = set()
        for i in iris:
            try:
                if store.query(f"ASK {{ <{i}> ?p ?o }}"):
                    found.add(i)
            except (SyntaxError, ValueError):
                continue
        return found


# -- responses ------------------------------------------------------------------------------------------
def alternate_links(url_for: Callable[[DocFormat], str]) -> list[str]:
    return [f'<{url_for(f)}>; rel="alternate"; type="{f.media_type}"; title="{f.label}"' for f in negotiation.FORMATS]


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


def serialize(triples: list[ox.Triple], fmt: DocFormat) -> bytes:
    prefixes = documents.used_prefixes(triples)
    if fmt.name == "jsonld":
        from rdflib import Graph

        from kb import rdfio

        g = rdfio.triples_to_graph(triples, Graph(bind_namespaces="none"))
        return g.serialize(format="json-ld", context=prefixes, auto_compact=True, encoding="utf-8")
    if fmt.name == "ntriples":
        return ox.serialize(triples, format=fmt.rdf.ox)
    try:
        return ox.serialize(triples, format=fmt.rdf.ox, prefixes=prefixes)
    except (ValueError, OSError):  # an IRI RDF/XML cannot write as a QName: let rdflib find a way
        from kb import rdfio

        return rdfio.serialize_graph(rdfio.triples_to_graph(triples), fmt.rdf)


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


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    if exc.code is None or exc.code < 400:
        return exc
    resp = error_response(exc.code, exc.name, exc.description or exc.name)
    for key in ("Allow", "Retry-After", "WWW-Authenticate"):
        if exc.get_headers() and key in dict(exc.get_headers()):
            resp.headers[key] = dict(exc.get_headers())[key]
    return resp


@bp.app_errorhandler(StoreUnavailable)
def store_down(exc):
    log.warning("store unavailable: %s", exc)
    resp = error_response(503, "Service Unavailable", "The knowledge base store cannot be reached now; try again later.")
    resp.headers["Retry-After"] = "10"
    return resp


@bp.app_errorhandler(Exception)
def unexpected(exc):
    if isinstance(exc, HTTPException):
        return http_error(exc)
    log.exception("unexpected error on %s", request.path)
    return error_response(500, "Internal Server Error", "The server met an unexpected error; it has been logged.")


def not_acceptable(url_for: Callable[[DocFormat], str]) -> Response:
    resp = Response(negotiation.formats_message() + "\n", status=406, content_type="text/plain; charset=utf-8")
    resp.headers["Vary"] = "Accept"
    resp.headers["Link"] = ", ".join(alternate_links(url_for))
    return resp


@bp.after_app_request
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
    vary = resp.headers.get("Vary")
    if not vary:
        resp.headers["Vary"] = "Accept-Encoding"
    elif "accept-encoding" not in vary.lower():
        resp.headers["Vary"] = vary + ", Accept-Encoding"
    return resp


bp.before_request(check_request)


# -- routes ---------------------------------------------------------------------------------------------
def _rest(prefix: bytes) -> bytes:
    raw = raw_path(request)
    return raw[len(prefix):] if raw.startswith(prefix) else raw.rpartition(b"/")[2]


@bp.get("/id/<path:_path>")
def thing(_path: str):
    imap = ext_state()["imap"]
    path = resolve(_rest(b"/id/"))
    fmt = negotiation.request_format(request)
    if path is None:
        abort_with(404, "The knowledge base does not describe this IRI.")
    if fmt is None:
        return not_acceptable(lambda f: imap.doc_url(path, f.suffix, request.script_root))
    target = imap.doc_url(path, None if fmt.is_html else fmt.suffix)
    lang = explicit_lang(request)
    location = request.root_url.rstrip("/") + target + (f"?lang={lang}" if lang else "")
    resp = Response(f"See {location}\n", status=303, content_type="text/plain; charset=utf-8")
    resp.headers["Location"] = location
    resp.headers["Vary"] = "Accept"
    resp.headers["Cache-Control"] = kbx().settings["cache_control"]
    return resp


def _resolve_document(raw: bytes) -> tuple[str, DocFormat | None]:
    """(thing path, format named by the suffix or None) of a raw /doc/ path; 404 when not described."""
    stem_raw, ext = negotiation.split_suffix(raw.decode("ascii", "replace"))
    if ext is not None and ext in negotiation.BY_SUFFIX:
        path = resolve(stem_raw.encode("ascii"))
        if path is not None:
            return path, negotiation.BY_SUFFIX[ext]
    path = resolve(raw)
    if path is None and ext is not None and ext not in negotiation.BY_SUFFIX and resolve(stem_raw.encode("ascii")):
        abort_with(404, f"Unknown format suffix .{ext[:20]}; known suffixes: {negotiation.suffix_list()}.")
    if path is None:
        abort_with(404, "The knowledge base does not describe this resource.")
    return path, None


@bp.get("/doc/<path:_path>")
def document(_path: str):
    kb = kbx()
    state = ext_state()
    imap: IriMap = state["imap"]
    cache: LRU = state["cache"]
    raw = _rest(b"/doc/")
    page = requested_page()
    version, modified = kb_state()
    resolved = cache.get(("resolve", version, raw))
    if resolved is None:
        resolved = _resolve_document(raw)
        cache.put(("resolve", version, raw), resolved)
    path, fmt = resolved
    negotiated = fmt is None
    root = request.script_root
    if negotiated:
        fmt = negotiation.request_format(request)
        if fmt is None:
            return not_acceptable(lambda f: imap.doc_url(path, f.suffix, root))
    langs = reader_languages(request) if fmt.is_html else []
    lang_q = explicit_lang(request) if fmt.is_html else None
    etag = f"{version}-{fmt.suffix}-{page}" + (f"-{'.'.join(langs)}" if fmt.is_html else "")
    vary = ("Accept, Accept-Language" if negotiated else "Accept-Language") if fmt.is_html else "Accept"
    key = (version, path, fmt.name, page, tuple(langs), root, lang_q, negotiated)
    hit = cache.get(key)
    if hit is None:
        if not_modified(etag, modified):  # a client's copy of a page this process has not rendered yet
            return finish(None, None, fmt, etag=etag, modified=modified,
                          links=_links(imap, path, fmt, page, None, negotiated, root),
                          content_location=_content_location(imap, path, fmt, page, negotiated, root), vary=vary)
        doc = documents.build(kb.store, imap, path, page=page, page_size=kb.settings["page_size"],
                              modified=modified, license_iri=kb.settings.get("license"))
        if doc is None:
            abort_with(404, f"This document has no page {page}.")
        body = render_html(doc, version, langs, lang_q, root) if fmt.is_html else serialize(doc.triples(), fmt)
        hit = (body, gzip_bytes(body), _links(imap, path, fmt, page, doc.pages, negotiated, root),
               _content_location(imap, path, fmt, page, negotiated, root))
        cache.put(key, hit)
    body, gz, links, content_location = hit
    if not_modified(etag, modified):
        body = gz = None
    return finish(body, gz, fmt, etag=etag, modified=modified, links=links,
                  content_location=content_location, vary=vary)


def _content_location(imap: IriMap, path: str, fmt: DocFormat, page: int, negotiated: bool, root: str) -> str | None:
    return imap.doc_url(path, fmt.suffix, root) + (f"?page={page}" if page > 1 else "") if negotiated else None


def _links(imap: IriMap, path: str, fmt: DocFormat, page: int, pages: int | None, negotiated: bool,
           root: str) -> list[str]:
    """Link header values: an alternate per format, the thing described, the licence, the pages."""
    settings = kbx().settings
    page_q = f"?page={page}" if page > 1 else ""
    links = alternate_links(lambda f: imap.doc_url(path, f.suffix, root) + page_q)
    links.append(f'<{imap.thing_iri(path)}>; rel="describes"')
    if settings.get("license"):
        links.append(f'<{settings["license"]}>; rel="license"')
    if pages and pages > 1:
        def page_url(k: int) -> str:
            return imap.doc_url(path, None if negotiated else fmt.suffix, root) + (f"?page={k}" if k > 1 else "")

        links += [f'<{page_url(1)}>; rel="first"', f'<{page_url(pages)}>; rel="last"']
        if page > 1:
            links.append(f'<{page_url(page - 1)}>; rel="prev"')
        if page < pages:
            links.append(f'<{page_url(page + 1)}>; rel="next"')
    return links


def render_html(doc: documents.Document, version: str, langs: list[str], lang_q: str | None, root: str) -> bytes:
    from . import timeline

    kb = kbx()
    imap: IriMap = ext_state()["imap"]
    vocab = vocabulary(version)
    view = EntityView(doc, vocab, imap, langs, root, lang_q)
    ctx = view.context()
    svg = None
    if ctx["kind"] in _TIMELINE_KINDS:
        events, cut = timeline.events_for(kb.store, doc.subject, ctx["kind"], langs)
        if events:
            svg = timeline.render_svg(events, lambda i: view.href(i) or "#", langs,
                                      f"Timeline of the {len(events)} events of {ctx['title']}")
            ctx["timeline_cut"] = cut
    alternates = [(f, imap.doc_url(doc.path, f.suffix, root)) for f in negotiation.FORMATS]
    page_url = lambda k: imap.doc_url(doc.path, None, root) + (f"?page={k}" if k > 1 else "")  # noqa: E731
    here = page_url(doc.page)
    sep = "&" if "?" in here else "?"
    ctx["languages"] = [(code, name, f"{here}{sep}lang={code}", code == (langs[0] if langs else "en"))
                        for code, name in READING_LANGUAGES]
    html = render_template("resource.html", doc=doc, lang=langs[0] if langs else "en", alternates=alternates,
                           canonical=imap.doc_iri(doc.path, page=doc.page),
                           timeline=svg, page_url=page_url, **ctx)
    return html.encode("utf-8")
