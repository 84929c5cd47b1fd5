"""Running one query: the safety check, evaluation, negotiation, serialisation with the row cap.

`execute(store, job, send)` is a function of the store and the request's parameters; it sends its answer
as messages (`streaming`: a whole `Outcome`, or a streamed head, chunks and END) and never raises for bad
input. It runs

* in a worker process of `pool.WorkerPool` for the embedded on-disk store: the worker can be killed when the
  query outlives its timeout, which is the only way to stop a pyoxigraph evaluation;
* in a thread of the serving process for an in-memory store (tests, demos) and for the remote store
  (`streaming.run_in_thread`). In memory there is no hard timeout (pyoxigraph cannot be interrupted and the
  data cannot be shared with another process; the row cap still bounds the answer); the remote store passes
  the timeout to the remote engine and to its HTTP client, and answers 503 when it expires.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from dataclasses import dataclass, field

import pyoxigraph as ox

from . import results as res
from .safety import QueryRefused, check
from .streaming import BUFFER_BYTES, Cancelled, ChunkWriter, Failed

log = logging.getLogger("thb-kb.sparql")


_POSITION = re.compile(r"error at (\d+):(\d+):")


@dataclass
class Job:
    query: str
    default_graphs: list[str] | None = None
    named_graphs: list[str] | None = None
    accept: str | None = None
    format: tuple[str, ...] | str | None = None  # the `format` parameter's values
    max_rows: int = 10_000
    timeout: float = 30.0
    union_default_graph: bool = True
    base_iri: str | None = None  # relative IRIs in the query resolve against it (the KB base)
    buffer_bytes: int = BUFFER_BYTES  # a bigger answer is streamed


@dataclass
class Outcome:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    kind: str | None = None
    format: tuple[str, ...] | str | None = None  # the `format` parameter's values
    truncated: bool = False
    streamed: bool = False  # True: the head of a streamed answer (its body follows in chunks)
    stream: object = None  # in the serving process: the `streaming.Stream` of a streamed answer
    version: str | None = None  # a remote store: the KB state the answer belongs to (None: not certain)

    @classmethod
    def error(cls, status: int, message: str, **headers: str) -> "Outcome":
        return cls(status, (message.rstrip() + "\n").encode("utf-8"), headers=dict(headers))


def parse_accept(value: str | None):
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    return parse_accept_header(value, MIMEAccept) if value else None


@functools.lru_cache(maxsize=512)
def answer_format(kind: str, accept: str | None, format_param: tuple[str, ...] | str | None) -> res.ResultFormat:
    """The format of a `kind` answer for the request's `Accept` header and `format` parameter values
    (`results.negotiate`). A client sends the same header with every request, and parsing and matching it
    was a twentieth of a light query's CPU in the serving process: the choice is kept per header (at most
    512 of them); a refusal (NotAcceptable) is not kept, and is raised again each time."""
    return res.negotiate(kind, parse_accept(accept), format_param)


def execute(store, job: Job, send) -> None:
    """Run the query and send its answer as messages (see `streaming`): one whole Outcome, or a streamed
    head, chunks and END. `send` may raise `streaming.Cancelled` (the reader is gone): then this returns."""
    started = time.perf_counter()
    state: dict = {}
    try:
        embedded = isinstance(getattr(store, "raw", None), ox.Store)
        analysis = check(job.query, store.has_graph, job.base_iri, strict=not embedded)
        _answer(store, job, analysis, send, started, state)
        body = state["writer"].finish()
    except Cancelled:
        return
    except Exception as exc:  # bad input or a failing store: a clear answer, never a traceback
        outcome = _error_outcome(exc, job)
        writer = state.get("writer")
        if writer is not None and writer.streaming:  # too late for a status: the stream is cut
            if writer.cancelled:
                return
            log.warning("a streamed SPARQL answer broke off: %s", exc)
            return send(Failed(outcome.body.decode("utf-8", "replace").strip()))
        return send(outcome)
    if body is not None:
        elapsed = (time.perf_counter() - started) * 1000
        head = state["writer"].head
        head.body = body
        head.streamed = False
        head.headers["Server-Timing"] = f"query;dur={elapsed:.1f}"
        send(head)


def _answer(store, job: Job, analysis, send, started: float, state: dict) -> None:
    """Evaluate, negotiate, apply the row cap and write. The pyoxigraph result objects live in this frame
    only (never in `execute`'s, which the safety check's parser may keep in a reference cycle that another
    thread collects: they must be dropped in the thread that made them). The writer goes into `state`."""
    result = prepared = None
    try:
        result, rows, kb_state = evaluate(store, job, has_dataset=bool(analysis.from_graphs or analysis.from_named))
        kind = res.kind_of(result)
        fmt = answer_format(kind, job.accept, job.format)
        prepared = res.prepare(result, fmt, job.max_rows, rows=rows)
        elapsed = (time.perf_counter() - started) * 1000
        head = Outcome(200, b"", fmt.content_type, {"Server-Timing": f"query;dur={elapsed:.1f}", **prepared.headers},
                       kind, fmt.name, prepared.truncated, streamed=True, version=kb_state)
        state["writer"] = writer = ChunkWriter(send, head, job.buffer_bytes, prepared.cut_flag())
        res.write(prepared, writer)
    finally:
        del result, prepared


def _error_outcome(exc: Exception, job: Job) -> Outcome:
    from kb.store import QueryTimeout, StoreError, StoreUnavailable

    if isinstance(exc, QueryRefused):
        return Outcome.error(exc.status, exc.message)
    if isinstance(exc, res.NotAcceptable):
        return Outcome.error(406, exc.message)
    if isinstance(exc, SyntaxError):
        return _syntax_error(job.query, str(exc))
    if isinstance(exc, RecursionError):
        return Outcome.error(400, "the query is nested too deeply")
    if isinstance(exc, QueryTimeout):
        return Outcome.error(503, f"the query ran longer than {job.timeout:g} s and was stopped",
                             **{"Retry-After": "1"})
    if isinstance(exc, StoreUnavailable):
        return Outcome.error(503, f"the store is unavailable: {exc}", **{"Retry-After": "5"})
    if isinstance(exc, (OSError, StoreError)):
        return Outcome.error(500, f"the query failed: {exc}")
    # the engine refused the query itself (an unsupported custom function and the like)
    return Outcome.error(400, f"the query cannot be evaluated: {exc}")


def evaluate(store, job: Job, *, has_dataset: bool = False):
    """Run the query: (result, number of rows if known, KB state of the answer if the store tells). The
    default graph is the union of all graphs unless the protocol's dataset parameters or the query's own
    FROM / FROM NAMED say otherwise (the protocol wins over the query)."""
    raw = getattr(store, "raw", None)
    if isinstance(raw, ox.Store):
        kwargs: dict = {}
        if job.default_graphs is not None:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in job.default_graphs]
        elif job.union_default_graph and not has_dataset:
            kwargs["use_default_graph_as_union"] = True
        if job.named_graphs is not None:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
        return raw.query(job.query, base_iri=job.base_iri, **kwargs), None, None
    answer = getattr(store, "query_answer", None)  # the remote store
    if answer is not None:
        return answer(job.query, default_graph=job.default_graphs, named_graphs=job.named_graphs,
                      timeout=job.timeout)
    return store.query(job.query, default_graph=job.default_graphs, named_graphs=job.named_graphs,
                       timeout=job.timeout), None, None


def _syntax_error(query: str, message: str) -> Outcome:
    if is_update(query):
        return Outcome.error(403, "SPARQL Update is not accepted here: this endpoint is read-only")
    m = _POSITION.match(message)
    if m:
        message = f" at line {m.group(1)}, column {m.group(2)}: {message[m.end():].strip()}"
    else:
        message = ": " + message
    return Outcome.error(400, "SPARQL syntax error" + message)


def is_update(text: str) -> bool:
    """True when the text is a SPARQL Update request (parsed by rdflib; only asked on the error path)."""
    try:
        from rdflib.plugins.sparql.parser import parseUpdate

        parseUpdate(text)
        return True
    except Exception:
        return False
