"""Result formats of the SPARQL endpoint: the media types offered, content negotiation, and serialisation
with the row cap.

SELECT and ASK results are written by pyoxigraph's own serialisers (JSON, XML, CSV, TSV); CONSTRUCT and
DESCRIBE results by pyoxigraph's RDF serialisers. The row cap is applied while reading the results: one
row more than the cap is read, so a cut result is known for certain and flagged (never silent):

* the response header ``X-KB-Truncated: true`` together with ``X-KB-Row-Limit: N`` (exactly when cut);
* in SPARQL JSON results, a top-level member ``"x-kb": {"truncated": true, "limit": N}`` (exactly when cut;
  JSON readers ignore unknown members).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import islice

import pyoxigraph as ox

from kb.namespaces import PREFIXES

SELECT, ASK, GRAPH = "select", "ask", "graph"  # the three result kinds (CONSTRUCT and DESCRIBE give graphs)

TRUNCATED_HEADER = "X-KB-Truncated"
LIMIT_HEADER = "X-KB-Row-Limit"
JSON_MEMBER = "x-kb"


@dataclass(frozen=True)
class ResultFormat:
    name: str
    media_type: str
    kinds: tuple[str, ...]
    results: ox.QueryResultsFormat | None = None
    rdf: ox.RdfFormat | None = None
    quads: bool = False
    aliases: tuple[str, ...] = ()  # other media types this format answers

    @property
    def content_type(self) -> str:
        text = self.media_type.startswith("text/") or self.media_type.endswith(("+json", "+xml", "/json", "/xml"))
        return self.media_type + ("; charset=utf-8" if text or self.rdf is not None else "")


TABLE = (SELECT, ASK)
FORMATS: tuple[ResultFormat, ...] = (
    # The first format of each kind is its default (no Accept header, or */*).
    ResultFormat("json", "application/sparql-results+json", TABLE, results=ox.QueryResultsFormat.JSON,
                 aliases=("application/json",)),
    ResultFormat("xml", "application/sparql-results+xml", TABLE, results=ox.QueryResultsFormat.XML,
                 aliases=("application/xml", "text/xml")),
    ResultFormat("csv", "text/csv", TABLE, results=ox.QueryResultsFormat.CSV),
    ResultFormat("tsv", "text/tab-separated-values", TABLE, results=ox.QueryResultsFormat.TSV),
    ResultFormat("turtle", "text/turtle", (GRAPH,), rdf=ox.RdfFormat.TURTLE, aliases=("application/x-turtle", "text/n3", "text/rdf+n3")),
    ResultFormat("ntriples", "application/n-triples", (GRAPH,), rdf=ox.RdfFormat.N_TRIPLES, aliases=("text/plain",)),
    ResultFormat("jsonld", "application/ld+json", (GRAPH,), rdf=ox.RdfFormat.JSON_LD, aliases=("application/json",)),
    ResultFormat("rdfxml", "application/rdf+xml", (GRAPH,), rdf=ox.RdfFormat.RDF_XML,
                 aliases=("application/xml", "text/xml")),
    ResultFormat("trig", "application/trig", (GRAPH,), rdf=ox.RdfFormat.TRIG, quads=True),
    ResultFormat("nquads", "application/n-quads", (GRAPH,), rdf=ox.RdfFormat.N_QUADS, quads=True),
)

# `format=` parameter values (names, short names and media types) per kind
_FORMAT_NAMES = {
    "json": "json", "srj": "json", "xml": "xml", "srx": "xml", "csv": "csv", "tsv": "tsv",
    "turtle": "turtle", "ttl": "turtle", "n3": "turtle", "ntriples": "ntriples", "n-triples": "ntriples", "nt": "ntriples",
    "jsonld": "jsonld", "json-ld": "jsonld", "rdfxml": "rdfxml", "rdf/xml": "rdfxml", "rdf+xml": "rdfxml",
    "rdf": "rdfxml",
    "trig": "trig", "nquads": "nquads", "n-quads": "nquads", "nq": "nquads",
}
_GRAPH_SYNONYMS = {"json": "jsonld", "xml": "rdfxml"}  # format=json on a CONSTRUCT means JSON-LD


def formats_for(kind: str) -> list[ResultFormat]:
    return [f for f in FORMATS if kind in f.kinds]


class NotAcceptable(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def negotiate(kind: str, accept, format_param=None) -> ResultFormat:
    """The format to answer with: the `format` parameter wins (several values: the first one that fits, as
    SPARQLWrapper sends `format=rdf+xml&format=application/rdf+xml`), else the Accept header (a Werkzeug
    MIMEAccept, q-values honoured), else the kind's default."""
    if isinstance(format_param, (list, tuple)):
        error = None
        for value in format_param:
            try:
                return negotiate(kind, accept, value)
            except NotAcceptable as exc:
                error = error or exc
        if error is not None:
            raise error
        format_param = None
    offered = formats_for(kind)
    if format_param:
        wanted = format_param.strip().lower()
        name = _FORMAT_NAMES.get(wanted)
        if name is None:
            for f in offered:
                if wanted == f.media_type or wanted in f.aliases:
                    return f
        else:
            if kind == GRAPH:
                name = _GRAPH_SYNONYMS.get(name, name)
            for f in offered:
                if f.name == name:
                    return f
        raise NotAcceptable(f"format={format_param!r} is not available for a {kind_label(kind)} query; use one of: "
                            + ", ".join(f.name for f in offered))
    if not accept:
        return offered[0]
    by_type: dict[str, ResultFormat] = {}
    for f in offered:
        by_type.setdefault(f.media_type, f)
    for f in offered:
        for alias in f.aliases:
            by_type.setdefault(alias, f)
    best = accept.best_match(list(by_type))
    if best is None:
        raise NotAcceptable(f"none of the accepted media types ({accept}) is available for a {kind_label(kind)} "
                            "query; available: " + ", ".join(f.media_type for f in offered))
    return by_type[best]


