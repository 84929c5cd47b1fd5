"""Browsing pages: an index per class (`/class/`, `/class/{name}`, paged and sorted) and label search
(`/search?q=`: every label in every language, accent- and case-insensitive).

Both read one in-memory index of labels, classes and start dates, built with three store queries the first
time it is needed after each KB write (the KB version keys it), so a page costs no query at all.
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass, field

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request

from kb.namespaces import PREFIXES, SCHEMA, THB

from .labels import LABEL_PROPS, explicit_lang, local_name, pick, reader_languages
from . import negotiation
from .documents import paging_triples
from .http_common import abort_with, check_request, ext_state, kb_state, not_acceptable, requested_page, serialize

bp = Blueprint("pages", __name__)
bp.before_request(check_request)


@bp.after_request
def vary_on_language(resp):
    """Index and search pages are in the reader's language (and the index in the negotiated format)."""
    vary = resp.headers.get("Vary")
    want = "Accept, Accept-Language" if request.endpoint == "pages.class_index" else "Accept-Language"
    resp.headers["Vary"] = want if not vary else f"{vary}, {want}" if "Accept-Language" not in vary else vary
    return resp

# URL name -> class IRI, in the order of the browse page.
CLASSES: dict[str, str] = {
    "agency": str(THB.Agency), "action": str(THB.Action), "programme": str(THB.Programme),
    "event": str(THB.Event), "convention": str(THB.Convention), "report": str(THB.Report),
    "document": str(THB.SourceDocument), "place": str(THB.Place), "person": str(THB.Person),
    "concept": PREFIXES["skos"] + "Concept",
}
PLURALS = {"agency": "Agencies", "action": "Actions", "programme": "Programmes", "event": "Events",
           "convention": "Conventions", "report": "Reports", "document": "Source documents", "place": "Places",
           "person": "Persons", "concept": "Concepts"}
MAX_Q = 200
SEARCH_PAGE = 50


