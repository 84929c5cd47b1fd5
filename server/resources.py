"""Dereferencing: `/id/...` answers 303 to a document; `/doc/...[.ext]` serves it in five formats.

`GET /id/{path}` -> `303 See Other` to `/doc/{path}` (HTML, for browsers) or `/doc/{path}.{ext}` (the RDF
format the `Accept` header prefers). `/doc/{path}` negotiates; `/doc/{path}.{ext}` is one format. Responses
carry `Vary`, `Content-Location`, typed `Link: rel=alternate` for every format, `ETag`/`Last-Modified` from the
KB version (304 on `If-None-Match`/`If-Modified-Since`), `Cache-Control` from the settings, and are gzipped
when the client accepts it. Rendered bodies and resolutions are cached per KB version.

This blueprint also registers the app-wide error handlers and the gzip hook of `server.http_common`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pyoxigraph as ox
from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from kb.store.base import StoreUnavailable

from . import docrender, docworkers, fastpath, negotiation
from . import memento as memento_mod
from .docrender import DocRequest
from .http_common import (LRU, abort_with, accepts_gzip, check_request, compress, ext_state, finish, finish_packed,
                          http_error, kb_state, kbx, not_acceptable, not_modified, requested_page, store_down,
                          unexpected)
from .iris import IriMap, path_candidates, raw_path
from .labels import explicit_lang, reader_languages
from .negotiation import DocFormat

bp = Blueprint("resources", __name__)
bp.app_errorhandler(HTTPException)(http_error)
bp.app_errorhandler(StoreUnavailable)(store_down)
bp.app_errorhandler(Exception)(unexpected)
bp.after_app_request(compress)

_BAD_IRI_CHARS = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f]')
_BY_SUFFIX = {f.suffix: f for f in negotiation.DOC_FORMATS}
DCT_IS_REPLACED_BY = "http://purl.org/dc/terms/isReplacedBy"


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
    """Which of these IRIs the KB describes (IRIs that cannot be parsed are skipped): a look-up of the first
    statement of each in the embedded store, one query otherwise."""
    store = kbx().store
    raw = getattr(store, "raw", None)
    if isinstance(raw, ox.Store):
        found = set()
        for i in iris:
            try:
                node = ox.NamedNode(i)
            except ValueError:
                continue
            if next(iter(raw.quads_for_pattern(node, None, None, None)), None) is not None:
                found.add(i)
        return found
    try:
        values = " ".join(f"<{i}>" for i in iris)
        return {row[0].value for row in store.query(
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
bp.before_request(check_request)


# -- routes ---------------------------------------------------------------------------------------------
def _rest(prefix: bytes) -> bytes:
    raw = raw_path(request)
    return raw[len(prefix):] if raw.startswith(prefix) else raw.rpartition(b"/")[2]


@bp.get("/id/<path:_path>")
def thing(_path: str):
    imap = ext_state()["imap"]
    path = resolve(_rest(b"/id/"))
    fmt = _format_parameter() or negotiation.request_format(request, quads=True)
    if path is None:
        abort_with(404, "The knowledge base does not describe this IRI.")
    version, _ = kb_state()
    successor = _successor(imap.thing_iri(path), version)
    if successor is not None:
        return _moved(imap, successor)
    if fmt is None:
        return not_acceptable(lambda f: imap.doc_url(path, f.suffix, request.script_root), negotiation.DOC_FORMATS)
    target = imap.doc_url(path, None if fmt.is_html else fmt.suffix)
    lang = explicit_lang(request)
    location = request.root_url.rstrip("/") + target + (f"?lang={lang}" if lang else "")
    resp = Response(f"See {location}\n", status=303, content_type="text/plain; charset=utf-8")
    resp.headers["Location"] = location
    resp.headers["Vary"] = "Accept"
    resp.headers["Cache-Control"] = kbx().settings["cache_control"]
    # FAIR Signposting: the thing is described by these documents, and is cited by its own IRI
    root = request.script_root
    links = [f'<{imap.doc_url(path, f.suffix, root)}>; rel="describedby"; type="{f.media_type}"'
             for f in negotiation.DOC_FORMATS]
    links.append(f'<{imap.thing_iri(path)}>; rel="cite-as"')
    links += docrender.type_links(imap.thing_iri(path), version)
    resp.headers["Link"] = ", ".join(links)
    return resp


def _successor(iri: str, version: str) -> str | None:
    """The IRI that replaces `iri` (`dct:isReplacedBy`: a moved or merged thing), cached per KB version."""
    cache: LRU = ext_state()["cache"]
    key = ("successor", version, iri)
    hit = cache.get(key)
    if hit is None:
        rows = kbx().store.query(f"SELECT ?n WHERE {{ <{iri}> <{DCT_IS_REPLACED_BY}> ?n FILTER(isIRI(?n)) }} "
                                 "ORDER BY ?n LIMIT 1")
        hit = next((r[0].value for r in rows), "")  # "" (none) is cached too
        cache.put(key, hit)
    return hit or None


def _moved(imap: IriMap, successor: str) -> Response:
    """301 to the successor's /id/ URL (the ?lang= choice kept), or to the successor IRI elsewhere."""
    path = imap.thing_path(successor)
    if path is None:
        location = successor
    else:
        lang = explicit_lang(request)
        location = request.root_url.rstrip("/") + imap.id_url(path) + (f"?lang={lang}" if lang else "")
    resp = Response(f"Moved to {location}\n", status=301, content_type="text/plain; charset=utf-8")
    resp.headers["Location"] = location
    resp.headers["Cache-Control"] = kbx().settings["cache_control"]
    return resp


