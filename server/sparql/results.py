"""Result formats of the SPARQL endpoint: the media types offered, content negotiation, and serialisation
with the row cap.

SELECT and ASK results are written by pyoxigraph's own serialisers (JSON, XML, CSV, TSV); CONSTRUCT and
DESCRIBE results by pyoxigraph's RDF serialisers, into a file-like writer (`streaming.ChunkWriter`) so that a
large answer leaves in chunks while it is written. The row cap is applied before the first byte: one row more
than the cap is read, so a cut result is known for certain and flagged (never silent). The rows are read by
pyoxigraph itself, never one by one in Python (`capped_tsv`): its TSV writer writes them into a buffer that
stops it at the cap, and that text (one row a line, terms in N-Triples form) is parsed back into the answer's
format, natively: 1.3x to 2.6x faster than reading each row into Python objects and writing them out
again (`python -m bench.rowcap`, in docs/sparql.md). The flags:

* the response header ``X-KB-Truncated: true`` together with ``X-KB-Row-Limit: N`` (exactly when cut);
* in SPARQL JSON results, a top-level member ``"x-kb": {"truncated": true, "limit": N}`` (exactly when cut;
  JSON readers ignore unknown members), between "head" and "results": streaming readers (pyoxigraph,
  Comunica) reject members after the bindings, and the reader learns of the cut before the rows.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
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
class Prepared:
    """Results ready to be written: the row cap applied (at most cap+1 rows read, so a cut is known before
    the first byte), and what the response says about it."""

    kind: str
    fmt: ResultFormat
    items: object  # the triples to write (a capped list) or the live result iterator (no cap)
    truncated: bool = False
    max_rows: int = 0
    boolean: bytes | None = None  # an ASK answer, already serialised (a few bytes)
    tsv: bytes | None = None  # a capped SELECT: its rows as TSV results (see capped_tsv)

    @property
    def headers(self) -> dict[str, str]:
        return {TRUNCATED_HEADER: "true", LIMIT_HEADER: str(self.max_rows)} if self.truncated else {}

    def cut_flag(self):
        """What rewrites the start of the body to flag a cut (JSON results only), else None. A plain function
        of the limit: it keeps no reference to the results (which must not outlive their thread)."""
        if self.truncated and self.fmt.name == "json":
            return functools.partial(flag_cut, self.max_rows)
        return None


def flag_cut(limit: int, start: bytes) -> bytes | None:
    """The start of a JSON results body with the member that flags a cut, inserted before "results" (after
    "head": streaming parsers such as pyoxigraph's reject members after the bindings, and the reader learns
    of the cut before the rows); None while `start` does not reach "results" yet."""
    at = start.find(b'"results":')  # variable names cannot contain it: the first one is the member
    if at < 0:
        return None
    member = json.dumps({JSON_MEMBER: {"truncated": True, "limit": limit}})[1:-1].encode()
    return start[:at] + member + b"," + start[at:]


def prepare(results, fmt: ResultFormat, max_rows: int, rows: int | None = None) -> Prepared:
    """Apply the row cap (`max_rows` <= 0: none). Without a cap nothing is read ahead: the result iterator
    itself is written; likewise when the number of rows is known (`rows`: a remote store's answer, counted
    when it was checked) and within the cap. A capped SELECT is read to at most cap+1 rows into TSV text
    (`capped_tsv`); a capped CONSTRUCT into a list of triples (small terms; the bytes are what grow, and those
    are written in chunks by `write`)."""
    kind = kind_of(results)
    if kind == ASK:
        return Prepared(kind, fmt, None, boolean=results.serialize(format=fmt.results))
    if max_rows <= 0 or (rows is not None and rows <= max_rows):
        return Prepared(kind, fmt, results, max_rows=max_rows)
    if kind == SELECT:
        tsv, truncated = capped_tsv(results, max_rows)
        return Prepared(kind, fmt, None, truncated=truncated, max_rows=max_rows, tsv=tsv)
    items = list(islice(results, max_rows + 1))
    truncated = len(items) > max_rows
    if truncated:
        del items[max_rows:]
    return Prepared(kind, fmt, items, truncated=truncated, max_rows=max_rows)


class _Enough(Exception):
    """Raised into pyoxigraph's TSV writer at the cap: it stops reading rows."""


class _CappedBuffer:
    """A binary writer that keeps the first `lines` lines written to it and stops its writer (_Enough) once
    something follows them (a row past the cap); `full` says it did. pyoxigraph writes in pieces of about
    8 KB, and may write its buffer once more while it unwinds: ignored. So it never holds more than the lines
    wanted."""

    def __init__(self, lines: int):
        self.left = lines
        self.parts: list[bytes] = []
        self.full = False

    def write(self, data) -> int:
        if self.full:
            return len(data)
        data = bytes(data)
        count = data.count(b"\n")
        if count < self.left or (count == self.left and data.endswith(b"\n")):
            self.left -= count
            self.parts.append(data)
            return len(data)
        end = -1
        for _ in range(self.left):  # the end of the last line kept, within this piece
            end = data.index(b"\n", end + 1)
        self.parts.append(data[:end + 1])
        self.left, self.full = 0, True
        raise _Enough()

    def flush(self) -> None:
        pass


def capped_tsv(solutions, max_rows: int) -> tuple[bytes, bool]:
    """The first `max_rows` rows of `solutions` as SPARQL TSV results (header line first), and whether there
    were more. Rows are single lines (TSV escapes tabs and line breaks inside terms), so counting line ends
    counts rows; pyoxigraph reads at most one of its pieces (about 8 KB) past the cap, where the writer stops it."""
    out = _CappedBuffer(max_rows + 1)  # the header and the rows
    try:
        solutions.serialize(out, ox.QueryResultsFormat.TSV)
    except _Enough:
        pass
    return b"".join(out.parts), out.full


def write(prepared: Prepared, out) -> None:
    """Serialise prepared results to `out` (an object with `write` and `flush`), in pyoxigraph's pieces."""
    fmt = prepared.fmt
    if prepared.kind == ASK:
        out.write(prepared.boolean)
        return
    if prepared.tsv is not None:
        if fmt.results == ox.QueryResultsFormat.TSV:
            out.write(prepared.tsv)
        else:
            ox.parse_query_results(prepared.tsv, format=ox.QueryResultsFormat.TSV).serialize(out, fmt.results)
        return
    if prepared.kind == SELECT:
        prepared.items.serialize(out, fmt.results)
        return
    triples = prepared.items
    items = (ox.Quad(t.subject, t.predicate, t.object) for t in triples) if fmt.quads else triples
    kwargs = {"prefixes": _prefixes()} if fmt.rdf in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG) else {}
    ox.serialize(items, out, fmt.rdf, **kwargs)


_PREFIX_CACHE: dict[str, str] | None = None


def _prefixes() -> dict[str, str]:
    global _PREFIX_CACHE
    if _PREFIX_CACHE is None:
        _PREFIX_CACHE = {k: str(v) for k, v in dict(PREFIXES).items()}
    return _PREFIX_CACHE
