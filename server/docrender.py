"""One entity document, rendered: the body in one format and the headers that depend on the KB.

`render_entry(req)` is everything a `/doc/` response needs once the path is resolved and the format
negotiated: the body (gzipped, as the document cache keeps it), the `Link` header and the `Content-Location`,
with the KB version and time they were read at. It runs in an app and request context, in the serving
process or in a document worker (`server.docworkers`) over a read-only checkpoint of the store, the same
code in both: a response is the same whichever process builds it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyoxigraph as ox
from flask import render_template

from kb.namespaces import THB

from . import documents, negotiation
from . import memento as memento_mod
from .entity_view import SCHEMA_TYPES, EntityView, ui_words
from .http_common import (LRU, alternate_links, ext_state, kb_state, kbx, label_source, pack, serialize,
                          vocabulary)
from .iris import IriMap
from .negotiation import DocFormat

_TIMELINE_KINDS = ("Agency", "Action", "Programme")
READING_LANGUAGES = (("en", "English"), ("fr", "Français"))  # the languages the ontology labels are in
_BY_SUFFIX = {f.suffix: f for f in negotiation.DOC_FORMATS}


@dataclass(frozen=True)
class DocRequest:
    """What a document response depends on, besides the KB: picklable (it is sent to the workers)."""

    path: str                    # the thing's path under {base}id/
    suffix: str                  # the format (DocFormat.suffix)
    page: int
    langs: tuple[str, ...]       # the reader's languages (HTML only)
    lang_q: str | None           # the `?lang=` choice (HTML links keep it)
    root: str                    # the request's script root (links are under it)
    negotiated: bool             # `/doc/x` (negotiated) rather than `/doc/x.ttl`

    @property
    def fmt(self) -> DocFormat:
        return _BY_SUFFIX[self.suffix]


@dataclass
class Rendered:
    version: str                 # the KB version it was read at (ETags and cache keys use it)
    modified: dt.datetime
    data: bytes                  # the body as `http_common.pack` keeps it
    gzipped: bool
    link: str                    # the Link header
    content_location: str | None


def render_entry(req: DocRequest) -> Rendered | None:
    """The document of `req` at the KB's current version; None when the KB does not describe the thing or
    has no such page."""
    kb = kbx()
    imap: IriMap = ext_state()["imap"]
    version, modified = kb_state()
    fmt = req.fmt
    doc = documents.build(kb.store, imap, req.path, page=req.page, page_size=kb.settings["page_size"],
                          modified=modified, license_iri=kb.settings.get("license"), labels=label_source(version))
    if doc is None:
        return None
    if fmt.is_html:
        body = render_html(doc, version, list(req.langs), req.lang_q, req.root)
    else:
        body = serialize_document(doc, fmt)
    data, gzipped = pack(body)
    return Rendered(version, modified, data, gzipped,
                    ", ".join(links(imap, req.path, fmt, req.page, doc.pages, req.negotiated, req.root, version,
                                    doc.types())),
                    content_location(imap, req.path, fmt, req.page, req.negotiated, req.root))


def serialize_document(doc: documents.Document, fmt: DocFormat) -> bytes:
    """The document in an RDF format; in TriG and N-Quads each statement in the graph the KB keeps it in."""
    if fmt in negotiation.QUAD_FORMATS:
        quads = documents.quads(kbx().store, doc)
        extra = {"prefixes": documents.used_prefixes(doc.triples())} if fmt.name == "trig" else {}
        return ox.serialize(quads, format=fmt.rdf.ox, **extra)
    return serialize(doc.triples(), fmt)


def content_location(imap: IriMap, path: str, fmt: DocFormat, page: int, negotiated: bool, root: str) -> str | None:
    return imap.doc_url(path, fmt.suffix, root) + (f"?page={page}" if page > 1 else "") if negotiated else None


def links(imap: IriMap, path: str, fmt: DocFormat, page: int, pages: int | None, negotiated: bool,
          root: str, version: str, types: list[str] | None = None) -> list[str]:
    """Link header values: an alternate per format, the thing described, its types, the licence, the pages."""
    settings = kbx().settings
    page_q = f"?page={page}" if page > 1 else ""
    out = alternate_links(lambda f: imap.doc_url(path, f.suffix, root) + page_q, negotiation.DOC_FORMATS)
    out.append(f'<{imap.thing_iri(path)}>; rel="describes"')
    out.append(f'<{imap.doc_iri(path)}>; rel="cite-as"')
    out += type_links(imap.thing_iri(path), version, types)
    out += memento_mod.document_links(imap, path, root)
    if settings.get("license"):
        out.append(f'<{settings["license"]}>; rel="license"')
    if pages and pages > 1:
        def page_url(k: int) -> str:
            return imap.doc_url(path, None if negotiated else fmt.suffix, root) + (f"?page={k}" if k > 1 else "")

        out += [f'<{page_url(1)}>; rel="first"', f'<{page_url(pages)}>; rel="last"']
        if page > 1:
            out.append(f'<{page_url(page - 1)}>; rel="prev"')
        if page < pages:
            out.append(f'<{page_url(page + 1)}>; rel="next"')
    return out


def type_links(iri: str, version: str, types: list[str] | None = None) -> list[str]:
    """FAIR Signposting `rel="type"` links: the thing's classes (`types`, when the caller has them: a document
    holds them all), and the schema.org type of its page markup; read from the store and cached per KB version
    otherwise."""
    if types is not None:
        return list(_type_link_values(types))
    cache: LRU = ext_state()["cache"]
    key = ("types", version, iri)
    hit = cache.get(key)
    if hit is None:
        hit = _type_link_values(
            [r[0].value for r in kbx().store.query(f"SELECT ?t WHERE {{ <{iri}> a ?t FILTER(isIRI(?t)) }}")])
        cache.put(key, hit)
    return list(hit)


def _type_link_values(types: list[str]) -> tuple[str, ...]:
    types = sorted(set(types))
    thb = str(THB)
    schema = sorted({"https://schema.org/" + SCHEMA_TYPES[t[len(thb):]] for t in types
                     if t.startswith(thb) and t[len(thb):] in SCHEMA_TYPES} - set(types))
    return tuple(f'<{t}>; rel="type"' for t in (*types, *schema))


def _graphs_of(store, iri: str) -> list[tuple[str, int]]:
    """The named graphs that hold statements about `iri`, with how many, most first."""
    rows = store.query(f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ <{iri}> ?p ?o }} }} GROUP BY ?g")
    found = [(g.value, int(n.value)) for g, n in rows if isinstance(g, ox.NamedNode)]
    return sorted(found, key=lambda gn: (-gn[1], gn[0]))


def _labels_beside(doc: documents.Document, version: str):
    """A label source that reads the labels of the IRIs the document mentions from the document (the
    timeline's events are often its incoming links), the others' from the label cache."""
    held: dict[str, list[ox.Triple]] = {iri: [] for iri in doc.labelled}
    for t in doc.labels:
        held.setdefault(t.subject.value, []).append(t)
    cached = label_source(version)

    def labels(iris) -> list[ox.Triple]:
        iris = set(iris)
        mine = sorted(iris.intersection(held))
        return [t for iri in mine for t in held[iri]] + cached(iris.difference(mine))

    return labels


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
        events, cut = timeline.events_for(store, doc.subject, ctx["kind"], langs, _labels_beside(doc, version))
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
