"""`/sparql`: the SPARQL 1.1 Protocol, read-only.

* Queries: `GET ?query=`, `POST` form-encoded (`query=`), `POST application/sparql-query`; the dataset by
  `default-graph-uri` / `named-graph-uri` (they override FROM / FROM NAMED and name graphs of this store);
  the answer format by `format=` or the `Accept` header (q-values honoured); `timeout=` (seconds) to ask for
  less than the server's limit.
* Without a query: the service description (RDF) or, when HTML is preferred, the YASGUI query page.
* SPARQL Update (`update=`, `application/sparql-update`, or update text as a query) is refused with 403.
* Errors are plain text with the reason: 400 (syntax, with line and column; refused SERVICE/FROM), 403, 405,
  406, 413, 415, 429 (with Retry-After), 503 (timeout, with Retry-After).
* CORS for reads, without credentials.
"""

from __future__ import annotations

import atexit
import threading
from collections import deque
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request
from flask_cors import CORS
from werkzeug.exceptions import RequestEntityTooLarge

from . import description
from .cache import ResponseCache
from .execution import Job, Outcome, answer_format, execute
from .ratelimit import RateLimiter
from .running import Running, Ticket
from .results import JSON_MEMBER, LIMIT_HEADER, TRUNCATED_HEADER, NotAcceptable
from .streaming import BUFFER_BYTES, Failed, Stream, run_in_thread

bp = Blueprint("sparql", __name__)
CORS(bp, origins="*", send_wildcard=True, supports_credentials=False, methods=["GET", "HEAD", "POST", "OPTIONS"],
     allow_headers=["Accept", "Content-Type"], max_age=86400,
     expose_headers=[TRUNCATED_HEADER, LIMIT_HEADER, "Retry-After", "Server-Timing", "Content-Type"])

EXAMPLES_DIR = Path(__file__).parent / "examples"
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
UPDATE = "application/sparql-update"
ALLOW = "GET, HEAD, POST, OPTIONS"
READ_ONLY = "SPARQL Update is not accepted here: this endpoint is read-only (imports go through the import API)"


