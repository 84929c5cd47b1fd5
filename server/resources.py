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
from flask import Blueprint, Response, render_template, request
from werkzeug.exceptions import HTTPException

from kb.namespaces import THB
from kb.store.base import StoreUnavailable

from . import documents, negotiation
from . import memento as memento_mod
from .entity_view import SCHEMA_TYPES, EntityView, ui_words
from .http_common import (LRU, abort_with, check_request, compress, ext_state, finish, gzip_bytes, http_error,
                          kb_state, kbx, label_source, not_acceptable, not_modified, alternate_links, requested_page, serialize,
                          store_down, unexpected, vocabulary)
from .iris import IriMap, path_candidates, raw_path
from .labels import explicit_lang, reader_languages
from .negotiation import DocFormat

bp = Blueprint("resources", __name__)
bp.app_errorhandler(HTTPException)(http_error)
bp.app_errorhandler(StoreUnavailable)(store_down)
bp.app_errorhandler(Exception)(unexpected)
bp.after_app_request(compress)

_BAD_IRI_CHARS = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f]')
_TIMELINE_KINDS = ("Agency", "Action", "Programme")
_BY_SUFFIX = {f.suffix: f for f in negotiation.DOC_FORMATS}
DCT_IS_REPLACED_BY = "http://purl.org/dc/terms/isReplacedBy"
READING_LANGUAGES = (("en", "English"), ("fr", "Français"))  # the languages the ontology labels are in


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
    links += _type_links(imap.thing_iri(path), version)
    resp.headers["Link"] = ", ".join(links)
    return resp


def _type_links(iri: str, version: str) -> list[str]:
    """FAIR Signposting `rel="type"` links: the thing's classes, and the schema.org type of its page markup;
    cached per KB version."""
    cache: LRU = ext_state()["cache"]
    key = ("types", version, iri)
    hit = cache.get(key)
    if hit is None:
        types = sorted(r["t"].value for r in kbx().store.query(f"SELECT ?t WHERE {{ <{iri}> a ?t FILTER(isIRI(?t)) }}"))
        thb = str(THB)
        schema = sorted({"https://schema.org/" + SCHEMA_TYPES[t[len(thb):]] for t in types
                         if t.startswith(thb) and t[len(thb):] in SCHEMA_TYPES} - set(types))
        hit = tuple(f'<{t}>; rel="type"' for t in (*types, *schema))
        cache.put(key, hit)
    return list(hit)


def _successor(iri: str, version: str) -> str | None:
    """The IRI that replaces `iri` (`dct:isReplacedBy`: a moved or merged thing), cached per KB version."""
    cache: LRU = ext_state()["cache"]
    key = ("successor", version, iri)
    hit = cache.get(key)
    if hit is None:
        rows = kbx().store.query(f"SELECT ?n WHERE {{ <{iri}> <{DCT_IS_REPLACED_BY}> ?n FILTER(isIRI(?n)) }} "
                                 "ORDER BY ?n LIMIT 1")
        hit = next((r["n"].value for r in rows), "")  # "" (none) is cached too
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
    kb = kbx()
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
    langs = reader_languages(request) if fmt.is_html else []
    lang_q = explicit_lang(request) if fmt.is_html else None
    etag = f"{version}-{fmt.suffix}-{page}" + (f"-{'.'.join(langs)}" if fmt.is_html else "")
    vary = ("Accept, Accept-Language" if negotiated else "Accept-Language") if fmt.is_html else "Accept"
    vary += ", Accept-Datetime"
    key = (version, path, fmt.name, page, tuple(langs), root, lang_q, negotiated)
    hit = cache.get(key)
    if hit is None:
        if not_modified(etag, modified):  # a client's copy of a page this process has not rendered yet
            return finish(None, None, fmt, etag=etag, modified=modified,
                          links=_links(imap, path, fmt, page, None, negotiated, root, version),
                          content_location=_content_location(imap, path, fmt, page, negotiated, root), vary=vary)
        doc = documents.build(kb.store, imap, path, page=page, page_size=kb.settings["page_size"],
                              modified=modified, license_iri=kb.settings.get("license"),
                              labels=label_source(version))
        if doc is None:
            abort_with(404, f"This document has no page {page}.")
        body = render_html(doc, version, langs, lang_q, root) if fmt.is_html else _serialize_document(doc, fmt)
        hit = (body, gzip_bytes(body), _links(imap, path, fmt, page, doc.pages, negotiated, root, version),
               _content_location(imap, path, fmt, page, negotiated, root))
        cache.put(key, hit)
    body, gz, links, content_location = hit
    if not_modified(etag, modified):
        body = gz = None
    return finish(body, gz, fmt, etag=etag, modified=modified, links=links,
                  content_location=content_location, vary=vary)


