"""The safety check every query passes before it is evaluated.

A query may never make the server open a connection or a file: the check refuses, with 400 and before any
evaluation,

* `SERVICE` (federated query; pyoxigraph would really call the remote endpoint), including `SERVICE SILENT`
  and `SERVICE ?var`;
* `FROM` / `FROM NAMED` naming a graph the store does not hold (the engine never fetches them, but a
  client naming a graph that is not here gets a clear error instead of a silently empty answer);
* queries nested deeper than MAX_DEPTH brackets (the engine's recursive-descent parser would exhaust the
  thread stack and crash the process on a few thousand levels).

Detection runs on the query parsed by rdflib's SPARQL parser (`parseQuery`), never on the text. The parser
is pure Python and costs milliseconds on a mid-size query, so one shortcut keeps the common case fast: a
keyword can only be present if its letters are in the query's code, outside strings, IRIs and comments
(`kb.store.remote_protocol.code_text`, which follows SPARQL's tokens: an IRI such as
`.../border-immigration-service` or a comment saying "from" is no reason to parse). So a query whose code
(lower-cased) contains neither `service` nor `from` cannot use SERVICE or FROM and goes to the engine (which
parses it anyway) without the rdflib parse. A query with \\u escapes or a stray quote is always parsed.

A remote store (`strict`) needs more: Virtuoso runs any function IRI as one of its own procedures
(`bif:http_get(<url>)` fetches the URL: a request to anywhere, from the store's machine), and takes engine
pragmas (`DEFINE input:grab-all`). So for a remote store the check also refuses calls to functions outside
XSD (the casts), after the parse. The parse is skipped only when the code cannot hold any of these: no
`service`, `from` or `define`, and no `(` after an IRI or after a name with a colon (where a function IRI
would stand; `(` after an IRI also opens an RDF collection, which is then parsed and let through). The remote
store itself refuses anything but BASE/PREFIX before the query form. SPARQL Update is refused at the protocol level
(403), so LOAD never reaches an engine; update text sent as a query fails the query grammar.

The parse's verdict (the Analysis, or the refusal) depends on the query text and the base IRI only, so it is
kept in a bounded LRU (PARSE_CACHE entries, keyed by a SHA-256 of both: the exact text, a few bytes per
entry whatever the query's length); the FROM graphs are still looked up in the store on every request.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace

from rdflib.plugins.sparql.parserutils import CompValue
from pyparsing import ParseResults

from kb.store.remote_protocol import code_text

from .results import ASK, GRAPH, SELECT

MAX_DEPTH = 100
MAX_QUERY_CHARS = 1_000_000
PARSE_CACHE = 1024  # verdicts of the rdflib parse kept (LRU)

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
# where an IRI or a prefixed name may call a function: `>` or `prefix:name`, then `(` (comments may come between)
_MAYBE_CALL = re.compile(r"(?:>|:[^\s(){}\[\]<>\"',;]*)(?:\s|#[^\n]*(?:\n|$))*\(")
XSD = "http://www.w3.org/2001/XMLSchema#"
_KINDS = {"SelectQuery": SELECT, "AskQuery": ASK, "ConstructQuery": GRAPH, "DescribeQuery": GRAPH}


class QueryRefused(Exception):
    """The query is not allowed here (status 400 unless told otherwise)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


class QuerySyntaxError(QueryRefused):
    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        where = f" (line {line}, column {column})" if line is not None and f"{line}:" not in message else ""
        super().__init__(f"SPARQL syntax error{where}: {message}", 400)
        self.line, self.column = line, column


@dataclass
class Analysis:
    """What the check learnt: the kind of query when it was parsed, and the graphs its FROM clauses name."""

    parsed: bool
    kind: str | None = None
    from_graphs: list[str] = field(default_factory=list)
    from_named: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)  # IRIs of the extension functions called


def unescape(text: str) -> str:
    """SPARQL decodes \\uXXXX and \\UXXXXXXXX anywhere in the query before parsing."""
    if "\\u" not in text and "\\U" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def nesting_depth(text: str) -> int:
    """Deepest nesting of (), {} and [] outside strings and comments (IRIs may hold parentheses; counting
    them only ever over-estimates, which is the safe side)."""
    if text.count("{") + text.count("(") + text.count("[") <= MAX_DEPTH:
        return 0  # cannot be deeper than the number of opening brackets
    depth = best = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "{([":
            depth += 1
            best = max(best, depth)
        elif c in "})]":
            depth -= 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "'\"":
            quote = text[i:i + 3] if text[i:i + 3] in ("'''", '"""') else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                j += 2 if text[j] == "\\" else 1
            i = j + len(quote) - 1
        i += 1
    return best