class Endpoint:
    """The endpoint's shared state: settings, store, cache, rate limiter and (for an on-disk store) the pool
    of killable query workers, started on the first query."""

    def __init__(self, kb):
        self.kb = kb
        self.settings = kb.settings
        self.store = kb.store
        self.cache = ResponseCache(max_bytes=self.settings["cache_mb"] * 1024 * 1024 // 3)
        self.limiter = RateLimiter(self.settings["rate_limit"])
        self._pool = None
        self._pool_lock = threading.Lock()
        self.buffer_bytes = BUFFER_BYTES  # answers up to this size are sent whole (and cached); bigger ones stream
        self.running = Running()  # the queries being evaluated now (the admin API: server.sparql.queries)

    @property
    def uses_workers(self) -> bool:
        raw = getattr(self.store, "raw", None)
        return isinstance(raw, ox.Store) and getattr(self.store, "path", None) is not None

    @property
    def pool(self):
        if self._pool is None and self.uses_workers:
            with self._pool_lock:
                if self._pool is None:
                    import os

                    from .pool import WorkerPool

                    size = self.settings.get("sparql_workers") or os.cpu_count() or 2
                    self._pool = WorkerPool(self.store, size, self.kb.iris.base,
                                            self.settings.get("query_memory") or 0,
                                            self.settings.get("query_replica") or 0)
                    atexit.register(self._pool.close)
        return self._pool

    @property
    def remote(self) -> bool:
        """A remote store (`RemoteStore.query_answer`): its answers say which KB state they belong to."""
        return hasattr(self.store, "query_answer")

    @property
    def cancellable(self) -> bool:
        """Whether a running query can be stopped (a worker process to kill, or a connection to cut)."""
        return self.uses_workers or self.remote

    def run(self, job: Job, ticket: Ticket) -> Outcome:
        """The answer's first message: a whole Outcome, or the head of a streamed one (with its `stream`).
        `ticket` (server.sparql.running) lets an administrator stop the query meanwhile."""
        pool = self.pool
        if pool is not None:
            return pool.run(job, ticket)
        ticket.state = "running"
        if self.remote:
            from kb.store.remote_http import cancellable

            with cancellable(ticket.on_cancel):
                outcome = run_here(self.store, job)
            if ticket.cancelled and outcome.status != 200:
                return Outcome.error(503, ticket.message())
            return outcome
        return run_in_thread(self.store, job)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def run_here(store, job: Job) -> Outcome:
    """Run the query in the request's own thread (a remote store): the store's whole answer is in memory
    once it arrives (read with a deadline), so there is nothing to stream from and no reason for a producer
    thread (which cost about 0.6 ms a query in the hand-over, measured); the result objects are made, read
    and dropped in this thread. A serialised answer larger than `job.buffer_bytes` still leaves in chunks,
    from memory (at most about twice the store's answer, itself bounded by the row cap)."""
    messages: deque = deque()
    execute(store, job, messages.append)
    first = messages.popleft()
    if isinstance(first, Failed):
        return Outcome.error(500, first.message)
    if first.streamed:
        broken = next((m for m in messages if isinstance(m, Failed)), None)
        if broken is not None:  # nothing has left yet: an answer, not a cut transfer
            return Outcome.error(500, broken.message)
        first.stream = Stream(messages.popleft, lambda finished: messages.clear())
    return first


@bp.record_once
def _setup(state) -> None:
    state.app.extensions["sparql"] = Endpoint(state.app.extensions["kb"])


def endpoint() -> Endpoint:
    return current_app.extensions["sparql"]


def text(status: int, message: str, **headers: str) -> Response:
    return Response(message.rstrip() + "\n", status, headers=headers, content_type="text/plain; charset=utf-8")


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@bp.route("/sparql", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], strict_slashes=False)
def sparql():
    ep = endpoint()
    if request.method not in ("GET", "HEAD", "POST"):
        return text(405, f"{request.method} is not allowed on /sparql (use GET or POST)", Allow=ALLOW)
    client = request.remote_addr or "unknown"
    wait = ep.limiter.take(client)
    if wait:
        return text(429, f"too many requests from {client}: at most {ep.limiter.per_minute} a minute; "
                         f"retry in {wait} s", **{"Retry-After": str(wait)})
    try:
        job = read_job(ep)
    except BadRequest as exc:
        if 400 <= exc.status < 500 and exc.status != 403:
            ep.limiter.charge_error(client)
        return text(exc.status, exc.message, Allow=ALLOW) if exc.status == 405 else text(exc.status, exc.message)
    except RequestEntityTooLarge:
        ep.limiter.charge_error(client)
        return text(413, f"the request is larger than {ep.settings['max_body']} bytes")
    if job is None:
        return service_page(ep)
    response = answer(ep, job, client)
    if 400 <= response.status_code < 500:
        ep.limiter.charge_error(client)
    return response