def fold(text: str) -> str:
    """Accent-, case- and width-insensitive form of a text, for matching and sorting."""
    if text.isascii():
        return " ".join(text.casefold().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


@dataclass
class Entry:
    iri: str
    labels: list[tuple[int, str, str]] = field(default_factory=list)
    classes: set[str] = field(default_factory=set)
    start: str | None = None


class LabelIndex:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version: str | None = None
        self.entries: dict[str, Entry] = {}
        self._folded: list[tuple[str, str]] | None = None
        self.sorted_cache: dict = {}

    def refresh(self, store, version: str) -> "LabelIndex":
        if self.version == version:
            return self
        with self.lock:
            if self.version == version:
                return self
            entries: dict[str, Entry] = {}
            rank = {p: i for i, p in enumerate(LABEL_PROPS)}
            props = " ".join(f"<{p}>" for p in LABEL_PROPS)
            for r in store.query(f"SELECT ?x ?p ?l WHERE {{ VALUES ?p {{ {props} }} ?x ?p ?l FILTER(isIRI(?x)) }}"):
                lit = r["l"]
                if not hasattr(lit, "language"):
                    continue
                x = r["x"].value
                entry = entries.get(x)
                if entry is None:
                    entry = entries[x] = Entry(x)
                entry.labels.append((rank[r["p"].value], lit.language or "", lit.value))
            classes = " ".join(f"<{c}>" for c in CLASSES.values())
            for r in store.query(f"SELECT ?x ?c WHERE {{ VALUES ?c {{ {classes} }} ?x a ?c FILTER(isIRI(?x)) }}"):
                x = r["x"].value
                entry = entries.get(x)
                if entry is None:
                    entry = entries[x] = Entry(x)
                entry.classes.add(r["c"].value)
            for r in store.query(f"SELECT ?x (MIN(STR(?d)) AS ?s) WHERE {{ ?x <{SCHEMA.startDate}> ?d FILTER(isIRI(?x)) }} GROUP BY ?x"):
                if r["x"].value in entries and r["s"] is not None:
                    entries[r["x"].value].start = r["s"].value
            self.entries, self._folded, self.sorted_cache, self.version = entries, None, {}, version
        return self

    @property
    def folded(self) -> list[tuple[str, str]]:
        """(folded label, iri) of every label: built on the first search after a write."""
        got = self._folded
        if got is None:
            with self.lock:
                got = self._folded
                if got is None:
                    got = self._folded = sorted({(fold(text), e.iri) for e in self.entries.values()
                                                 for _, _, text in e.labels})
        return got

    def label(self, iri: str, langs: list[str]) -> str:
        e = self.entries.get(iri)
        got = pick(e.labels, langs) if e else None
        return got[0] if got else local_name(iri)

    def members(self, cls: str, langs: list[str], sort: str) -> list[Entry]:
        key = (cls, tuple(langs), sort)
        got = self.sorted_cache.get(key)
        if got is None:
            items = [e for e in self.entries.values() if cls in e.classes]
            if sort == "date":
                items.sort(key=lambda e: (e.start or "", fold(self.label(e.iri, langs))), reverse=True)
            else:
                items.sort(key=lambda e: (fold(self.label(e.iri, langs)), e.iri))
            got = self.sorted_cache[key] = items
        return got

    def search(self, q: str, cls: str | None) -> list[tuple[str, str]]:
        """(iri, matched label folded) best first: exact, prefix, word prefix, anywhere; all words must match."""
        words = fold(q).split()
        if not words:
            return []
        phrase = " ".join(words)
        best: dict[str, tuple[int, int, str]] = {}
        for text, iri in self.folded:
            if not all(w in text for w in words):
                continue
            if cls and cls not in self.entries[iri].classes:
                continue
            if text == phrase:
                score = 0
            elif text.startswith(phrase):
                score = 1
            elif (" " + text).find(" " + words[0]) >= 0:
                score = 2
            else:
                score = 3
            cand = (score, len(text), text)
            if iri not in best or cand < best[iri]:
                best[iri] = cand
        return [(iri, v[2]) for iri, v in sorted(best.items(), key=lambda kv: (kv[1], kv[0]))]


def index() -> LabelIndex:
    state = ext_state()
    idx = state.get("labels")
    if idx is None:
        idx = state.setdefault("labels", LabelIndex())
    version, _ = kb_state()
    return idx.refresh(current_app.extensions["kb"].store, version)


def _href(iri: str, lang_q: str | None) -> str | None:
    url = ext_state()["imap"].local_url(iri, request.script_root)
    if url and lang_q and "#" not in url:
        url += "?lang=" + lang_q
    return url


@bp.get("/class/")
def classes():
    idx = index()
    langs = reader_languages(request)
    lang_q = explicit_lang(request)
    counts = {name: sum(1 for e in idx.entries.values() if iri in e.classes) for name, iri in CLASSES.items()}
    items = [(name, PLURALS[name], counts[name], _href_class(name, lang_q)) for name in CLASSES if counts[name]]
    return render_template("class_index.html", items=items, cls=None, lang=langs[0])


def _href_class(name: str, lang_q: str | None, **params) -> str:
    q = {k: v for k, v in params.items() if v}
    if lang_q:
        q["lang"] = lang_q
    query = "&".join(f"{k}={v}" for k, v in q.items())
    return f"{request.script_root}/class/{name}" + (f"?{query}" if query else "")


@bp.get("/class/<name>")
def class_index(name: str):
    if name not in CLASSES:
        abort_with(404, f"There is no class index named {name[:60]!r}; the indexes are: {', '.join(CLASSES)}.")
    idx = index()
    langs = reader_languages(request)
    lang_q = explicit_lang(request)
    sort = request.args.get("sort", "label")
    if sort not in ("label", "date"):
        abort_with(400, "sort must be 'label' or 'date'.")
    page = requested_page()
    fmt = negotiation.request_format(request)
    if fmt is None:
        return not_acceptable(lambda f: _href_class(name, None))
    size = current_app.extensions["kb"].settings["page_size"]
    members = idx.members(CLASSES[name], langs, sort)
    pages = max(1, -(-len(members) // size))
    if page > pages:
        abort_with(404, f"This index has {pages} page(s).")
    if not fmt.is_html:
        return _collection(name, members[(page - 1) * size: page * size], len(members), page, pages, sort, langs, fmt)
    rows = [{"label": idx.label(e.iri, langs), "href": _href(e.iri, lang_q), "iri": e.iri, "start": e.start}
            for e in members[(page - 1) * size: page * size]]
    has_dates = any(e.start for e in members)
    return render_template(
        "class_index.html", cls=name, title=PLURALS[name], class_iri=CLASSES[name], rows=rows, total=len(members),
        page=page, pages=pages, sort=sort, has_dates=has_dates, lang=langs[0], start=(page - 1) * size + 1,
        page_url=lambda k: _href_class(name, lang_q, sort=sort if sort != "label" else None, page=k if k > 1 else None),
        sort_url=lambda s: _href_class(name, lang_q, sort=s if s != "label" else None),
        class_href=_href(CLASSES[name], None))


def _collection(name: str, members: list[Entry], total: int, page: int, pages: int, sort: str, langs: list[str],
                fmt) -> Response:
    """The index for machines: a hydra:Collection whose members on this page carry their label, and a
    hydra:PartialCollectionView with first/previous/next/last (the same paging as the HTML)."""
    kb = current_app.extensions["kb"]
    H, RDF_TYPE, LABEL = "http://www.w3.org/ns/hydra/core#", PREFIXES["rdf"] + "type", PREFIXES["rdfs"] + "label"
    n = ox.NamedNode
    coll = n(f"{kb.iris.base}class/{name}")
    query = "sort=date&" if sort == "date" else ""

    def view_iri(k: int) -> str:
        q = query + (f"page={k}" if k > 1 else "")
        return f"{kb.iris.base}class/{name}" + (f"?{q.rstrip('&')}" if q.rstrip("&") else "")

    xsd_int = n(PREFIXES["xsd"] + "integer")
    triples = [ox.Triple(coll, n(RDF_TYPE), n(H + "Collection")),
               ox.Triple(coll, n(LABEL), ox.Literal(PLURALS[name], language="en")),
               ox.Triple(coll, n(H + "totalItems"), ox.Literal(str(total), datatype=xsd_int)),
               *paging_triples(coll.value, view_iri, page, pages)]
    for e in members:
        m = n(e.iri)
        triples += [ox.Triple(coll, n(H + "member"), m), ox.Triple(m, n(RDF_TYPE), n(CLASSES[name]))]
        got = pick(e.labels, langs)
        if got:  # the label under the property the KB states it with
            rank = min(r for r, lang, text in e.labels if (text, lang) == got)
            lit = ox.Literal(got[0], language=got[1]) if got[1] else ox.Literal(got[0])
            triples.append(ox.Triple(m, n(LABEL_PROPS[rank]), lit))
    resp = Response(serialize(triples, fmt), content_type=fmt.content_type)
    links = [f'<{_href_class(name, None, sort=sort if sort != "label" else None, page=k if k > 1 else None)}>; rel="{rel}"'
             for rel, k in (("first", 1), ("last", pages), ("prev", page - 1), ("next", page + 1)) if 1 <= k <= pages]
    resp.headers["Link"] = ", ".join(links)
    return resp


@bp.get("/search")
def search():
    q = request.args.get("q", "")
    if len(q) > MAX_Q:
        abort_with(400, f"The search text is too long ({len(q)} characters; at most {MAX_Q}).")
    cls_name = request.args.get("class") or None
    if cls_name is not None and cls_name not in CLASSES:
        abort_with(400, f"Unknown class {cls_name[:60]!r}; use one of: {', '.join(CLASSES)}.")
    page = requested_page()
    langs = reader_languages(request)
    lang_q = explicit_lang(request)
    results, total, pages = [], 0, 1
    if q.strip():
        idx = index()
        hits = idx.search(q, CLASSES[cls_name] if cls_name else None)
        total = len(hits)
        pages = max(1, -(-total // SEARCH_PAGE))
        for iri, matched in hits[(page - 1) * SEARCH_PAGE: page * SEARCH_PAGE]:
            label = idx.label(iri, langs)
            entry = idx.entries[iri]
            kinds = [PLURALS[n][:-1] if not PLURALS[n].endswith("ies") else PLURALS[n][:-3] + "y"
                     for n, c in CLASSES.items() if c in entry.classes]
            other = next((t for _, _, t in entry.labels if fold(t) == matched), None)
            results.append({"label": label, "href": _href(iri, lang_q), "iri": iri, "kinds": kinds,
                            "matched": other if other and fold(other) != fold(label) else None})

    def page_url(k: int) -> str:
        from urllib.parse import urlencode

        params = {"q": q}
        if cls_name:
            params["class"] = cls_name
        if lang_q:
            params["lang"] = lang_q
        if k > 1:
            params["page"] = str(k)
        return f"{request.script_root}/search?{urlencode(params)}"

    return render_template("search.html", q=q, results=results, total=total, page=page, pages=pages,
                           cls=cls_name, classes=CLASSES, plurals=PLURALS, lang=langs[0], page_url=page_url)