def kind_label(kind: str) -> str:
    return {SELECT: "SELECT", ASK: "ASK", GRAPH: "CONSTRUCT/DESCRIBE"}[kind]


def kind_of(results) -> str:
    if isinstance(results, ox.QuerySolutions):
        return SELECT
    if isinstance(results, ox.QueryBoolean):
        return ASK
    return GRAPH


@dataclass
class Serialised:
    body: bytes
    fmt: ResultFormat
    truncated: bool = False
    rows: int = 0
    headers: dict[str, str] = field(default_factory=dict)


def serialise(results, fmt: ResultFormat, max_rows: int) -> Serialised:
    """Serialise pyoxigraph results in `fmt`, reading at most `max_rows` rows (or triples)."""
    kind = kind_of(results)
    if kind == ASK:
        return Serialised(results.serialize(format=fmt.results), fmt, rows=1)
    if kind == SELECT:
        variables = results.variables
        rows = list(islice(results, max_rows + 1))
        truncated = len(rows) > max_rows
        if truncated:
            del rows[max_rows:]
        body = _solutions_bytes(variables, rows, fmt)
        if truncated and fmt.name == "json":
            member = json.dumps({JSON_MEMBER: {"truncated": True, "limit": max_rows}})[1:-1].encode()
            body = body.rstrip()[:-1] + b"," + member + b"}"
    else:
        triples = list(islice(results, max_rows + 1))
        truncated = len(triples) > max_rows
        if truncated:
            del triples[max_rows:]
        items = [ox.Quad(t.subject, t.predicate, t.object) for t in triples] if fmt.quads else triples
        kwargs = {"prefixes": _prefixes()} if fmt.rdf in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else {}
        body = ox.serialize(items, format=fmt.rdf, **kwargs)
        rows = triples
    out = Serialised(body, fmt, truncated, len(rows))
    if truncated:
        out.headers = {TRUNCATED_HEADER: "true", LIMIT_HEADER: str(max_rows)}
    return out


def _solutions_bytes(variables, rows, fmt: ResultFormat) -> bytes:
    """pyoxigraph serialises QuerySolutions objects; a capped list of rows is turned back into one through
    the TSV results format (terms in their N-Triples form), which pyoxigraph reads and writes exactly."""
    lines = ["\t".join(str(v) for v in variables)]
    width = len(variables)
    for row in rows:
        lines.append("\t".join("" if row[i] is None else str(row[i]) for i in range(width)))
    tsv = ("\n".join(lines) + "\n").encode("utf-8")
    if fmt.results == ox.QueryResultsFormat.TSV:
        return tsv
    solutions = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
    return solutions.serialize(format=fmt.results)


_PREFIX_CACHE: dict[str, str] | None = None


def _prefixes() -> dict[str, str]:
    global _PREFIX_CACHE
    if _PREFIX_CACHE is None:
        _PREFIX_CACHE = {k: str(v) for k, v in dict(PREFIXES).items()}
    return _PREFIX_CACHE
