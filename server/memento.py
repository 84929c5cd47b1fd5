"""Memento (RFC 7089): every thing's description as it was after any earlier write of the KB.

* Original resource (URI-R) and TimeGate (URI-G): `/doc/{path}`. Asked with an `Accept-Datetime` header, it
  answers `302 Found` to the memento in force at that moment (`Vary: Accept-Datetime`); every document links
  to its TimeMap and names itself `rel="original timegate"`.
* TimeMap (URI-T): `/timemap/{path}`, in `application/link-format` (RFC 6690), or HTML for people: one memento
  per write after which the thing's description differed (kb.history), oldest first, with its datetime.
  It answers for things the KB no longer describes too: their history stays readable.
* Mementos (URI-M): `/memento/{import-id}/{path}[.ttl|.jsonld|.rdf|.nt|.html]`: the description right after
  that write (its statements reconstructed by kb.history), built by the same code as the current documents
  (server/documents.py, over a small store holding that state), with `Memento-Datetime` and the Link
  relations `original`, `timegate`, `timemap`, `memento`/`first`/`last`/`prev`/`next`. The labels of the
  IRIs it mentions are today's. The memento's own IRI is `{base}memento/{import-id}/{path}`; its metadata say
  `dct:isVersionOf` the document and `prov:wasGeneratedBy` the write's provenance record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from email.utils import format_datetime
from urllib.parse import unquote

import pyoxigraph as ox
from flask import Blueprint, Response, render_template, request
from werkzeug.http import parse_date

from kb import history
from kb.namespaces import PREFIXES
from kb.store.oxigraph import OxigraphStore

from . import documents, negotiation
from .http_common import (LRU, abort_with, check_request, ext_state, finish, gzip_bytes, kb_state, kbx,
                          label_source, not_acceptable, requested_page, serialize)
from .iris import IriMap, iri_path_to_url, path_candidates, raw_path

bp = Blueprint("memento", __name__)
bp.before_request(check_request)

LINK_FORMAT = "application/link-format"
DCT, PROV = PREFIXES["dct"], PREFIXES["prov"]
_BY_SUFFIX = {f.suffix: f for f in negotiation.FORMATS}
MAX_ROUNDS = documents.MAX_BNODE_DEPTH + 1


@dataclass(frozen=True)
class Version:
    import_id: str
    ended: dt.datetime
    record: str


def _when(lexical: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(lexical.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def http_date(moment: dt.datetime) -> str:
    return format_datetime(moment.astimezone(dt.timezone.utc).replace(microsecond=0), usegmt=True)


def _anon_prefix(imap: IriMap, subject: str) -> tuple[str, ...]:
    return (imap.base + documents.GENID, subject + "#")


def _neighbours(quads, subject: str, prefix: tuple[str, ...]) -> set[str]:
    """The anonymous nodes (skolem and hash IRIs) that the quads link to or from."""
    out = set()
    for q in quads:
        for term in (q.subject, q.object):
            if isinstance(term, ox.NamedNode) and term.value != subject and documents.is_anon(term, prefix):
                out.add(term.value)
    return out


def versions(path: str) -> list[Version]:
    """The writes after which the description of `{base}id/{path}` differed, oldest first (cached per KB
    version)."""
    kb, state = kbx(), ext_state()
    version, _ = kb_state()
    cache: LRU = state["cache"]
    key = ("memento-versions", version, path)
    hit = cache.get(key)
    if hit is None:
        imap: IriMap = state["imap"]
        subject = imap.thing_iri(path)
        prefix = _anon_prefix(imap, subject)
        first = history.timeline(kb.store, [subject])
        nodes = {subject} | _neighbours(first.now, subject, prefix) | _neighbours(
            [c.quad() for c in first.changes if c.op != "create"], subject, prefix)
        tl = history.timeline(kb.store, sorted(nodes)) if len(nodes) > 1 else first
        hit = tuple(Version(w.import_id, _when(w.ended), w.record) for w in tl.versions())
        cache.put(key, hit)
    return list(hit)


def state_after(path: str, import_id: str) -> set[ox.Quad]:
    """The statements about the thing, its anonymous nodes and their referrers right after a write."""
    kb, imap = kbx(), ext_state()["imap"]
    subject = imap.thing_iri(path)
    prefix = _anon_prefix(imap, subject)
    nodes: set[str] = {subject}
    state: set[ox.Quad] = set()
    for _ in range(MAX_ROUNDS):
        state = history.timeline(kb.store, sorted(nodes)).state_after(import_id)
        more = _neighbours(state, subject, prefix) - nodes
        if not more:
            break
        nodes |= more
    return state


# -- URLs -------------------------------------------------------------------------------------------------
def timemap_url(path: str, root: str = "") -> str:
    return f"{root}/timemap/{iri_path_to_url(path)}"


def memento_url(import_id: str, path: str, suffix: str | None = None, root: str = "") -> str:
    return f"{root}/memento/{import_id}/{iri_path_to_url(path)}" + (f".{suffix}" if suffix else "")


def document_links(imap: IriMap, path: str, root: str) -> list[str]:
    """What every current document says of its history: it is the original and its own TimeGate."""
    return [f'<{imap.doc_url(path, None, root)}>; rel="original timegate"',
            f'<{timemap_url(path, root)}>; rel="timemap"; type="{LINK_FORMAT}"']


def _memento_links(imap: IriMap, path: str, found: list[Version], index: int, root: str) -> list[str]:
    links = document_links(imap, path, root)

    def one(i: int, rel: str) -> str:
        v = found[i]
        return f'<{memento_url(v.import_id, path, None, root)}>; rel="{rel}"; datetime="{http_date(v.ended)}"'

    rels: dict[int, list[str]] = {}
    rels.setdefault(0, []).append("first")
    rels.setdefault(len(found) - 1, []).append("last")
    if index > 0:
        rels.setdefault(index - 1, []).append("prev")
    if index < len(found) - 1:
        rels.setdefault(index + 1, []).append("next")
    rels.setdefault(index, [])
    for i in sorted(rels):
        names = rels[i] + ["memento"]
        links.append(one(i, " ".join(names)))
    return links


# -- the TimeGate (called by server.resources for /doc/ requests with Accept-Datetime) --------------------
def timegate(raw: bytes) -> Response:
    """`/doc/{path}[.ext]` asked with Accept-Datetime: 302 to the memento in force then (RFC 7089 pattern
    2.1, the original resource is its own TimeGate); it works for things the KB no longer describes too."""
    imap: IriMap = ext_state()["imap"]
    root = request.script_root
    path, suffix = _thing_path(raw)
    negotiated = suffix is None
    asked = parse_date(request.headers.get("Accept-Datetime", ""))
    if asked is None:
        abort_with(400, "Accept-Datetime must be an HTTP date, e.g. 'Tue, 01 Dec 2026 12:00:00 GMT'.")
    if asked.tzinfo is None:
        asked = asked.replace(tzinfo=dt.timezone.utc)
    found = versions(path)
    if not found:
        abort_with(404, "The knowledge base keeps no earlier version of this resource.")
    earlier = [i for i, v in enumerate(found) if v.ended.replace(microsecond=0) <= asked]
    index = earlier[-1] if earlier else 0  # before the first version: the first one
    chosen = found[index]
    location = request.root_url.rstrip("/") + memento_url(chosen.import_id, path, suffix)
    resp = Response(f"See {location}\n", status=302, content_type="text/plain; charset=utf-8")
    resp.headers["Location"] = location
    resp.headers["Vary"] = "Accept-Datetime" + (", Accept" if negotiated else "")
    resp.headers["Link"] = ", ".join(_memento_links(imap, path, found, index, root))
    return resp


# -- routes -----------------------------------------------------------------------------------------------
def _thing_path(raw: bytes) -> tuple[str, str | None]:
    """(thing path, format suffix) of a raw path under /timemap/ or /memento/{id}/."""
    text = raw.decode("ascii", "replace")
    if any(seg in (".", "..") for seg in unquote(text).split("/")):
        abort_with(400, "Path segments '.' and '..' are not allowed (no traversal).")
    stem, ext = negotiation.split_suffix(text)
    if ext is not None and ext.lower() in _BY_SUFFIX:
        text, ext = stem, ext.lower()
    else:
        ext = None
    candidates = path_candidates(text.encode("ascii"))
    if not candidates or "/" not in candidates[0]:
        abort_with(404, "Not a thing of this knowledge base: expected {type}/{name}.")
    return candidates[0], ext


def _after(prefix: str) -> bytes:
    raw = raw_path(request)
    return raw[len(prefix):] if raw.startswith(prefix.encode()) else b""


@bp.get("/timemap/<path:_path>")
def timemap(_path: str):
    path, _ = _thing_path(_after("/timemap/"))
    found = versions(path)
    if not found and not documents.describes(kbx().store, ext_state()["imap"].thing_iri(path)):
        abort_with(404, "The knowledge base keeps no version of this resource.")
    # a thing described now without recorded versions (written before the history began, or not through the
    # import pipeline) has a TimeMap with no memento
    imap: IriMap = ext_state()["imap"]
    root = request.script_root
    version, modified = kb_state()
    html = request.accept_mimetypes.best_match([LINK_FORMAT, "text/html"], default=LINK_FORMAT) == "text/html" \
        and request.accept_mimetypes["text/html"] > request.accept_mimetypes[LINK_FORMAT]
    if html:
        body = render_template("timemap.html", path=path, thing=imap.thing_iri(path), self_url=timemap_url(path, root),
                               document=imap.doc_url(path, None, root), versions=[
                                   (v, memento_url(v.import_id, path, None, root), imap.local_url(v.record, root))
                                   for v in reversed(found)]).encode("utf-8")
        resp = Response(body, content_type="text/html; charset=utf-8")
    else:
        base = request.root_url.rstrip("/")
        lines = [f'<{base}{imap.doc_url(path, None, root)}>;rel="original"',
                 f'<{base}{imap.doc_url(path, None, root)}>;rel="timegate"',
                 f'<{base}{timemap_url(path, root)}>;rel="self";type="{LINK_FORMAT}"' + (
                     f';from="{http_date(found[0].ended)}";until="{http_date(found[-1].ended)}"' if found else "")]
        for i, v in enumerate(found):
            rel = "memento" if 0 < i < len(found) - 1 else ("first last memento" if len(found) == 1 else
                                                             "first memento" if i == 0 else "last memento")
            lines.append(f'<{base}{memento_url(v.import_id, path, None, root)}>;rel="{rel}";'
                         f'datetime="{http_date(v.ended)}"')
        resp = Response(",\n".join(lines) + "\n", content_type=f"{LINK_FORMAT}; charset=utf-8")
    resp.set_etag(f"{version}-timemap-{'html' if html else 'link'}", weak=True)
    resp.headers["Vary"] = "Accept"
    resp.headers["Cache-Control"] = kbx().settings["cache_control"]
    resp.last_modified = modified
    return resp.make_conditional(request)


@bp.get("/memento/<import_id>/<path:_path>")
def memento(import_id: str, _path: str):
    path, suffix = _thing_path(_after(f"/memento/{import_id}/"))
    found = versions(path)
    index = next((i for i, v in enumerate(found) if v.import_id == import_id), None)
    if index is None:
        abort_with(404, "No such version of this resource (see its TimeMap for the versions there are).")
    imap: IriMap = ext_state()["imap"]
    root = request.script_root
    negotiated = suffix is None
    fmt = _BY_SUFFIX[suffix] if suffix else negotiation.request_format(request)
    if fmt is None:
        return not_acceptable(lambda f: memento_url(import_id, path, f.suffix, root), negotiation.FORMATS)
    chosen = found[index]
    page = requested_page()
    version, _ = kb_state()
    key = ("memento", version, import_id, path, fmt.name, page, root)
    cache: LRU = ext_state()["cache"]
    hit = cache.get(key)
    if hit is None:
        built = _memento_document(path, chosen, page)
        if built is None:
            abort_with(404, f"This version has no page {page}.")
        doc, snapshot = built
        if fmt.is_html:
            from .labels import explicit_lang, reader_languages
            from .docrender import render_html

            body = render_html(doc, version, reader_languages(request), explicit_lang(request), root,
                               store=snapshot, memento={"when": http_date(chosen.ended), "import_id": import_id,
                                                        "iri": str(doc.meta[0].subject.value),
                                                        "timemap": timemap_url(path, root),
                                                        "current": imap.doc_url(path, None, root)})
        else:
            body = serialize(doc.triples(), fmt)
        hit = (body, gzip_bytes(body))
        cache.put(key, hit)
    body, gz = hit
    resp = finish(body, gz, fmt, etag=f"{version}-memento-{import_id}-{fmt.suffix}-{page}", modified=chosen.ended,
                  links=_memento_links(imap, path, found, index, root),
                  content_location=memento_url(import_id, path, fmt.suffix, root) if negotiated else None,
                  vary="Accept")
    resp.headers["Memento-Datetime"] = http_date(chosen.ended)
    return resp


def _memento_document(path: str, chosen: Version, page: int):
    """(document, the small store holding the state it was built from), or None past its last page."""
    kb, imap = kbx(), ext_state()["imap"]
    version, _ = kb_state()
    snapshot = OxigraphStore(kb.iris)
    snapshot.raw.extend(state_after(path, chosen.import_id))
    doc = documents.build(snapshot, imap, path, page=page, page_size=kb.settings["page_size"],
                          modified=chosen.ended, license_iri=kb.settings.get("license"),
                          labels=label_source(version))
    if doc is None:
        return None
    iri = imap.base + f"memento/{chosen.import_id}/{iri_path_to_url(path)}"
    m, rdf_type = ox.NamedNode(iri), ox.NamedNode(PREFIXES["rdf"] + "type")
    doc.meta = [ox.Triple(m, rdf_type, ox.NamedNode(PREFIXES["foaf"] + "Document")),
                ox.Triple(m, ox.NamedNode(PREFIXES["foaf"] + "primaryTopic"), ox.NamedNode(doc.subject)),
                ox.Triple(m, ox.NamedNode(DCT + "modified"), ox.Literal(
                    chosen.ended.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    datatype=documents.XSD_DATETIME)),
                ox.Triple(m, ox.NamedNode(DCT + "isVersionOf"), ox.NamedNode(imap.doc_iri(path))),
                ox.Triple(m, ox.NamedNode(PROV + "wasGeneratedBy"), ox.NamedNode(chosen.record))]
    if kb.settings.get("license"):
        doc.meta.append(ox.Triple(m, ox.NamedNode(DCT + "license"), ox.NamedNode(kb.settings["license"])))
    if doc.pages > 1:
        doc.meta += documents.paging_triples(iri, lambda k: iri + (f"?page={k}" if k > 1 else ""), doc.page, doc.pages)
    return doc, snapshot
