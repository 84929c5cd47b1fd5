"""Content negotiation for documents: the format table, `Accept` parsing (Werkzeug), suffixes, 406.

A document is offered in HTML and in the RDF triple formats of `kb.rdfio.FORMATS` (plus JSON-LD). Each
format has one suffix (`/doc/x.ttl`) and one canonical media type; a few aliases are accepted in `Accept`
(`application/json` means JSON-LD, `application/xhtml+xml` means HTML...). Browsers, `*/*` and a missing
`Accept` get HTML: it is first in the table, and Werkzeug breaks ties by the server's order.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Request
from werkzeug.datastructures import MIMEAccept

from kb import rdfio


@dataclass(frozen=True)
class DocFormat:
    name: str                      # "html", or the kb.rdfio format name
    suffix: str                    # without the dot: html, ttl, jsonld, rdf, nt
    media_type: str
    label: str
    rdf: rdfio.RdfFormatInfo | None = None

    @property
    def is_html(self) -> bool:
        return self.rdf is None

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"


_LABELS = {"turtle": "Turtle", "jsonld": "JSON-LD", "rdfxml": "RDF/XML", "ntriples": "N-Triples"}
# Suffix of each document format: the first extension that kb.rdfio lists for it.
_DOC_RDF = ("turtle", "jsonld", "rdfxml", "ntriples")
_QUAD_LABELS = {"trig": "TriG (with graphs)", "nquads": "N-Quads (with graphs)"}

HTML = DocFormat("html", "html", "text/html", "HTML")
FORMATS: tuple[DocFormat, ...] = (HTML,) + tuple(
    DocFormat(f.name, f.extensions[0].lstrip("."), f.media_type, _LABELS[f.name], f)
    for f in rdfio.FORMATS if f.name in _DOC_RDF
)
BY_SUFFIX: dict[str, DocFormat] = {f.suffix: f for f in FORMATS}
BY_NAME: dict[str, DocFormat] = {f.name: f for f in FORMATS}
RDF_FORMATS = tuple(f for f in FORMATS if not f.is_html)
# Entity documents are also offered with their named graphs (each statement in the graph the KB keeps it in).
QUAD_FORMATS: tuple[DocFormat, ...] = tuple(
    DocFormat(f.name, f.extensions[0].lstrip("."), f.media_type, _QUAD_LABELS[f.name], f)
    for f in rdfio.FORMATS if f.name in _QUAD_LABELS
)
DOC_FORMATS = FORMATS + QUAD_FORMATS

# Media types offered to Werkzeug's matcher, in the server's order of preference, and what each means.
_ALIASES: tuple[tuple[str, str], ...] = (
    ("application/xhtml+xml", "html"),
    ("application/x-turtle", "turtle"),
    ("application/json", "jsonld"),
    ("application/xml", "rdfxml"),
    ("text/xml", "rdfxml"),
    ("text/plain", "ntriples"),
)
OFFERS: dict[str, DocFormat] = {f.media_type: f for f in FORMATS}
OFFERS.update({mt: BY_NAME[name] for mt, name in _ALIASES})
_OFFER_LIST = list(OFFERS)
_RDF_OFFER_LIST = [mt for mt, f in OFFERS.items() if not f.is_html]
_HTML_OFFER_LIST = [mt for mt, f in OFFERS.items() if f.is_html]
_QUAD_OFFERS = {f.media_type: f for f in QUAD_FORMATS}


def negotiate(accept: MIMEAccept, *, rdf_only: bool = False, rdf_first: bool = False,
              quads: bool = False) -> DocFormat | None:
    """The format the client prefers, or None when nothing it accepts is offered (406). Ties (`*/*`, no
    Accept header) go to HTML, or with `rdf_first` (metadata documents: VoID, DCAT) to Turtle."""
    if not accept:  # no Accept header (or one Werkzeug could not parse into anything)
        return RDF_FORMATS[0] if rdf_only or rdf_first else HTML
    offers = _RDF_OFFER_LIST if rdf_only else (_RDF_OFFER_LIST + _HTML_OFFER_LIST if rdf_first else _OFFER_LIST)
    if quads:
        offers = offers + list(_QUAD_OFFERS)
    match = accept.best_match(offers)
    return (OFFERS.get(match) or _QUAD_OFFERS.get(match)) if match else None


def request_format(request: Request, *, quads: bool = False) -> DocFormat | None:
    return negotiate(request.accept_mimetypes, quads=quads)


def error_format(request: Request) -> DocFormat:
    """The format of an error message: what the client prefers, else HTML (never another error)."""
    try:
        return negotiate(request.accept_mimetypes) or HTML
    except Exception:  # pragma: no cover - Werkzeug parses leniently; stay safe anyway
        return HTML


FORMAT_PARAMS = ("format", "output")  # Trifid, Wikibase and Virtuoso say `format`, LodView and Pubby `output`


def param_format(request: Request, *, quads: bool = False) -> DocFormat | None:
    """The format a `?format=`/`?output=` parameter names (a suffix, a format name or a media type, in any
    case), None when there is no such parameter; ValueError (with the list) for a format not offered."""
    for name in FORMAT_PARAMS:
        value = request.args.get(name)
        if value is None:
            continue
        key = value.strip().lower()
        table = DOC_FORMATS if quads else FORMATS
        found = next((f for f in table if key in (f.suffix, f.name, f.media_type)), None) or OFFERS.get(key.split(";")[0].strip())
        if found is None:
            try:  # the other names kb.rdfio knows ("json-ld", "n-triples", "xml"...)
                name = rdfio.format_for(key).name
                found = next((f for f in table if f.name == name), None)
            except ValueError:
                found = None
        if found is None:
            raise ValueError(f"Unknown format {value[:60]!r} in the {name} parameter.\n" + formats_message(table))
        return found
    return None


def split_suffix(path: str) -> tuple[str, str | None]:
    """'type/slug.ttl' -> ('type/slug', 'ttl'); no dot in the last segment -> (path, None)."""
    head, _, last = path.rpartition("/")
    stem, dot, ext = last.rpartition(".")
    if not dot or not stem:
        return path, None
    return (head + "/" if head else "") + stem, ext


def formats_message(formats: tuple[DocFormat, ...] = FORMATS) -> str:
    lines = ["This resource is available in these formats (Accept header, the suffix of the document URL, or "
             "?format=suffix):"]
    lines += [f"  {f.media_type:<24} .{f.suffix:<7} {f.label}" for f in formats]
    return "\n".join(lines)


def suffix_list(formats: tuple[DocFormat, ...] = FORMATS) -> str:
    return ", ".join("." + f.suffix for f in formats)
