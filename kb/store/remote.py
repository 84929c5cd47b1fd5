"""The remote store: any SPARQL 1.1 Query + Update endpoint (Virtuoso, Fuseki, GraphDB, Neptune).

`KB_STORE=sparql+http://host:port/sparql` selects it; `KB_SPARQL_UPDATE_URL`, `KB_SPARQL_USER`,
`KB_SPARQL_PASSWORD` (HTTP digest, or basic when the server asks for it) and `KB_REMOTE_TIMEOUT` configure it.

How the KB lives on a shared engine:
- Every graph the KB writes is recorded in a hidden registry graph `{base}store/graphs`. Queries without a
  dataset of their own get the registered graphs as `default-graph-uri` and `named-graph-uri` (SPARQL 1.1
  Protocol), so the default graph is the union of the KB's graphs, exactly as on the embedded store, and an
  engine's own graphs (Virtuoso's system graphs `virtrdf#`, `ldp#`, ...; other applications' data) never
  appear in results. The registered graphs are read with the KB version in one small request (`snapshot`)
  that goes beside a query, at the same time (`_run`): the query is sent with the graphs read last and
  sent again if the registry changed, so several app servers agree without any state of their own that
  could go stale, and no round trip waits before a query. Within `KB_REMOTE_STATE_TTL` of a read, queries
  go alone with its graphs, and every write waits that long before it returns (`_recent`, `_committed`).
  (On Virtuoso the union can instead be "all graphs but the others", by its graph-exclusion pragmas:
  `virtuoso_exclusions`, off, because they make its plans slow at scale.)
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

Requests are described by SPARQLWrapper (protocol parameters, Accept headers) and sent by `remote_send`:
queries over a pool of keep-alive `http.client` connections (`remote_http`), writes and anything that needs
authentication or a proxy over a pooled `requests` session (SPARQLWrapper alone opens a new connection for
every request and installs a process-wide urllib opener for digest authentication). Results are parsed by
pyoxigraph, so callers get the same QuerySolutions / QueryBoolean / QueryTriples objects as from the
embedded store.

Modules: this one (connection, reads), `remote_state` (the KB's state and its reads), `remote_send` (requests
and answers on the wire), `remote_http` (the connection pool), `remote_writes` (writes, staging),
`remote_protocol` (texts, answers).
"""

import os
import threading
import urllib.parse
import uuid
import weakref
from typing import Any, Iterator, Mapping, NamedTuple

import pyoxigraph as ox
from requests.auth import HTTPDigestAuth
from SPARQLWrapper import JSON, N3, XML

from ..namespaces import Iris
from ..settings import BY_NAME
from . import remote_http
from .base import Store, StoreError
from .remote_protocol import (  # noqa: F401 - CHUNK, SLOTS, ResultCut: part of this module's API
    CHUNK, NAMED_GRAPH, RDF_TYPE, SLOTS, VIRTUOSO_SYSTEM_GRAPHS, ResultCut, _dataset_params, _new_session,
    _parse_results, _query_form_or_refuse, _triples_result, encoded_dataset, explain_rejection,
    has_dataset_clause, names_a_graph, quote_plus)
from ..history import history_graph
from .query_reads import reads as query_reads
from .remote_send import Pending, RemoteSending
from .remote_state import RemoteState, Snapshot  # noqa: F401 - Snapshot: part of this module's API
from .remote_writes import RemoteWrites


class Answer(NamedTuple):
    """A query's result for the SPARQL endpoint, with what the endpoint needs to know about it."""

    result: Any  # QuerySolutions, QueryBoolean or QueryTriples
    rows: int | None  # the number of solutions of a SELECT (counted when the answer was checked)
    state: str | None  # the KB state (Snapshot.state) the answer belongs to; None when not certain (never cached)


# a query text with every kind of character a query's encoding must handle (`_query_template`)
_PROBE = 'SELECT * WHERE { ?s <http://x.org/a/b?c=d&e=f#g> "é ü/~+%&=;\t\n" . FILTER(?s != <urn:x>) } # ü'