def check(query: str, has_graph, base_iri: str | None = None, *, strict: bool = False) -> Analysis:
    """Refuse what is not allowed (QueryRefused / QuerySyntaxError); `has_graph(iri)` tells whether the
    store holds a graph. `strict` (a remote store): always parse, so that only standard SPARQL 1.1 reaches
    the remote engine (Virtuoso's `DEFINE input:grab-...` pragmas would make it fetch IRIs)."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryRefused(f"the query is longer than {MAX_QUERY_CHARS} characters", 413)
    text = unescape(query)
    if nesting_depth(text) > MAX_DEPTH:
        raise QueryRefused(f"the query nests brackets deeper than {MAX_DEPTH} levels; flatten it")
    code = code_text(query)  # None: where the strings end cannot be told for sure; parse
    if code is not None:
        lowered = code.lower()
        if "service" not in lowered and "from" not in lowered and (not strict or (
                "define" not in lowered and not _MAYBE_CALL.search(code))):
            return Analysis(parsed=False)
    analysis = cached_parse(query, base_iri)
    if strict:
        for iri in analysis.functions:
            if not iri.startswith(XSD):
                raise QueryRefused(f"the function <{iri}> is not allowed here: this endpoint's store runs "
                                   "function IRIs as its own procedures (some reach the network); only the "
                                   "SPARQL built-ins and the XSD casts are allowed")
    for graph in analysis.from_graphs + analysis.from_named:
        if not has_graph(graph):
            clause = "FROM NAMED" if graph in analysis.from_named else "FROM"
            raise QueryRefused(f"{clause} <{graph}>: this store holds no such graph, and this endpoint never "
                               "fetches graphs from elsewhere (list the graphs with "
                               "SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } })")
    return analysis


_verdicts: OrderedDict[bytes, Analysis | QueryRefused] = OrderedDict()
_verdicts_lock = threading.Lock()


def cached_parse(query: str, base_iri: str | None = None) -> Analysis:
    """`parse`, with its verdict remembered for the same query text and base IRI (bounded LRU)."""
    key = hashlib.sha256(f"{base_iri or ''}\x00{query}".encode("utf-8", "surrogatepass")).digest()
    with _verdicts_lock:
        verdict = _verdicts.get(key)
        if verdict is not None:
            _verdicts.move_to_end(key)
    if verdict is None:
        try:
            verdict = parse(query, base_iri)
        except QueryRefused as exc:
            verdict = exc
        with _verdicts_lock:
            _verdicts[key] = verdict
            while len(_verdicts) > PARSE_CACHE:
                _verdicts.popitem(last=False)
    if isinstance(verdict, QueryRefused):
        raise _copy_refusal(verdict)
    return replace(verdict, from_graphs=list(verdict.from_graphs), from_named=list(verdict.from_named))


def _copy_refusal(exc: QueryRefused) -> QueryRefused:
    """A fresh exception with the same message (raising the cached one would chain tracebacks)."""
    fresh = QueryRefused.__new__(type(exc))
    fresh.__dict__.update(exc.__dict__)
    fresh.args = exc.args
    return fresh


def parse(query: str, base_iri: str | None = None) -> Analysis:
    from pyparsing import ParseException
    from rdflib.plugins.sparql.algebra import translatePrologue
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        tree = parseQuery(query)
    except ParseException as exc:
        raise QuerySyntaxError(str(exc.msg) + f", found {_found(exc)}", exc.lineno, exc.col) from None
    except RecursionError:
        # rdflib's grammar recurses without end on some valid input too (nested SERVICE, rdflib#2136)
        raise QueryRefused("the query could not be checked (it nests too deeply for the safety parser); "
                           "flatten it") from None
    except Exception as exc:  # the parser raises other errors on some invalid input (bad escapes...)
        raise QuerySyntaxError(str(exc)) from None
    prologue_tree, body = tree[0], tree[1]
    service = _find(body, "ServiceGraphPattern")
    if service is not None:
        target = service["term"] if "term" in service else None
        name = target.n3() if hasattr(target, "n3") else str(target)
        raise QueryRefused(f"SERVICE is not allowed: this endpoint never sends requests elsewhere "
                           f"(SERVICE {name})")
    analysis = Analysis(parsed=True, kind=_KINDS.get(body.name))
    clauses = body["datasetClause"] if "datasetClause" in body else None
    calls = [f["iri"] for f in _find_all(body, "Function")]
    if calls:
        try:
            prologue = translatePrologue(prologue_tree, base_iri)
            analysis.functions = [str(prologue.absolutize(iri)) for iri in calls]
        except Exception as exc:  # unknown prefix and the like
            raise QuerySyntaxError(str(exc)) from None
    if clauses:
        try:
            prologue = translatePrologue(prologue_tree, base_iri)
            for clause in clauses:
                if "default" in clause:
                    analysis.from_graphs.append(str(prologue.absolutize(clause["default"])))
                elif "named" in clause:
                    analysis.from_named.append(str(prologue.absolutize(clause["named"])))
        except Exception as exc:  # unknown prefix and the like
            raise QuerySyntaxError(str(exc)) from None
    return analysis


def _found(exc) -> str:
    line = exc.line or ""
    col = max(exc.col - 1, 0)
    snippet = line[col:col + 20]
    return repr(snippet) if snippet else "the end of the query"


def _find_all(node, name: str):
    """Every CompValue called `name` in the parse tree (depth first)."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, CompValue):
            if node.name == name:
                yield node
            stack.extend(node.values())
        elif isinstance(node, (ParseResults, list, tuple)):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())


def _find(node, name: str, depth: int = 0):
    """The first CompValue called `name` anywhere in the parse tree."""
    if isinstance(node, CompValue):
        if node.name == name:
            return node
        children = node.values()
    elif isinstance(node, (ParseResults, list, tuple)):
        children = node
    elif isinstance(node, dict):
        children = node.values()
    else:
        return None
    for child in children:
        found = _find(child, name, depth + 1)
        if found is not None:
            return found
    return None
