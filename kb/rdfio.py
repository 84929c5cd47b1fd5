"""Safe parsing and serialising of RDF, and conversion between pyoxigraph and rdflib terms.

Parsing uses pyoxigraph: it is fast, reports line and column, and never dereferences a JSON-LD context.
Nothing here ever opens a URL: sources are bytes or local files. XML with a DTD is refused before parsing
(entity expansion). A JSON-LD document may name a context by IRI only when the IRI is on the allow-list of
local copies (kb.jsonld_contexts: thb-kb's own context, the publisher's KB_JSONLD_CONTEXTS); the copy is
inlined before parsing (kb.jsonld_inline). Any other remote context, file: context or relative reference is
refused with a message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterable

import pyoxigraph as ox
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.term import Node

if TYPE_CHECKING:
    from .jsonld_contexts import Library


@dataclass(frozen=True)
class RdfFormatInfo:
    name: str
    media_type: str
    extensions: tuple[str, ...]
    ox: ox.RdfFormat
    quads: bool = False


FORMATS: tuple[RdfFormatInfo, ...] = (
    RdfFormatInfo("turtle", "text/turtle", (".ttl", ".turtle"), ox.RdfFormat.TURTLE),
    RdfFormatInfo("ntriples", "application/n-triples", (".nt",), ox.RdfFormat.N_TRIPLES),
    RdfFormatInfo("jsonld", "application/ld+json", (".jsonld", ".json"), ox.RdfFormat.JSON_LD, quads=True),
    RdfFormatInfo("rdfxml", "application/rdf+xml", (".rdf", ".owl", ".xml"), ox.RdfFormat.RDF_XML),
    RdfFormatInfo("trig", "application/trig", (".trig",), ox.RdfFormat.TRIG, quads=True),
    RdfFormatInfo("nquads", "application/n-quads", (".nq",), ox.RdfFormat.N_QUADS, quads=True),
)
BY_NAME = {f.name: f for f in FORMATS}
BY_MEDIA_TYPE = {f.media_type: f for f in FORMATS} | {
    "application/x-turtle": BY_NAME["turtle"],
    "text/n3": BY_NAME["turtle"],
    "text/plain": BY_NAME["ntriples"],
    "application/json": BY_NAME["jsonld"],
    "application/xml": BY_NAME["rdfxml"],
    "text/xml": BY_NAME["rdfxml"],
}
ALIASES = {"ttl": "turtle", "nt": "ntriples", "n-triples": "ntriples", "json-ld": "jsonld", "xml": "rdfxml",
           "rdf": "rdfxml", "rdf/xml": "rdfxml", "nq": "nquads", "n-quads": "nquads"}


class ParseError(ValueError):
    """Input that is not RDF in the expected format; carries the position where known."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None, column: int | None = None):
        self.message, self.source, self.line, self.column = message, source, line, column
        where = ""
        if line is not None and f"line {line}" not in message:
            where = f" at line {line}" + (f", column {column}" if column is not None else "")
        super().__init__(f"{source + ': ' if source else ''}{message}{where}")


def format_for(name: str | None = None, *, filename: str | None = None, media_type: str | None = None) -> RdfFormatInfo:
    """Pick a format from an explicit name, a media type or a file name; ValueError if none fits."""
    if name:
        key = ALIASES.get(name.lower(), name.lower())
        if key in BY_NAME:
            return BY_NAME[key]
        raise ValueError(f"unknown RDF format {name!r}; known: {', '.join(BY_NAME)}")
    if media_type:
        mt = media_type.split(";")[0].strip().lower()
        if mt in BY_MEDIA_TYPE:
            return BY_MEDIA_TYPE[mt]
        raise ValueError(f"unsupported media type {mt!r}; supported: {', '.join(f.media_type for f in FORMATS)}")
    if filename:
        suffix = Path(filename).suffix.lower()
        for f in FORMATS:
            if suffix in f.extensions:
                return f
        raise ValueError(f"cannot tell the RDF format of {filename!r} from its extension "
                         f"({', '.join(e for f in FORMATS for e in f.extensions)})")
    raise ValueError("no RDF format given")


_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_POSITION = re.compile(r"line (\d+)(?:,? (?:between )?columns? (\d+))?|(\d+):(\d+)")