def read_job(ep: Endpoint) -> Job | None:
    """The query and its parameters from any of the three protocol forms; None when there is no query."""
    args = request.args
    params = args
    if request.method == "POST":
        mimetype = request.mimetype
        charset = (request.mimetype_params.get("charset") or "utf-8").lower()
        if mimetype == UPDATE or (mimetype == FORM and "update" in request.form) or "update" in args:
            raise BadRequest(403, READ_ONLY)
        if not mimetype:
            raise BadRequest(400, "missing Content-Type: send the query as application/x-www-form-urlencoded "
                                  "(query=...) or as application/sparql-query")
        if charset not in ("utf-8", "utf8"):
            raise BadRequest(415, f"charset={charset} is not accepted: send the query in UTF-8")
        if mimetype == FORM:
            params = request.form
            queries = params.getlist("query")
        elif mimetype == DIRECT:
            if "query" in args:
                raise BadRequest(400, "a query both in the body and in the URL: send one")
            try:
                queries = [request.get_data(cache=False).decode("utf-8")]
            except UnicodeDecodeError as exc:
                raise BadRequest(400, f"the query is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
        else:
            raise BadRequest(415, f"Content-Type {mimetype} is not accepted: use application/x-www-form-urlencoded "
                                  "or application/sparql-query")
    else:
        if "update" in args:
            raise BadRequest(403, READ_ONLY)
        queries = args.getlist("query")
    if len(queries) > 1:
        raise BadRequest(400, f"{len(queries)} query parameters: send exactly one query")
    if not queries:
        return None
    query = queries[0]
    if not query.strip():
        raise BadRequest(400, "the query is empty")
    default_graphs = _graphs(params, args, "default-graph-uri")
    named_graphs = _graphs(params, args, "named-graph-uri")
    settings = ep.settings
    timeout = float(settings["query_timeout"])
    asked = _one(params, args, "timeout")
    if asked is not None:
        try:
            value = float(asked)
        except ValueError:
            raise BadRequest(400, f"timeout={asked!r} is not a number of seconds") from None
        if not value > 0:
            raise BadRequest(400, "timeout must be a positive number of seconds")
        timeout = min(timeout, value)
    return Job(query=query, default_graphs=default_graphs, named_graphs=named_graphs,
               accept=request.headers.get("Accept"), format=_formats(params, args),
               max_rows=int(settings["max_rows"]), timeout=timeout,
               union_default_graph=getattr(ep.store, "union_default_graph", True), base_iri=ep.kb.iris.base,
               buffer_bytes=ep.buffer_bytes)


def _one(params, args, name: str) -> str | None:
    value = params.get(name)
    if value is None and params is not args:
        value = args.get(name)
    return value or None


def _formats(params, args) -> tuple[str, ...] | None:
    values = [v for v in params.getlist("format") + (args.getlist("format") if params is not args else []) if v]
    return tuple(values) or None


def _graphs(params, args, name: str) -> list[str] | None:
    values = params.getlist(name) + (args.getlist(name) if params is not args else [])
    if not values:
        return None
    for value in values:
        try:
            ox.NamedNode(value)
        except ValueError:
            raise BadRequest(400, f"{name}={value!r} is not an absolute IRI") from None
    return values


def answer(ep: Endpoint, job: Job, client: str = "unknown") -> Response:
    """The answer to a query: from the cache of answers when it holds one for the KB's current version,
    else run. The embedded store's version is read first (a local read). A remote store's is not: the
    query itself is checked against the KB's state in the same round trip and says which version its answer
    belongs to (`RemoteStore.query_answer`: the version with the KB's graphs); a cached answer is served only
    after one read confirms that the state it was cached under is still the store's."""
    cache = ep.cache
    remote = ep.remote
    try:
        version = ep.store.seen_state if remote else ep.store.version()
    except Exception as exc:
        return text(503, f"the store is unavailable: {exc}", **{"Retry-After": "5"})
    kind = cache.kinds.get(job.query)
    outcome = None
    if kind is not None:
        try:
            fmt = answer_format(kind, job.accept, job.format)
        except NotAcceptable as exc:
            return text(406, exc.message)
        if version is not None:
            outcome = cache.responses.get(cache.key(job.query, job, fmt.name, version))
        if outcome is not None and remote:
            try:
                if ep.store.snapshot().state != version:
                    outcome = None  # written since: the cached answer is of an older KB
            except Exception as exc:
                return text(503, f"the store is unavailable: {exc}", **{"Retry-After": "5"})
    if outcome is None:
        outcome = _run_listed(ep, job, client)
        if outcome.status == 200 and outcome.kind is not None:
            cache.kinds.put(job.query, outcome.kind)
            version = outcome.version if remote else version
            if outcome.stream is None and version is not None:  # a streamed answer is bigger than the cache takes
                cache.store(cache.key(job.query, job, outcome.format, version), outcome)
    if outcome.stream is not None:
        # a large answer: chunked while the producer writes it (never compressed: the gzip hook skips it)
        response = Response(outcome.stream, outcome.status, content_type=outcome.content_type,
                            direct_passthrough=True)
    else:
        response = Response(outcome.body, outcome.status, content_type=outcome.content_type)
    response.headers.update(outcome.headers)
    if outcome.status == 200:
        response.headers["Vary"] = "Accept"
    return response


def _run_listed(ep: Endpoint, job: Job, client: str) -> Outcome:
    """`ep.run`, listed among the running queries until the answer has left (a streamed one: until the WSGI
    server closes its body)."""
    ticket = ep.running.start(job.query, client, job.timeout, ep.cancellable)
    try:
        outcome = ep.run(job, ticket)
    except BaseException:
        ep.running.finish(ticket)
        raise
    if outcome.stream is None:
        ep.running.finish(ticket)
    else:
        ticket.state = "streaming"
        outcome.stream.on_close(lambda: ep.running.finish(ticket))
    return outcome


# -- without a query: the service description or the query page ----------------------------------------
_PAGE_OFFERS = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml",
                "application/trig", "application/n-quads", "text/html", "application/xhtml+xml"]