class RemoteStore(RemoteState, RemoteSending, RemoteWrites, Store):
    generic = False  # True: never use an engine's own dialect (the tests run the SPARQL 1.1 path on Virtuoso)
    # Virtuoso's graph-exclusion pragmas for the union (no registry request per query) are off: with the 14
    # graphs a KB's store holds besides its own, Virtuoso 7.2.5 plans joins 10 to 40 times slower at 1M
    # triples (docs/deploy.md); the KB's graphs as the protocol's dataset parameters keep its plans.
    virtuoso_exclusions = False

    def __init__(self, iris: Iris, url: str, settings: Mapping[str, Any]):
        super().__init__(iris)
        if not url.startswith(("http://", "https://")):
            raise StoreError(f"not an HTTP(S) SPARQL endpoint: {url!r} (use KB_STORE=sparql+http://host:port/path)")
        self.url = url
        self.update_url = settings.get("sparql_update_url") or url
        self.timeout = float(settings.get("remote_timeout") or 30.0)
        ttl = settings.get("remote_state_ttl")
        self.state_ttl = max(0.0, float(BY_NAME["remote_state_ttl"].default if ttl is None else ttl))
        self.registry = f"{iris.base}store/graphs"
        self.staging_base = f"{iris.base}store/staging/"
        self.leases = f"{iris.base}store/staging-leases"
        self.history_graph = history_graph(iris.base)  # kb.history: never registered, never in the union
        self._empty = f"{iris.base}store/empty"  # a graph that never holds anything
        self._session = _new_session()
        parts = urllib.parse.urlsplit(url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._pool = remote_http.Pool(url) if remote_http.Pool.usable_for(url) else None
        # gunicorn forks its workers after the app (and this store) was made: a child must not share the
        # parent's pooled connections, so each process gets its own.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (lambda s: s and s._new_connections())(ref()))
        user, password = settings.get("sparql_user"), settings.get("sparql_password")
        self._credentials = (user, password or "") if user else None
        self._auth = HTTPDigestAuth(*self._credentials) if self._credentials else None
        self._write_lock = threading.Lock()
        self._virtuoso = False  # set when the engine says it is Virtuoso (Server header)
        self._pragmas: str | None = None
        self.slots = [f"{self.staging_base}{i}" for i in range(SLOTS)]
        self._writer_id = uuid.uuid4().hex
        self._seen: Snapshot | None = None  # the KB's state as last read: a guess, checked by every query
        # the newest state read and when it was sent (time.monotonic()): answers use it for `state_ttl`
        self._seen_read: tuple[Snapshot, float] | None = None
        self._seen_lock = threading.Lock()
        self._last_state_answer: tuple[bytes, Snapshot] | None = None  # the last state read's bytes, parsed
        self._snapshot_request: tuple[str, bytes, dict[str, str]] | None = None
        self._query_templates: dict[str, tuple[str, dict[str, str]] | None] = {}  # by query form
        # the metadata graph's predicates and classes, as of a KB state (a query that cannot match them is
        # sent without that graph: `_run`)
        self._meta_vocabulary: tuple[str, frozenset[str], frozenset[str]] | None = None

    def _select(self, sparql: str, dataset: tuple[list[str], list[str]] | None, timeout: float | None = None):
        sw = self._wrapper(sparql, update=False)
        sw.setReturnFormat(JSON)
        params = _dataset_params(dataset)
        resp = self._send(sw, "application/sparql-results+json", timeout, params)
        return _parse_results(resp, self.url)

    # -- reads -----------------------------------------------------------------------------------
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
                *self.slots, self.registry, self.leases, self.history_graph}
            self._pragmas = "".join(f"DEFINE input:default-graph-exclude <{g}> DEFINE input:named-graph-exclude "
                                    f"<{g}> " for g in sorted(others))
        return self._pragmas

    def query(self, sparql, *, default_graph=None, named_graphs=None, timeout=None):
        return self._run(sparql, default_graph, named_graphs, timeout, want_version=False).result

    def query_answer(self, sparql, *, default_graph=None, named_graphs=None, timeout=None) -> Answer:
        """`query` for the SPARQL endpoint: also the number of rows, and the KB state (version and graphs) the
        answer belongs to (for its cache of answers; None when that is not certain)."""
        return self._run(sparql, default_graph, named_graphs, timeout, want_version=True)

    def _run(self, sparql, default_graph, named_graphs, timeout, *, want_version: bool) -> Answer:
        """Run a query. Without a dataset of its own its default graph is the union of the KB's graphs (and
        its named graphs are the KB's graphs), which are read from the registry with the version
        (`snapshot`). Once this process has read them, a query does not wait for that read: it is sent with
        the graphs last read and the read goes at the same time (two requests in flight); when the registry
        has changed since, the query is sent again with the new graphs. So every answer is checked against the
        store's state of that moment (an import through another app server is seen at once), without a
        round trip before the query. The state is vouched for only when the read confirms the one the
        query was sent with: a query sent before a write that answers after it is never cached as the new
        state's answer."""
        form = _query_form_or_refuse(sparql)
        text, uses_kb = sparql, False
        if default_graph is None and named_graphs is None and not has_dataset_clause(sparql):
            if self._virtuoso and self.virtuoso_exclusions and not names_a_graph(sparql):
                text = self._virtuoso_union_pragmas() + sparql
            else:
                uses_kb = True
        elif default_graph is None or named_graphs is None:
            if has_dataset_clause(sparql):
                default_graph = named_graphs = None  # the query's own FROM wins, as on Oxigraph
            else:
                uses_kb = True
        checks = uses_kb or want_version
        guess, read_first = self._seen, False
        recent = self._recent() if checks else None
        if recent is not None:
            guess, read_first = recent, True  # read less than state_ttl ago: no read with this query
        # the KB's whole union, or without the metadata graph when no pattern of the query can match it
        reads = query_reads(sparql) if uses_kb and default_graph is None and named_graphs is None else None
        slim = reads is not None
        if checks and (guess is None or self._pool is None):
            guess, read_first = self.snapshot(), True  # the first query of this process: the state first
        if slim and guess is not None and (self._meta_vocabulary or ("",))[0] != guess.state:
            guess, read_first = self._snapshot_and_meta_vocabulary(), True  # once per KB state
        slim = slim and guess is not None and self._without_meta(reads, guess)

        def start(graphs: list[str], slim: bool = False) -> Pending:
            dataset = None
            if slim:  # the query has no GRAPH pattern (query_reads): its named graphs are never read
                kept = [g for g in graphs if g != self.iris.meta_graph]
                dataset = (kept, kept)
            elif uses_kb:
                dataset = (default_graph if default_graph is not None else graphs,
                           named_graphs if named_graphs is not None else graphs)
            elif default_graph is not None:
                dataset = (default_graph, named_graphs)
            return self._start_query(text, form, dataset, timeout)

        pending = start(guess.graphs if guess is not None else [], slim)
        state = guess.state if checks else None
        if checks and not read_first:
            try:
                now = self._state_of(self._start_snapshot())
            except BaseException:
                pending.abandon()
                raise
            if uses_kb and (now.graphs != guess.graphs or (slim and now.state != guess.state)):
                # sent with graphs that are no longer the KB's, or without a metadata graph that a write
                # may have given triples the query matches: again, with the new graphs, all of them
                pending.abandon()
                pending, state = start(now.graphs), now.state
            elif now.state != guess.state:
                state = None  # the query may have run before or after the write: answer, do not vouch
        try:
            resp = self._finish(pending)
        except SyntaxError as exc:
            raise explain_rejection(sparql, str(exc)) from None
        if form in ("CONSTRUCT", "DESCRIBE"):
            return Answer(_triples_result(resp, self.url), None, state if want_version else None)
        result, rows = _parse_results(resp, self.url, count=True)
        return Answer(result, rows, state if want_version else None)

    def _start_query(self, text: str, form: str, dataset, timeout) -> Pending:
        if dataset is not None:
            dataset = (tuple(dataset[0]) or (self._empty,), tuple(dataset[1] or ()) or (self._empty,))
        limit = [("timeout", str(int(float(timeout) * 1000)))] if timeout else []  # Virtuoso; others ignore it
        extra = "&".join(filter(None, [encoded_dataset(dataset), *(f"{k}={v}" for k, v in limit)]))
        template = self._query_templates.get(form, False)
        if template is False:
            template = self._query_templates[form] = self._query_template(form)
        if template is not None:
            url, headers = template
            body = "query=" + quote_plus(text, b"/") + ("&" + extra if extra else "")
            return self._start_request(url, body.encode("ascii"), headers, update=False, timeout=timeout)
        sw = self._query_wrapper(text, form)  # SPARQLWrapper describes this request itself
        return self._start_request(*self._request(sw, self._query_accept(form), _dataset_params(dataset) + limit),
                                   update=False, timeout=timeout)

    def _query_wrapper(self, text: str, form: str):
        sw = self._wrapper(text, update=False, form=form)  # a query, sent to the query URL
        sw.setReturnFormat(N3 if form in ("CONSTRUCT", "DESCRIBE") else XML)
        return sw

    @staticmethod
    def _query_accept(form: str) -> str:
        # XML first: Virtuoso 7.2 writes it faster than JSON (6% over the bench mix, 25% on its largest
        # answer, measured) and pyoxigraph reads it faster; the client gets the format it asked for anyway
        if form in ("CONSTRUCT", "DESCRIBE"):
            return "application/n-triples, text/plain;q=0.5"
        return "application/sparql-results+xml, application/sparql-results+json;q=0.9"

    def _query_template(self, form: str) -> tuple[str, dict[str, str]] | None:
        """The URL and headers SPARQLWrapper gives a query of this form, when its body is `query=` and the
        query's text form-encoded (checked on a probe text): then a query's request is that plus its text,
        without describing each one anew (a twentieth of the serving process's time per query, measured).
        None: SPARQLWrapper describes every query."""
        url, body, headers = self._request(self._query_wrapper(_PROBE, form), self._query_accept(form))
        if body != ("query=" + quote_plus(_PROBE, b"/")).encode("ascii") or not headers.get(
                "Content-type", "").startswith("application/x-www-form-urlencoded"):
            return None
        return url, headers

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
        sw = self._wrapper(q, update=False, form="ASK")
        return bool(_parse_results(self._send(sw, "application/sparql-results+json", None), self.url))

    def _paged(self, select: str, dataset) -> Iterator:
        """All rows of a SELECT, in pages when the store caps results (Virtuoso's ResultSetMaxRows cuts
        CONSTRUCT results silently, so whole graphs are read with SELECT, whose cut the store signals)."""
        try:
            yield from self._select(select, dataset)
            return
        except ResultCut as cut:
            page = max(1, cut.limit - 1)
        before = self.snapshot(fresh=True).version
        offset = 0
        while True:
            rows = list(self._select(f"{select} LIMIT {page} OFFSET {offset}", dataset))
            yield from rows
            if len(rows) < page:
                break
            offset += page
        if self.snapshot(fresh=True).version != before:
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

    def history_records(self, nodes) -> list[ox.Triple]:
        nodes = list(dict.fromkeys(nodes))
        out: list[ox.Triple] = []
        for i in range(0, len(nodes), 200):
            values = " ".join(f"<{n}>" for n in nodes[i:i + 200])
            q = (f"SELECT ?s ?p ?o WHERE {{ {{ VALUES ?s {{ {values} }} ?s ?p ?o }} UNION "
                 f"{{ VALUES ?o {{ {values} }} ?s ?p ?o FILTER (!isIRI(?s) || ?s != ?o) }} }}")
            for row in self._paged(q, ([self.history_graph], [])):
                out.append(ox.Triple(row["s"], row["p"], row["o"]))
        return out

    def _version_and_modified(self):
        snap = self.snapshot()
        return snap.version, snap.modified

    # -- writes ----------------------------------------------------------------------------------
    def _update(self, text: str, timeout: float | None = None) -> None:
        sw = self._wrapper(text, update=True)
        self._send(sw, "*/*", timeout)

    def _new_connections(self) -> None:
        self._session = _new_session()
        if self._pool is not None:
            self._pool = remote_http.Pool(self.url)

    def close(self) -> None:
        self._session.close()
        if self._pool is not None:
            self._pool.close()

    def describe(self) -> str:
        return f"SPARQL store at {self.url}"