def _serialize_document(doc: documents.Document, fmt: DocFormat) -> bytes:
    """The document in an RDF format; in TriG and N-Quads each statement in the graph the KB keeps it in."""
    if fmt in negotiation.QUAD_FORMATS:
        quads = documents.quads(kbx().store, doc)
        extra = {"prefixes": documents.used_prefixes(doc.triples())} if fmt.name == "trig" else {}
        return ox.serialize(quads, format=fmt.rdf.ox, **extra)
    return serialize(doc.triples(), fmt)


def _content_location(imap: IriMap, path: str, fmt: DocFormat, page: int, negotiated: bool, root: str) -> str | None:
    return imap.doc_url(path, fmt.suffix, root) + (f"?page={page}" if page > 1 else "") if negotiated else None


def _links(imap: IriMap, path: str, fmt: DocFormat, page: int, pages: int | None, negotiated: bool,
           root: str, version: str) -> list[str]:
    """Link header values: an alternate per format, the thing described, the licence, the pages."""
    settings = kbx().settings
    page_q = f"?page={page}" if page > 1 else ""
    links = alternate_links(lambda f: imap.doc_url(path, f.suffix, root) + page_q, negotiation.DOC_FORMATS)
    links.append(f'<{imap.thing_iri(path)}>; rel="describes"')
    links.append(f'<{imap.doc_iri(path)}>; rel="cite-as"')
    links += _type_links(imap.thing_iri(path), version)
    links += memento_mod.document_links(imap, path, root)
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


def _graphs_of(store, iri: str) -> list[tuple[str, int]]:
    """The named graphs that hold statements about `iri`, with how many, most first."""
    rows = store.query(f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ <{iri}> ?p ?o }} }} GROUP BY ?g")
    found = [(r["g"].value, int(r["n"].value)) for r in rows if isinstance(r["g"], ox.NamedNode)]
    return sorted(found, key=lambda gn: (-gn[1], gn[0]))


def render_html(doc: documents.Document, version: str, langs: list[str], lang_q: str | None, root: str, *,
                store=None, memento: dict | None = None) -> bytes:
    """The HTML page of a document; `store` is the store it was built from (a memento's own: server.memento),
    `memento` the version it shows (when, its TimeMap, the current document)."""
    from . import timeline

    kb = kbx()
    store = kb.store if store is None else store
    imap: IriMap = ext_state()["imap"]
    vocab = vocabulary(version)
    view = EntityView(doc, vocab, imap, langs, root, lang_q)
    ctx = view.context()
    svg = None
    if ctx["kind"] in _TIMELINE_KINDS:
        events, cut = timeline.events_for(store, doc.subject, ctx["kind"], langs, label_source(version))
        if events:
            svg = timeline.render_svg(events, lambda i: view.href(i) or "#", langs,
                                      ui_words(langs)("Timeline of the {n} events of {title}").format(
                                          n=len(events), title=ctx["title"]))
            ctx["timeline_cut"] = cut
    if memento:
        alternates = [(f, memento_mod.memento_url(memento["import_id"], doc.path, f.suffix, root))
                      for f in negotiation.FORMATS]
    else:
        alternates = [(f, imap.doc_url(doc.path, f.suffix, root)) for f in negotiation.DOC_FORMATS]
    ctx["graphs"] = [(g, imap.local_url(g, root), n) for g, n in _graphs_of(store, doc.subject)]
    ctx["memento"] = memento
    ctx["timemap"] = memento_mod.timemap_url(doc.path, root)
    page_url = lambda k: imap.doc_url(doc.path, None, root) + (f"?page={k}" if k > 1 else "")  # noqa: E731
    here = page_url(doc.page)
    sep = "&" if "?" in here else "?"
    ctx["languages"] = [(code, name, f"{here}{sep}lang={code}", code == (langs[0] if langs else "en"))
                        for code, name in READING_LANGUAGES]
    html = render_template("resource.html", doc=doc, lang=langs[0] if langs else "en", alternates=alternates,
                           t=ui_words(langs),
                           canonical=memento["iri"] if memento else imap.doc_iri(doc.path, page=doc.page),
                           timeline=svg, page_url=page_url, **ctx)
    return html.encode("utf-8")