_PAGE_NAMES = dict(zip(_PAGE_OFFERS, ["turtle", "ntriples", "jsonld", "rdfxml", "trig", "nquads", "html", "html"]))


def service_page(ep: Endpoint) -> Response:
    fmt_param = request.args.get("format")
    if fmt_param:
        from kb import rdfio

        if fmt_param.lower() == "html":
            name = "html"
        else:
            try:
                name = rdfio.format_for(fmt_param).name
            except ValueError as exc:
                return text(406, str(exc))
    elif not request.accept_mimetypes:
        name = "turtle"
    else:
        best = request.accept_mimetypes.best_match(_PAGE_OFFERS)
        if best is None:
            return text(406, "GET /sparql without a query answers the service description in "
                             + ", ".join(_PAGE_OFFERS[:6]) + ", or the query page in text/html; "
                             "to run a query, send query=...")
        name = _PAGE_NAMES[best]
    if name == "html":
        response = Response(render_template("sparql.html", examples=load_examples(),
                                            endpoint=request.base_url.rstrip("/"),
                                            settings=ep.settings))
    else:
        response = Response(service_description(ep, name), content_type=_content_type(name))
    response.headers["Vary"] = "Accept"
    return response


def _content_type(name: str) -> str:
    from kb import rdfio

    return rdfio.BY_NAME[name].media_type + "; charset=utf-8"


def service_description(ep: Endpoint, fmt_name: str) -> bytes:
    version = ep.store.version()
    endpoint_url = request.base_url.rstrip("/")
    key = ("service-description", endpoint_url, fmt_name, version)
    cached = ep.cache.responses.get(key)
    if cached is not None:
        return cached.body
    try:
        triples = ep.store.count()
    except Exception:
        triples = None
    graph = description.description_graph(
        endpoint=endpoint_url, root=request.url_root, base=ep.kb.iris.base, dataset=ep.kb.iris.dataset,
        settings=ep.settings, graphs=ep.store.graphs(), triples=triples)
    body = description.serialise(graph, fmt_name)
    ep.cache.responses.put(key, Outcome(200, body))
    return body


_EXAMPLES: list[dict] | None = None


def load_examples() -> list[dict]:
    """The example queries (`examples/*.rq`): the first comment line is the tab's title."""
    global _EXAMPLES
    if _EXAMPLES is None:
        examples = []
        for path in sorted(EXAMPLES_DIR.glob("*.rq")):
            body = path.read_text(encoding="utf-8")
            first = body.splitlines()[0] if body else ""
            title = first.lstrip("#").strip() if first.startswith("#") else path.stem
            examples.append({"name": title, "query": body, "file": path.name})
        _EXAMPLES = examples
    return _EXAMPLES


__all__ = ["bp", "Endpoint", "JSON_MEMBER"]