def _format_parameter() -> DocFormat | None:
    """The format named by `?format=` or `?output=` (400 when it names none of ours)."""
    try:
        return negotiation.param_format(request, quads=True)
    except ValueError as exc:
        abort_with(400, str(exc))


def _canonical_document_redirect(imap: IriMap, path: str, fmt: DocFormat) -> Response:
    """301 from `/doc/x?format=ttl` to `/doc/x.ttl`, the other parameters kept (as Wikibase does)."""
    from urllib.parse import urlencode

    rest = [(k, v) for k, v in request.args.items(multi=True) if k not in negotiation.FORMAT_PARAMS]
    location = request.root_url.rstrip("/") + imap.doc_url(path, fmt.suffix) + (f"?{urlencode(rest)}" if rest else "")
    resp = Response(f"See {location}\n", status=301, content_type="text/plain; charset=utf-8")
    resp.headers["Location"] = location
    resp.headers["Cache-Control"] = kbx().settings["cache_control"]
    return resp


def _resolve_document(raw: bytes) -> tuple[str, DocFormat | None]:
    """(thing path, format named by the suffix or None) of a raw /doc/ path; 404 when not described."""
    stem_raw, ext = negotiation.split_suffix(raw.decode("ascii", "replace"))
    ext = ext.lower() if ext is not None else None
    if ext is not None and ext in _BY_SUFFIX:
        path = resolve(stem_raw.encode("ascii"))
        if path is not None:
            return path, _BY_SUFFIX[ext]
    path = resolve(raw)
    if path is None and ext is not None and ext not in _BY_SUFFIX and resolve(stem_raw.encode("ascii")):
        abort_with(404, f"Unknown format suffix .{ext[:20]}; known suffixes: "
                        f"{negotiation.suffix_list(negotiation.DOC_FORMATS)}.")
    if path is None:
        abort_with(404, "The knowledge base does not describe this resource.")
    return path, None


@bp.get("/doc/<path:_path>")
def document(_path: str):
    state = ext_state()
    imap: IriMap = state["imap"]
    cache: LRU = state["cache"]
    raw = _rest(b"/doc/")
    if "Accept-Datetime" in request.headers:  # the document is its own Memento TimeGate (also once deleted)
        return memento_mod.timegate(raw)
    page = requested_page()
    version, modified = kb_state()
    resolved = cache.get(("resolve", version, raw))
    if resolved is None:
        resolved = _resolve_document(raw)
        cache.put(("resolve", version, raw), resolved)
    path, fmt = resolved
    wanted = _format_parameter()
    if wanted is not None:
        return _canonical_document_redirect(imap, path, wanted)
    negotiated = fmt is None
    root = request.script_root
    if negotiated:
        fmt = negotiation.request_format(request, quads=True)
        if fmt is None:
            return not_acceptable(lambda f: imap.doc_url(path, f.suffix, root), negotiation.DOC_FORMATS)
    langs = tuple(reader_languages(request)) if fmt.is_html else ()
    lang_q = explicit_lang(request) if fmt.is_html else None
    vary = ("Accept, Accept-Language" if negotiated else "Accept-Language") if fmt.is_html else "Accept"
    vary += ", Accept-Datetime"
    key = (path, fmt.name, page, langs, root, lang_q, negotiated)
    hit = cache.get((version, *key))
    if hit is None:
        if not_modified(_etag(version, fmt, page, langs), modified):  # a copy this process has not rendered yet
            return finish(None, None, fmt, etag=_etag(version, fmt, page, langs), modified=modified,
                          links=docrender.links(imap, path, fmt, page, None, negotiated, root, version),
                          content_location=docrender.content_location(imap, path, fmt, page, negotiated, root),
                          vary=vary)
        rendered = docworkers.render(DocRequest(path, fmt.suffix, page, langs, lang_q, root, negotiated))
        if rendered is None:
            abort_with(404, f"This document has no page {page}.")
        # the version it was read at (a write may have come in between): ETag and cache key say what it holds
        version, modified = rendered.version, rendered.modified
        hit = (rendered.data, rendered.gzipped, rendered.link, rendered.content_location, modified)
        cache.put((version, *key), hit)
    data, gzipped, link, content_location, modified = hit
    etag = _etag(version, fmt, page, langs)
    if not_modified(etag, modified):
        data = None
    else:  # the same request, at this version, can be answered again from this entry (server.fastpath)
        request.environ[fastpath.NOTE] = (version, (version, *key), gzipped and accepts_gzip())
    return finish_packed(data, gzipped, fmt, etag=etag, modified=modified, links=[link],
                         content_location=content_location, vary=vary)


def _etag(version: str, fmt: DocFormat, page: int, langs: tuple[str, ...]) -> str:
    return f"{version}-{fmt.suffix}-{page}" + (f"-{'.'.join(langs)}" if fmt.is_html else "")