def _jsonld(data: bytes, source: str | None, contexts: "Library | None") -> bytes:
    """Check the JSON (line and column of a syntax error), then inline the contexts it names by IRI from their
    local copies (kb.jsonld_inline): what pyoxigraph parses names no context it would have to load."""
    try:
        json.loads(data)
    except (ValueError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        col = getattr(exc, "colno", None)
        raise ParseError(f"invalid JSON: {getattr(exc, 'msg', exc)}", source=source, line=line, column=col) from None
    from . import jsonld_contexts, jsonld_inline

    try:
        return jsonld_inline.inline(data, contexts if contexts is not None else jsonld_contexts.default_library())
    except jsonld_inline.Refused as exc:
        raise ParseError(str(exc), source=source) from None


def _position(message: str) -> tuple[int | None, int | None]:
    m = _POSITION.search(message)
    if not m:
        return None, None
    if m.group(1):
        return int(m.group(1)), int(m.group(2)) if m.group(2) else None
    return int(m.group(3)), int(m.group(4))


def parse_quads(data: bytes, fmt: RdfFormatInfo, *, base_iri: str | None = None, source: str | None = None,
                contexts: "Library | None" = None) -> list[ox.Quad]:
    """Parse bytes into pyoxigraph quads, safely. Raises ParseError with position.

    `contexts`: the JSON-LD contexts a document may name by IRI (kb.jsonld_contexts.from_settings); default:
    thb-kb's own context under the default base only."""
    if fmt.name == "rdfxml" and _DOCTYPE.search(data[:65536] if len(data) > 65536 else data):
        raise ParseError("XML with a DOCTYPE or ENTITY declaration is refused (entity expansion)", source=source)
    if fmt.name == "jsonld":
        data = _jsonld(data, source, contexts)
    try:
        return list(ox.parse(data, fmt.ox, base_iri=base_iri))
    except SyntaxError as exc:
        msg = str(exc)
        line, col = _position(msg)
        # pyoxigraph reports 0-based positions in the "line:col" form of some messages
        raise ParseError(msg, source=source, line=line, column=col) from None
    except (ValueError, OSError, RecursionError) as exc:
        raise ParseError(str(exc) or exc.__class__.__name__, source=source) from None


def read_file(path: str | Path, fmt: RdfFormatInfo | None = None, *, base_iri: str | None = None,
              contexts: "Library | None" = None) -> list[ox.Quad]:
    path = Path(path)
    fmt = fmt or format_for(filename=path.name)
    return parse_quads(path.read_bytes(), fmt, base_iri=base_iri, source=str(path), contexts=contexts)


# --- term conversion ---------------------------------------------------------------------------------

def to_rdflib(term) -> Node:
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        dt = term.datatype.value
        if dt == "http://www.w3.org/2001/XMLSchema#string":
            return Literal(term.value)
        return Literal(term.value, datatype=URIRef(dt))
    raise TypeError(f"cannot convert {term!r}")


def to_ox(term: Node):
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype is not None:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
    raise TypeError(f"cannot convert {term!r}")


def triples_to_graph(triples: Iterable, graph: Graph | None = None) -> Graph:
    """pyoxigraph triples or quads (graph name ignored) into an rdflib Graph."""
    g = graph if graph is not None else Graph()
    add = g.add
    for t in triples:
        add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    return g


def graph_to_triples(graph: Graph) -> list[ox.Triple]:
    return [ox.Triple(to_ox(s), to_ox(p), to_ox(o)) for s, p, o in graph]


def serialize_graph(graph: Graph, fmt: RdfFormatInfo, out: IO[bytes] | None = None, *, prefixes: dict[str, str] | None = None) -> bytes | None:
    """Serialise with rdflib's serialisers (pretty Turtle with prefixes; JSON-LD; RDF/XML)."""
    for prefix, ns in (prefixes or {}).items():
        graph.bind(prefix, ns, override=False)
    rdflib_name = {"turtle": "turtle", "ntriples": "nt", "jsonld": "json-ld", "rdfxml": "pretty-xml",
                   "trig": "trig", "nquads": "nquads"}[fmt.name]
    if fmt.quads and not isinstance(graph, Dataset):
        ds = Dataset()
        for prefix, ns in graph.namespaces():
            ds.bind(prefix, ns)
        ds.default_context += graph  # type: ignore[operator]
        graph = ds
    data = graph.serialize(format=rdflib_name, encoding="utf-8")
    if out is None:
        return data
    out.write(data)
    return None
