"""The remote store: any SPARQL 1.1 Query + Update endpoint (Virtuoso, Fuseki, GraphDB, Neptune).

`KB_STORE=sparql+http://host:port/sparql` selects it; `KB_SPARQL_UPDATE_URL`, `KB_SPARQL_USER`,
`KB_SPARQL_PASSWORD` (HTTP digest, or basic when the server asks for it) and `KB_REMOTE_TIMEOUT` configure it.

How the KB lives on a shared engine:
- Every graph the KB writes is recorded in a hidden registry graph `{base}store/graphs`. Queries without a
  dataset of their own get the registered graphs as `default-graph-uri` and `named-graph-uri` (SPARQL 1.1
  Protocol), so the default graph is the union of the KB's graphs, exactly as on the embedded store, and an
  engine's own graphs (Virtuoso's system graphs `virtrdf#`, `ldp#`, ...; other applications' data) never
  appear in results. This costs one small extra request per query; it is what keeps several app servers in
  agreement without any cache of their own.
- Writes are one SPARQL Update request: DROP, DELETE DATA, INSERT DATA, the registry and the version triple
  together. A bulk write (more than `CHUNK` triples) is first written in chunks into staging slots
  `{base}store/staging/0..7` (fixed names, never part of the KB's dataset), and then moved into place by ONE
  request (`DROP target ; ADD slot TO target ; DROP slot ; version`). A writer claims a slot with a lease
  (hidden graph `{base}store/staging-leases`, by the store's own clock) and renews it with every chunk; an
  interrupted bulk write leaves only a slot behind, which the next write empties once its lease ran out
  (no chunk for 2 x KB_REMOTE_TIMEOUT + 2 s), so a concurrent writer's staging is never touched.
  Virtuoso runs one update request as one transaction (a crash mid-request loses all of it), but when an
  operation fails it does NOT roll back the operations before it: so the committing request holds only
  operations that cannot fail at run time. See docs/deploy.md for what other engines guarantee.

Requests are built by SPARQLWrapper (query form detection, protocol parameters, Accept headers) and sent over
a pooled `requests` session (keep-alive; SPARQLWrapper alone opens a new connection for every request and
installs a process-wide urllib opener for digest authentication). Results are parsed by pyoxigraph, so
callers get the same QuerySolutions / QueryBoolean / QueryTriples objects as from the embedded store.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
import uuid
import weakref
from collections import defaultdict
from typing import Any, Callable, Iterable, Iterator, Mapping

import pyoxigraph as ox
import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth
from SPARQLWrapper import JSON, POST, POSTDIRECTLY, SPARQLWrapper, N3

from ..namespaces import Iris
from .base import MODIFIED, VERSION, QueryTimeout, Store, StoreError, StoreUnavailable, nt

BLOCK = 2_000           # triples per INSERT/DELETE DATA operation (Virtuoso's parser stops near 5,000)
BNODE_BLOCK = 200       # triples per INSERT template with blank nodes (Virtuoso: 10,000 lines of SQL)
SLOTS = 8               # staging graphs: bulk writes that may stage at the same time on one store
VIRTUOSO_SYSTEM_GRAPHS = {"http://www.openlinksw.com/schemas/virtrdf#", "http://www.w3.org/ns/ldp#",
                          "http://localuriqaserver/sparql", "http://www.w3.org/2002/07/owl#"}
GRACE = 2.0             # seconds we wait past a query's time limit for the store's own answer
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


def has_dataset_clause(sparql: str) -> bool:
    """True when the query names its own dataset (FROM / FROM NAMED) outside strings, IRIs and comments."""
    return bool(_DATASET_CLAUSE.search(_STRIP.sub(" ", sparql)))


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


class RemoteStore(Store):
    generic = False  # True: never use an engine's own dialect (the tests run the SPARQL 1.1 path on Virtuoso)

    def __init__(self, iris: Iris, url: str, settings: Mapping[str, Any]):
        super().__init__(iris)
        if not url.startswith(("http://", "https://")):
            raise StoreError(f"not an HTTP(S) SPARQL endpoint: {url!r} (use KB_STORE=sparql+http://host:port/path)")
        self.url = url
        self.update_url = settings.get("sparql_update_url") or url
        self.timeout = float(settings.get("remote_timeout") or 30.0)
        self.registry = f"{iris.base}store/graphs"
        self.staging_base = f"{iris.base}store/staging/"
        self.leases = f"{iris.base}store/staging-leases"
        self._empty = f"{iris.base}store/empty"  # a graph that never holds anything
        self._session = _new_session()
        # gunicorn forks its workers after the app (and this store) was made: a child must not share the
        # parent's pooled connections, so each process gets its own session.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (lambda s: s and setattr(s, "_session", _new_session()))(ref()))
        user, password = settings.get("sparql_user"), settings.get("sparql_password")
        self._credentials = (user, password or "") if user else None
        self._auth = HTTPDigestAuth(*self._credentials) if self._credentials else None
        self._write_lock = threading.Lock()
        self._virtuoso = False  # set when the engine says it is Virtuoso (Server header)
        self._pragmas: str | None = None
        self.slots = [f"{self.staging_base}{i}" for i in range(SLOTS)]
        self._writer_id = uuid.uuid4().hex

    # -- HTTP ------------------------------------------------------------------------------------
    def _wrapper(self, text: str, *, update: bool) -> SPARQLWrapper:
        sw = SPARQLWrapper(self.url, updateEndpoint=self.update_url, agent="thb-kb")
        sw.setMethod(POST)
        sw.setOnlyConneg(True)  # no Virtuoso-only `format`/`output` parameters; Accept decides
        if update:
            sw.setRequestMethod(POSTDIRECTLY)
        sw.setQuery(text)
        if update:
            sw.queryType = "INSERT"  # always the update URL, whatever the first keyword
        return sw

    def _send(self, sw: SPARQLWrapper, accept: str | None, timeout: float | None,
              params: list[tuple[str, str]] = ()) -> requests.Response:
        """Send the request SPARQLWrapper built, through the pooled session, with a hard deadline."""
        req = sw._createRequest()  # a urllib Request: URL, body, headers (SPARQLWrapper 2.x)
        headers = dict(req.header_items())
        if accept:
            headers["Accept"] = accept
        url = req.full_url
        body = req.data
        if params:
            extra = requests.models.RequestEncodingMixin._encode_params(list(params))
            if headers.get("Content-type", "").startswith("application/x-www-form-urlencoded"):
                body = (body.decode("ascii") + "&" + extra).encode("ascii")
            else:
                url += ("&" if "?" in url else "?") + extra
        # The store is told the query's own time limit (Virtuoso: `timeout`); we wait a little longer for
        # its answer, so that a query stopped by the store is told apart from a store that does not answer.
        limit = self.timeout if timeout is None else min(self.timeout, timeout + GRACE)
        deadline = time.monotonic() + limit
        where = req.full_url.split("?")[0]
        try:
            resp = self._session.post(url, data=body, headers=headers, auth=self._auth,
                                      timeout=(min(limit, 5.0), limit), stream=True)
            if resp.status_code == 401 and self._credentials and "basic" in resp.headers.get(
                    "WWW-Authenticate", "").lower() and not isinstance(self._auth, HTTPBasicAuth):
                resp.close()
                self._auth = HTTPBasicAuth(*self._credentials)
                resp = self._session.post(url, data=body, headers=headers, auth=self._auth,
                                          timeout=(min(limit, 5.0), limit), stream=True)
            chunks = []
            for chunk in resp.iter_content(65536):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    resp.close()
                    raise self._too_slow(where, limit, timeout)
            resp._content = b"".join(chunks)
        except requests.exceptions.Timeout:
            raise self._too_slow(where, limit, timeout) from None
        except requests.exceptions.ConnectionError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "connection failed or was cut"
            raise StoreUnavailable(f"the SPARQL store at {where} is not reachable ({reason})") from None
        except requests.exceptions.RequestException as exc:
            raise StoreUnavailable(f"the SPARQL store at {where} failed: {type(exc).__name__}") from None
        if not self._virtuoso and not self.generic and resp.headers.get("Server", "").startswith("Virtuoso"):
            self._virtuoso = True
        if resp.status_code >= 400:
            self._raise_for(resp, where)
        cut = resp.headers.get("X-SPARQL-MaxRows")
        if cut and cut.strip().isdigit():  # Virtuoso says so when it cut a SELECT result: never silent
            raise ResultCut(int(cut), where)
        state = resp.headers.get("X-SQL-State", "")
        if state == "S1TAT":  # Virtuoso's "anytime" answer: a partial result after its time limit
            raise QueryTimeout(f"the query ran past its time limit ({timeout or limit:g} s) and the store stopped it")
        return resp

    @staticmethod
    def _too_slow(where: str, limit: float, timeout: float | None) -> StoreError:
        if timeout is not None and limit >= timeout:
            return QueryTimeout(f"the query ran past its time limit ({timeout:g} s) on the store at {where}")
        return StoreUnavailable(f"the SPARQL store at {where} did not answer within {limit:g} s")

    @staticmethod
    def _raise_for(resp: requests.Response, where: str) -> None:
        text = resp.content[:600].decode("utf-8", "replace").strip()
        if resp.status_code == 400:
            raise SyntaxError(f"the store rejected the query: {text}")
        if resp.status_code in (401, 403):
            raise StoreError(f"the SPARQL store at {where} refused the credentials (HTTP {resp.status_code}); "
                             "check KB_SPARQL_USER / KB_SPARQL_PASSWORD and the user's SPARQL_UPDATE grant")
        if resp.status_code in (502, 503, 504):
            raise StoreUnavailable(f"the SPARQL store at {where} is unavailable (HTTP {resp.status_code})")
        if "S1T00" in text or "timed out" in text.lower() or "S1TAT" in text:
            raise QueryTimeout(f"the query ran past its time limit on the store: {text[:200]}")
        raise StoreError(f"the SPARQL store at {where} answered HTTP {resp.status_code}: {text}")

    def _select(self, sparql: str, dataset: tuple[list[str], list[str]] | None, timeout: float | None = None):
        sw = self._wrapper(sparql, update=False)
        sw.setReturnFormat(JSON)
        params = _dataset_params(dataset)
        resp = self._send(sw, "application/sparql-results+json", timeout, params)
        return _parse_results(resp, self.url)

    # -- reads -----------------------------------------------------------------------------------
    def _kb_graphs(self) -> list[str]:
        q = f"SELECT ?g WHERE {{ ?g <{RDF_TYPE}> <{NAMED_GRAPH}> }}"
        return [r["g"].value for r in self._select(q, ([self.registry], []))]

    def _virtuoso_union_pragmas(self) -> str:
        """Virtuoso: the union of the KB's graphs as "all graphs except the others". Virtuoso plans queries
        over an explicit list of graphs (default-graph-uri, FROM) badly (100x slower on joins with filters);
        excluding the few other graphs keeps its normal plans and costs no extra request. The others are
        fixed names: the registry, the leases, the staging slots, Virtuoso's system graphs, and the graphs
        that hold typed resources and are not the KB's when this process first asks (other applications'
        data; a store dedicated to the KB has none)."""
        if self._pragmas is None:
            typed = {r["g"].value for r in self._select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s a ?t } }", None)}
            others = ((typed | VIRTUOSO_SYSTEM_GRAPHS) - set(self._kb_graphs())) | {
                *self.slots, self.registry, self.leases}
            self._pragmas = "".join(f"DEFINE input:default-graph-exclude <{g}> DEFINE input:named-graph-exclude "
                                    f"<{g}> " for g in sorted(others))
        return self._pragmas

    def query(self, sparql, *, default_graph=None, named_graphs=None, timeout=None):
        form = _query_form_or_refuse(sparql)
        text = sparql
        if default_graph is None and named_graphs is None and not has_dataset_clause(sparql):
            if self._virtuoso:
                text = self._virtuoso_union_pragmas() + sparql
            else:
                default_graph = named_graphs = self._kb_graphs() or [self._empty]
        elif default_graph is None or named_graphs is None:
            if has_dataset_clause(sparql):
                default_graph = named_graphs = None  # the query's own FROM wins, as on Oxigraph
            else:
                kb = self._kb_graphs() or [self._empty]
                default_graph = kb if default_graph is None else default_graph
                named_graphs = kb if named_graphs is None else named_graphs
        dataset = None if default_graph is None else (list(default_graph) or [self._empty],
                                                      list(named_graphs) or [self._empty])
        sw = self._wrapper(text, update=False)
        sw.queryType = form  # a query, sent to the query URL, whatever SPARQLWrapper's guess
        params = _dataset_params(dataset)
        if timeout:
            params.append(("timeout", str(int(float(timeout) * 1000))))  # Virtuoso; others ignore it
        if form in ("CONSTRUCT", "DESCRIBE"):
            sw.setReturnFormat(N3)
            resp = self._send(sw, "application/n-triples, text/plain;q=0.5", timeout, params)
            return _triples_result(resp, self.url)
        sw.setReturnFormat(JSON)
        resp = self._send(sw, "application/sparql-results+json, application/sparql-results+xml;q=0.5",
                          timeout, params)
        return _parse_results(resp, self.url)

    def graphs(self) -> list[str]:
        q = (f"SELECT ?g WHERE {{ GRAPH <{self.registry}> {{ ?g <{RDF_TYPE}> <{NAMED_GRAPH}> }} "
             f"FILTER EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} }} }} ORDER BY ?g")
        return [r["g"].value for r in self._select(q, None)]

    def count(self, graph: str | None = None) -> int:
        # the KB's graphs by name: Virtuoso counts a list of graphs fast (excluding others means a scan)
        graphs = [graph] if graph is not None else (self._kb_graphs() or [self._empty])
        rows = self._select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }", ([self._empty], graphs))
        return next((int(r["n"].value) for r in rows), 0)

    def has_graph(self, graph: str) -> bool:
        q = f"ASK {{ GRAPH <{self.registry}> {{ <{graph}> <{RDF_TYPE}> <{NAMED_GRAPH}> }} GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        sw = self._wrapper(q, update=False)
        return bool(_parse_results(self._send(sw, "application/sparql-results+json", None), self.url))

    def _paged(self, select: str, dataset) -> Iterator:
        """All rows of a SELECT, in pages when the store caps results (Virtuoso's ResultSetMaxRows cuts
        CONSTRUCT results silently, so whole graphs are read with SELECT, whose cut the store signals)."""
        try:
            yield from self._select(select, dataset)
            return
        except ResultCut as cut:
            page = max(1, cut.limit - 1)
        before = self.version()
        offset = 0
        while True:
            rows = list(self._select(f"{select} LIMIT {page} OFFSET {offset}", dataset))
            yield from rows
            if len(rows) < page:
                break
            offset += page
        if self.version() != before:
            raise StoreError("the KB changed while it was being read page by page; read it again")

    def triples(self, graph: str) -> Iterator[ox.Triple]:
        q = f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        for row in self._paged(q, ([self._empty], [graph])):
            yield ox.Triple(row["s"], row["p"], row["o"])

    def quads(self) -> Iterator[ox.Quad]:
        graphs = self._kb_graphs() or [self._empty]
        for row in self._paged("SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }", ([self._empty], graphs)):
            yield ox.Quad(row["s"], row["p"], row["o"], row["g"])

    def dump(self, out, fmt: ox.RdfFormat, graph: str | None = None) -> None:
        if graph is None and fmt not in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            ox.serialize(dict.fromkeys(q.triple for q in self.quads()), out, fmt)  # the union: each triple once
        else:
            super().dump(out, fmt, graph)

    def _version_and_modified(self):
        import datetime as dt

        meta = self.iris.meta_graph
        q = (f"SELECT ?v ?m WHERE {{ <{self.iris.dataset}> <{VERSION.value}> ?v ; <{MODIFIED.value}> ?m }} LIMIT 1")
        for row in self._select(q, ([meta], [])):
            return row["v"].value, _datetime(row["m"].value)
        return "empty", dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

    # -- writes ----------------------------------------------------------------------------------
    def _update(self, text: str, timeout: float | None = None) -> None:
        sw = self._wrapper(text, update=True)
        self._send(sw, "*/*", timeout)

    def staging_graphs(self) -> list[str]:
        """The staging slots that hold triples now (a bulk write going on, or the leftovers of one)."""
        values = " ".join(f"<{g}>" for g in self.slots)
        q = f"SELECT ?g WHERE {{ VALUES ?g {{ {values} }} FILTER EXISTS {{ GRAPH ?g {{ ?s ?p ?o }} }} }}"
        return sorted(r["g"].value for r in self._select(q, None))

    def _leases(self):
        """{slot: (last renewal, writer id)} and the store's clock."""
        rows = list(self._select(f"SELECT ?g ?t ?w (NOW() AS ?now) WHERE {{ OPTIONAL {{ GRAPH <{self.leases}> "
                                 f"{{ ?g <{MODIFIED.value}> ?t OPTIONAL {{ ?g <{CREATOR}> ?w }} }} }} }}", None))
        now = _datetime(rows[0]["now"].value) if rows and rows[0]["now"] is not None else None
        held = {r["g"].value: (_datetime(r["t"].value), r["w"].value if r["w"] is not None else "")
                for r in rows if r["g"] is not None and r["t"] is not None}
        return held, now

    def _renew_text(self, slot: str) -> str:
        """Renew the lease of a staging slot, by the store's own clock (no clock skew between writers)."""
        return (f"DELETE WHERE {{ GRAPH <{self.leases}> {{ <{slot}> <{MODIFIED.value}> ?t }} }} ;\n"
                f"INSERT {{ GRAPH <{self.leases}> {{ <{slot}> <{MODIFIED.value}> ?now }} }} "
                f"WHERE {{ BIND(NOW() AS ?now) }}")

    def _free_text(self, slot: str) -> list[str]:
        return [f"DROP SILENT GRAPH <{slot}>", f"DELETE WHERE {{ GRAPH <{self.leases}> {{ <{slot}> ?p ?o }} }}"]

    def clean_staging(self, older_than: float | None = None) -> list[str]:
        """Empty the staging slots left by interrupted bulk writes: those whose writer has not written a
        chunk for `older_than` seconds (default: twice the remote timeout plus 2 s, the longest a live
        writer can be silent). A writer that is still going renews its lease with every chunk."""
        lease = 2 * self.timeout + 2 if older_than is None else older_than
        held, now = self._leases()
        stale = [g for g, (seen, _) in held.items() if now is None or (now - seen).total_seconds() >= lease]
        stale += [g for g in self.staging_graphs() if g not in held]
        stale = sorted(set(stale))
        if stale:
            self._update(" ;\n".join(op for g in stale for op in self._free_text(g)))
        return stale

    def _claim(self, n: int) -> list[str]:
        """Claim `n` free staging slots (a lease with this writer's id), or fail with a clear message."""
        held, _ = self._leases()
        free = [g for g in self.slots if g not in held]
        random.shuffle(free)
        if len(free) < n:
            raise StoreError(f"write refused, nothing was changed: {SLOTS - len(free)} bulk write(s) are being "
                             f"staged on this store now and {n} staging slot(s) are needed; try again later")
        mine = free[:n]
        ops = []
        for g in mine:
            ops += self._free_text(g)
            ops.append(f"INSERT {{ GRAPH <{self.leases}> {{ <{g}> <{MODIFIED.value}> ?now ; <{CREATOR}> "
                       f"\"{self._writer_id}\" }} }} WHERE {{ BIND(NOW() AS ?now) }}")
        self._update(" ;\n".join(ops))
        held, _ = self._leases()
        if any(held.get(g, (None, ""))[1] != self._writer_id for g in mine):
            lost = [g for g in mine if held.get(g, (None, ""))[1] == self._writer_id]
            self._drop_quietly(lost)
            raise StoreError("write refused, nothing was changed: another writer claimed the same staging "
                             "slot at the same moment; try again")
        return mine

    def apply(self, *, drop: Iterable[str] = (), insert: Iterable[ox.Quad] = (), delete: Iterable[ox.Quad] = (),
              progress: Callable[[str], None] | None = None) -> str:
        drop, insert, delete = list(drop), list(insert), list(delete)
        for g in drop:
            try:
                ox.NamedNode(g)
            except ValueError:
                raise StoreError(f"write refused, nothing was changed: not a graph IRI: {g!r}") from None
        for q in (*insert, *delete):
            if isinstance(q.graph_name, ox.DefaultGraph):
                raise StoreError("the KB stores triples in named graphs only; this quad has no graph: " + str(q))
        version_text, new_version = self._version_update()
        by_graph: dict[str, list[ox.Triple]] = defaultdict(list)
        for q in insert:
            by_graph[q.graph_name.value].append(q.triple)
        with self._write_lock:
            self.clean_staging()
            staged: dict[str, str] = {}
            direct = dict(by_graph)
            if len(insert) > CHUNK:
                biggest = sorted(by_graph, key=lambda g: -len(by_graph[g]))
                big, rest = biggest[:SLOTS], biggest[SLOTS:]
                if sum(len(by_graph[g]) for g in rest) > CHUNK:
                    raise StoreError(f"write refused, nothing was changed: a bulk write into more than {SLOTS} "
                                     "large graphs at once; write them in several imports")
                staged = self._stage({g: by_graph[g] for g in big}, progress)
                direct = {g: by_graph[g] for g in rest}
            # The one request that makes the write visible. Only operations that cannot fail at run time
            # (SILENT graph operations, DATA blocks of terms pyoxigraph checked): Virtuoso runs the request as
            # one transaction (a crash mid-request loses all of it) but does not roll back earlier
            # operations when a later one fails.
            parts = [f"DROP SILENT GRAPH <{g}>" for g in drop]
            if drop:
                parts.append(f"DELETE DATA {{ GRAPH <{self.registry}> {{ "
                             + " ".join(f"<{g}> <{RDF_TYPE}> <{NAMED_GRAPH}> ." for g in drop) + " } }")
            del_by_graph: dict[str, list[ox.Triple]] = defaultdict(list)
            for q in delete:
                del_by_graph[q.graph_name.value].append(q.triple)
            for g, triples in del_by_graph.items():
                parts += _data_ops("DELETE", g, triples)
            for target, stage in staged.items():
                parts.append(f"ADD SILENT <{stage}> TO <{target}>")
                parts += self._free_text(stage)
            for g, triples in direct.items():
                parts += _data_ops("INSERT", g, triples)
            written = sorted({*by_graph, self.iris.meta_graph})
            parts.append(f"INSERT DATA {{ GRAPH <{self.registry}> {{ "
                         + " ".join(f"<{g}> <{RDF_TYPE}> <{NAMED_GRAPH}> ." for g in written) + " } }")
            parts.append(version_text)
            try:
                self._update(" ;\n".join(parts), timeout=max(self.timeout, 600.0) if staged else None)
            except SyntaxError as exc:  # rejected before it ran: nothing changed
                self._drop_quietly(staged.values())
                raise StoreError(f"write failed, nothing was changed: {exc}") from None
            except StoreError:
                self._drop_quietly(staged.values())
                raise
        if progress and staged:
            progress(f"committed {len(insert)} triples into {len(staged)} graph(s)")
        return new_version

    def _stage(self, by_graph: dict[str, list[ox.Triple]], progress) -> dict[str, str]:
        """Write the triples of each target graph into a staging slot of its own, CHUNK triples per request."""
        targets = sorted(by_graph)
        staged = dict(zip(targets, self._claim(len(targets))))
        total = sum(map(len, by_graph.values()))
        done = 0
        try:
            for target, stage in staged.items():
                ops: list[str] = []
                n = 0
                for block in _blocks(by_graph[target], BLOCK):
                    ops.append(_data_op("INSERT", stage, block))
                    n += len(block)
                    if n >= CHUNK:
                        self._update(" ;\n".join([*ops, self._renew_text(stage)]))
                        done, ops, n = done + n, [], 0
                        if progress:
                            progress(f"staged {done}/{total} triples")
                if ops:
                    self._update(" ;\n".join([*ops, self._renew_text(stage)]))
                    done += n
                    if progress:
                        progress(f"staged {done}/{total} triples")
        except SyntaxError as exc:
            self._drop_quietly(staged.values())
            raise StoreError(f"write failed, nothing was changed: {exc}") from None
        except StoreError:
            self._drop_quietly(staged.values())
            raise
        return staged

    def _drop_quietly(self, graphs: Iterable[str]) -> None:
        graphs = list(graphs)
        if not graphs:
            return
        try:
            self._update(" ;\n".join(op for g in graphs for op in self._free_text(g)))
        except StoreError:
            pass  # the store is gone: the next write removes the leftovers (clean_staging)

    def register_graphs(self, graphs: Iterable[str]) -> str:
        """Make graphs loaded into the engine by other means (e.g. Virtuoso's bulk loader) part of the KB;
        bumps the version. Other app servers on Virtuoso see them after a restart (their list of excluded
        graphs is made once)."""
        graphs = sorted(set(graphs))
        for g in graphs:
            ox.NamedNode(g)  # ValueError for a bad IRI
        version_text, new_version = self._version_update()
        triples = " ".join(f"<{g}> <{RDF_TYPE}> <{NAMED_GRAPH}> ." for g in [*graphs, self.iris.meta_graph])
        with self._write_lock:
            self._update(f"INSERT DATA {{ GRAPH <{self.registry}> {{ {triples} }} }} ;\n{version_text}")
        self._pragmas = None
        return new_version

    def reset(self) -> None:
        """Drop everything this KB holds on the store: its graphs, the registry, leftover staging graphs.
        (Other graphs on the same engine are left alone.)"""
        graphs = [*self._kb_graphs(), *self.slots, self.iris.meta_graph, self.registry, self.leases]
        with self._write_lock:
            self._update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in graphs))

    def close(self) -> None:
        self._session.close()

    def describe(self) -> str:
        return f"SPARQL store at {self.url}"


# -- helpers ----------------------------------------------------------------------------------------
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


def _content_type(resp: requests.Response) -> str:
    return resp.headers.get("Content-Type", "").split(";")[0].strip().lower()


def _parse_results(resp: requests.Response, where: str):
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
        if isinstance(result, ox.QuerySolutions):
            # parse all of it now, so that a broken answer fails here and not half-way through a response
            for _ in ox.parse_query_results(data, fmt):
                pass
        return result
    except (SyntaxError, ValueError, OSError) as exc:
        raise StoreUnavailable(f"the SPARQL store at {where} answered something that is not valid "
                               f"SPARQL results: {str(exc)[:200]}") from None


def _triples_result(resp: requests.Response, where: str):
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
