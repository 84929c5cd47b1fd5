"""The SPARQL 1.1 Protocol side of the remote store: query texts, update texts, answers.

Limits that shape the texts (Virtuoso 7.2, measured): one INSERT/DELETE DATA operation holds at most about
5,000 triples (its parser's stack), one request text at most about 10 MB, blank nodes are refused in
INSERT DATA (so blocks with blank nodes become `INSERT { ... } WHERE { }` templates, which Virtuoso compiles
to at most 10,000 lines of SQL), and results name blank nodes `nodeID://b123`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache

import pyoxigraph as ox
import requests

from .base import StoreError, StoreUnavailable, nt

BLOCK = 2_000           # triples per INSERT/DELETE DATA operation (Virtuoso's parser stops near 5,000)
BNODE_BLOCK = 200       # triples per INSERT template with blank nodes (Virtuoso: 10,000 lines of SQL)
SLOTS = 8               # staging graphs: bulk writes that may stage at the same time on one store
VIRTUOSO_SYSTEM_GRAPHS = {"http://www.openlinksw.com/schemas/virtrdf#", "http://www.w3.org/ns/ldp#",
                          "http://localuriqaserver/sparql", "http://www.w3.org/2002/07/owl#"}
GRACE = 2.0             # seconds we wait past a query's time limit for the store's own answer
COMMIT_MARGIN = 0.05    # seconds a write waits past KB_REMOTE_STATE_TTL (clock rates of app servers may differ)
CHUNK = 10_000          # triples per request (Virtuoso refuses request texts over about 10 MB)
NAMED_GRAPH = "http://www.w3.org/ns/sparql-service-description#NamedGraph"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
CREATOR = "http://purl.org/dc/terms/creator"

_DATASET_CLAUSE = re.compile(r"(?<![?$:\w])FROM\b(?!\s*:)", re.IGNORECASE)
_STRIP = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^\'\\]|\\.|\'(?!\'\'))*\'\'\''
                    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|<[^<>"{}|^`\\\s]*>|#[^\n]*')
_VIRTUOSO_BNODE = re.compile(rb'("bnode"\s*,\s*"value"\s*:\s*"|<bnode>)nodeID://')
_PROLOGUE_FORM = re.compile(r"\s*(?:(?:BASE\s*<[^<>]*>|PREFIX\s+[^\s:]*:\s*<[^<>]*>)\s*)*"
                            r"(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)
_FORM = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.IGNORECASE)


class ResultCut(StoreError):
    """The store cut a SELECT result at its own row limit (Virtuoso's ResultSetMaxRows)."""

    def __init__(self, limit: int, where: str):
        super().__init__(f"the SPARQL store at {where} cut the result at {limit} rows (its own limit, Virtuoso's "
                         "ResultSetMaxRows): ask for fewer rows with LIMIT, or raise the store's limit")
        self.limit = limit


def code_text(sparql: str) -> str | None:
    """The query as SPARQL's tokens see it: strings and comments blanked, every IRI written `<>` (so that a
    keyword or a word inside a literal, an IRI or a comment is not taken for code). None when that cannot be
    told for sure: an unterminated string (a quote is left over) or \\u escapes (decoded before parsing by
    some engines, so their quotes and brackets could move)."""
    if "\\u" in sparql or "\\U" in sparql:
        return None
    text = _STRIP.sub(lambda m: "<>" if m.group(0)[0] == "<" else " ", sparql)
    return None if ('"' in text or "'" in text) else text


def has_dataset_clause(sparql: str) -> bool:
    """True when the query names its own dataset (FROM / FROM NAMED) outside strings, IRIs and comments."""
    return bool(_DATASET_CLAUSE.search(_STRIP.sub(" ", sparql)))


_GRAPH_CONSTANT = re.compile(r"\bGRAPH\s*(?:<|[A-Za-z_][\w.-]*:|:)", re.IGNORECASE)


def names_a_graph(sparql: str) -> bool:
    """True when the query has `GRAPH <iri>` or `GRAPH prefix:name` (outside strings and comments). Virtuoso
    answers such a pattern with nothing when the query also carries `DEFINE input:*-graph-exclude` (7.2.5,
    measured), so these queries get the KB's graphs by the protocol's dataset parameters instead."""
    text = _STRIP.sub(lambda m: " " if m.group(0)[0] in "#\"'" else m.group(0), sparql)
    return bool(_GRAPH_CONSTANT.search(text))


def explain_rejection(sparql: str, message: str) -> SyntaxError:
    """The store refused the query as bad (HTTP 400). When the SPARQL 1.1 grammar says why, say it with its
    position (rdflib's parser, on this rare path only); else the store's own message, without the query
    text it echoes (Virtuoso's carries the graph-exclusion pragmas)."""
    from pyparsing import ParseException
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        parseQuery(sparql)
    except ParseException as exc:
        return SyntaxError(f"error at {exc.lineno}:{exc.col}: {exc.msg}")
    except Exception:  # noqa: BLE001 - the grammar could not tell (too deep...): the store's message
        pass
    return SyntaxError(message.split("\nSPARQL query:")[0].strip())


def query_form(sparql: str) -> str:
    m = _FORM.search(_STRIP.sub(" ", sparql))
    return m.group(1).upper() if m else "SELECT"


def _query_form_or_refuse(sparql: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE after the prologue; anything else (SPARQL Update, an engine's
    pragmas such as Virtuoso's DEFINE) is refused here, as the embedded store's parser refuses it."""
    text = _STRIP.sub(lambda m: " " if m.group(0).startswith("#") else m.group(0), sparql)
    m = _PROLOGUE_FORM.match(text)
    if m is None:
        raise SyntaxError("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE after the prologue "
                          "(SPARQL Update and engine-specific pragmas are not accepted here)")
    return m.group(1).upper()


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _dataset_params(dataset) -> list[tuple[str, str]]:
    if dataset is None:
        return []
    default, named = dataset
    return [("default-graph-uri", g) for g in default] + [("named-graph-uri", g) for g in named]


def _quote_table(safe: bytes) -> dict[int, str]:
    kept = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~") | set(safe)
    return {i: chr(i) if i in kept else "+" if i == 0x20 else f"%{i:02X}" for i in range(256)}


_QUOTE_PLUS = {b"": _quote_table(b""), b"/": _quote_table(b"/")}


def quote_plus(text: str, safe: bytes = b"") -> str:
    """`urllib.parse.quote_plus(text, safe)` (UTF-8; `safe` b"" or b"/") in one pass of C, twice as fast: a
    query's text is encoded for every request."""
    return text.encode("utf-8").decode("latin-1").translate(_QUOTE_PLUS[safe])


@lru_cache(maxsize=64)
def encoded_dataset(dataset: tuple[tuple[str, ...], tuple[str, ...]] | None) -> str:
    """The dataset parameters form-encoded (`urllib.parse.urlencode`), kept: the KB's graphs change only
    with a write, and every query carries them."""
    return "&".join(f"{k}={quote_plus(v)}" for k, v in _dataset_params(dataset))


def _content_type(resp) -> str:
    return resp.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _parse_results(resp, where: str, count: bool = False):
    """The SPARQL results of an answer (checked to the end: a broken answer fails here, not half-way through
    a response); with `count`, also the number of solutions (None for ASK)."""
    ctype = _content_type(resp)
    fmt = {"application/sparql-results+json": ox.QueryResultsFormat.JSON,
           "application/json": ox.QueryResultsFormat.JSON,
           "application/sparql-results+xml": ox.QueryResultsFormat.XML,
           "application/xml": ox.QueryResultsFormat.XML}.get(ctype)
    if fmt is None:
        raise StoreUnavailable(f"the SPARQL store at {where} answered {ctype or 'no content type'}, "
                               "not SPARQL results")
    data = resp.content
    if b"nodeID://" in data:  # Virtuoso names blank nodes nodeID://b123, not a valid blank node label
        data = _VIRTUOSO_BNODE.sub(rb"\1", data)
    try:
        result = ox.parse_query_results(data, fmt)
        rows = None
        if isinstance(result, ox.QuerySolutions):
            # all of it, now, natively: written as TSV (one row a line, terms in N-Triples form) and read
            # back from there (counting rows in Python cost about 13 us a row, a second parse of the answer)
            tsv = result.serialize(format=ox.QueryResultsFormat.TSV)
            rows = tsv.count(b"\n") - 1
            result = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
        return (result, rows) if count else result
    except (SyntaxError, ValueError, OSError) as exc:
        raise StoreUnavailable(f"the SPARQL store at {where} answered something that is not valid "
                               f"SPARQL results: {str(exc)[:200]}") from None


def _triples_result(resp, where: str):
    ctype = _content_type(resp)
    fmt = {"application/n-triples": ox.RdfFormat.N_TRIPLES, "text/plain": ox.RdfFormat.N_TRIPLES,
           "text/turtle": ox.RdfFormat.TURTLE}.get(ctype)
    if fmt is None:
        raise StoreUnavailable(f"the SPARQL store at {where} answered {ctype or 'no content type'}, not RDF")
    store = ox.Store()
    try:
        store.bulk_load(resp.content, fmt, to_graph=ox.DefaultGraph())
    except (SyntaxError, ValueError, OSError) as exc:
        raise StoreUnavailable(f"the SPARQL store at {where} answered something that is not valid RDF: "
                               f"{str(exc)[:200]}") from None
    # A real pyoxigraph QueryTriples, like the embedded store's
    return store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")


def _datetime(text: str):
    import datetime as dt

    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _data_op(keyword: str, graph: str, triples: list[ox.Triple]) -> str:
    body = "\n".join(f"{nt(t.subject)} {nt(t.predicate)} {nt(t.object)} ." for t in triples)
    if keyword == "INSERT" and any(isinstance(n, ox.BlankNode) for t in triples for n in (t.subject, t.object)):
        # INSERT DATA may hold blank nodes (SPARQL 1.1) but Virtuoso 7 refuses them "in a constant clause";
        # a template with an empty WHERE inserts the same triples with fresh blank nodes everywhere.
        return f"INSERT {{ GRAPH <{graph}> {{ {body} }} }} WHERE {{ }}"
    return f"{keyword} DATA {{ GRAPH <{graph}> {{ {body} }} }}"


def _data_ops(keyword: str, graph: str, triples: list[ox.Triple]) -> list[str]:
    return [_data_op(keyword, graph, block) for block in _blocks(triples, BLOCK)]


def _blocks(triples: list[ox.Triple], size: int):
    """Blocks of at most about `size` triples; triples that share a blank node stay in one block (one
    operation: blank node labels are scoped to an operation), so the blank node stays one node. Blocks with
    blank nodes become INSERT templates, which Virtuoso compiles to SQL (at most 10,000 lines): they hold at
    most BNODE_BLOCK triples, unless one blank node structure is larger."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for t in triples:
        bnodes = [n.value for n in (t.subject, t.object) if isinstance(n, ox.BlankNode)]
        if len(bnodes) == 2:
            parent[find(bnodes[0])] = find(bnodes[1])
    groups: dict[str, list[ox.Triple]] = defaultdict(list)
    plain: list[ox.Triple] = []
    for t in triples:
        b = next((n.value for n in (t.subject, t.object) if isinstance(n, ox.BlankNode)), None)
        if b is None:
            plain.append(t)
        else:
            groups[find(b)].append(t)
    for start in range(0, len(plain), size):
        yield plain[start:start + size]
    block: list[ox.Triple] = []
    for group in groups.values():
        if block and len(block) + len(group) > min(size, BNODE_BLOCK):
            yield block
            block = []
        block.extend(group)
    if block:
        yield block
