"""Running SHACL validation with the trusted shapes: in-process, or in warm worker processes that a timeout
kills.

Three engines, chosen by `engine` (default ENGINE):
  - "sparql": kb.shacl_sparql, every constraint one set-based SPARQL query on an in-memory Oxigraph store
    (tens of times faster than pySHACL on large imports); when the shapes use a feature it does not
    implement, it refuses at loading time and pySHACL runs instead (`sparql_engine_refusal()` says why);
  - "pyshacl": pySHACL over an in-memory Oxigraph store (pySHACL's Oxigraph backend), the reference the
    differential tests compare with (tests/validate/test_shacl_sparql_differential.py);
  - "rdflib": pySHACL over an rdflib Graph, pySHACL's own reference backend.

A validation cannot be interrupted inside a thread, so with a validation timeout the check runs in a worker
process (a plain `python -c`, spawned once, shapes and ontology loaded), which is killed when the timeout
passes and started again on the next call. Two workers (one per core) let the chunks of a large import be
validated in parallel.

The speed-ups of pySHACL and rdflib (and the memoised shapes graph) live in kb.pyshacl_speedups; this module
is about which engine runs and where (worker processes, timeouts).
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Iterable

import pyoxigraph as ox
from rdflib import Graph, URIRef

from . import pyshacl_speedups, rdfio, validation

ENGINE = "sparql"  # "sparql" (kb.shacl_sparql), "pyshacl" (pySHACL over Oxigraph) or "rdflib" (pySHACL over rdflib)
ENGINES = ("sparql", "pyshacl", "rdflib")
_ALIASES = {"oxigraph": "pyshacl"}  # the former name of pySHACL over Oxigraph


class ValidationTimeout(RuntimeError):
    """Validation ran past its time limit and was stopped."""


def _is_node(term) -> bool:
    return isinstance(term, ox.NamedNode)


_ontology_nt: bytes | None = None


def _ontology_ntriples() -> bytes:
    global _ontology_nt
    if _ontology_nt is None:
        _ontology_nt = validation.ontology_graph().serialize(format="nt", encoding="utf-8")
    return _ontology_nt


_ontology_q: list | None = None


def _ontology_quads() -> list:
    global _ontology_q
    if _ontology_q is None:
        _ontology_q = list(ox.parse(_ontology_ntriples(), ox.RdfFormat.N_TRIPLES))
    return _ontology_q


_sparql_model_memo: list = []


def _sparql_model():
    """The trusted shapes compiled for kb.shacl_sparql, or None when the engine refuses them (once per process)."""
    if not _sparql_model_memo:
        from . import shacl_sparql

        try:
            _sparql_model_memo.append((shacl_sparql.load_shapes(validation.shapes_graph()), None))
        except shacl_sparql.Unsupported as exc:
            import logging

            logging.getLogger(__name__).warning("the SPARQL SHACL engine cannot run the trusted shapes (%s); "
                                                "validating with pySHACL", exc)
            _sparql_model_memo.append((None, str(exc)))
    return _sparql_model_memo[0][0]


def sparql_engine_refusal() -> str | None:
    """Why the "sparql" engine falls back to pySHACL for the trusted shapes (None: it runs them)."""
    _sparql_model()
    return _sparql_model_memo[0][1]


def engine_name(engine: str | None) -> str:
    name = _ALIASES.get(engine or ENGINE, engine or ENGINE)
    if name not in ENGINES:
        raise ValueError(f"unknown SHACL engine {engine!r}; known: {', '.join(ENGINES)}")
    return name


def _shapes_for(engine: str) -> Graph:
    """The memoised trusted shapes for the Oxigraph engine; the plain graph for the rdflib reference engine
    (so the tests comparing both engines also check the memo)."""
    return validation.shapes_graph() if engine == "rdflib" else pyshacl_speedups.trusted_shapes()


def _shacl(data_nt: bytes, focus: list[str] | None, engine: str | None = None) -> bytes:
    """Validate N-Triples data (+ ontology) against the trusted shapes; return the report as N-Triples.

    `focus` (IRIs): only these focus nodes, as pySHACL's `focus_nodes` (for each shape, its targets that are
    in the list); None or empty: every focus node. The data graph is an in-memory Oxigraph store (the "sparql"
    engine and pySHACL's Oxigraph backend), or an rdflib Graph for engine "rdflib"."""
    engine = engine_name(engine)
    if engine == "sparql":
        model = _sparql_model()
        if model is not None:
            from . import shacl_sparql

            store = ox.Store()
            # lenient: the N-Triples come from ox.serialize of terms that were checked when they were parsed
            store.bulk_extend(itertools.chain(ox.parse(data_nt, ox.RdfFormat.N_TRIPLES, lenient=True),
                                              _ontology_quads()))
            report = shacl_sparql.validate(store, model, focus or None)
            return report.serialize(format="nt", encoding="utf-8")
        engine = "pyshacl"
    return _pyshacl(data_nt, focus, engine)


def _pyshacl(data_nt: bytes, focus: list[str] | None, engine: str) -> bytes:
    import pyshacl

    pyshacl_speedups.install()
    kwargs = {}
    if focus:
        kwargs["focus_nodes"] = [URIRef(f) for f in focus]
    if engine == "rdflib":
        g = Graph()
        rdfio.triples_to_graph(ox.parse(data_nt, ox.RdfFormat.N_TRIPLES), g)
        g += validation.ontology_graph()
    else:
        g = ox.Store()
        # N-Triples parse into default-graph quads, labels kept; the ontology is parsed once per process
        g.bulk_extend(itertools.chain(ox.parse(data_nt, ox.RdfFormat.N_TRIPLES), _ontology_quads()))
        kwargs["inplace"] = True
    _, report_graph, _ = pyshacl.validate(
        g, shacl_graph=_shapes_for(engine), ont_graph=None, inference="none", advanced=True,
        allow_warnings=False, allow_infos=False, meta_shacl=False, js=False, do_owl_imports=False,
        **kwargs)
    return report_graph.serialize(format="nt", encoding="utf-8")


def _worker_main(read_fd: int, write_fd: int) -> None:  # pragma: no cover - runs in the worker process
    from multiprocessing.connection import Connection

    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    pyshacl_speedups.install()
    pyshacl_speedups.trusted_shapes()
    validation.ontology_graph()
    _sparql_model()
    while True:
        try:
            data_nt, focus, engine = inbox.recv()
        except (EOFError, OSError):
            return
        try:
            outbox.send(("ok", _shacl(data_nt, focus, engine)))
        except Exception as exc:  # report the failure to the parent, keep serving
            outbox.send(("error", f"{exc.__class__.__name__}: {exc}"))


class _Worker:
    """One warm validation process (a plain `python -c`, so no main-module re-import as with
    multiprocessing's spawn); killed on timeout and started again on the next call."""

    def __init__(self):
        self.lock = threading.Lock()
        self.proc = None
        self.inbox = self.outbox = None

    def _start(self):
        import os
        import subprocess
        import sys
        from multiprocessing.connection import Connection
        from pathlib import Path

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        code = f"from kb.shacl_runner import _worker_main; _worker_main({to_child_r}, {from_child_w})"
        self.proc = subprocess.Popen([sys.executable, "-c", code], pass_fds=(to_child_r, from_child_w),
                                     env=env, stdin=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self.outbox = Connection(to_child_w, readable=False)
        self.inbox = Connection(from_child_r, writable=False)

    def _kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
        for c in (self.inbox, self.outbox):
            if c is not None:
                c.close()
        self.proc = self.inbox = self.outbox = None

    def run(self, data_nt: bytes, focus: list[str] | None, timeout: float, engine: str | None = None) -> bytes:
        """Validate in the worker with `engine` (default: this process's ENGINE, so that the worker follows
        it)."""
        with self.lock:
            fresh = False
            if self.proc is None or self.proc.poll() is not None:
                self._kill()
                self._start()
                fresh = True
            job = (data_nt, focus, engine_name(engine))
            started = time.monotonic()
            try:
                status, payload = self._exchange(job, timeout)
            except _Died as died:
                # A worker that was already running may have been killed a moment ago and not be gone yet
                # (batchcheck kills the other workers when one chunk passes its time limit): poll() still saw
                # it alive. Once more on a fresh worker; a fresh one that dies is a real failure.
                self._kill()
                if fresh:
                    raise RuntimeError(f"the validation worker died: {died}") from None
                self._start()
                try:
                    status, payload = self._exchange(job, max(0.0, timeout - (time.monotonic() - started)))
                except _Died as again:
                    self._kill()
                    raise RuntimeError(f"the validation worker died: {again}") from None
            if status != "ok":
                raise RuntimeError(f"validation failed: {payload}")
            return payload

    def _exchange(self, job, timeout: float):
        """Send one job and take its answer; `_Died` when the worker is gone, ValidationTimeout past `timeout`."""
        try:
            self.outbox.send(job)
            if not self.inbox.poll(timeout):
                self._kill()
                raise ValidationTimeout(f"validation did not finish within {timeout:g} s; nothing was written")
            return self.inbox.recv()
        except (EOFError, OSError) as exc:
            raise _Died(str(exc) or exc.__class__.__name__) from None


class _Died(Exception):
    """The validation worker process ended before it answered."""


# one warm worker per core (at most two): the chunks of a large import are validated in parallel
_workers = [_Worker() for _ in range(max(1, min(2, __import__("os").cpu_count() or 1)))]
_worker = _workers[0]


_WARM_SAMPLE = (b'<https://w3id.org/thb-kb/id/agency/warm-up> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> '
                b'<https://w3id.org/thb-kb/def#Agency> .\n')


def prewarm(timeout: float = 120.0) -> threading.Thread:
    """Start the validation worker in the background and run one small validation in it, so that the first
    import does not pay for the process start and the preparation of the shapes' SPARQL queries."""
    def run():
        try:
            for w in _workers:
                w.run(_WARM_SAMPLE, None, timeout)
        except Exception:  # a failed warm-up only means the first import starts the worker itself
            pass

    thread = threading.Thread(target=run, name="kb-shacl-prewarm", daemon=True)
    thread.start()
    return thread


def shutdown_worker() -> None:
    for w in _workers:
        with w.lock:
            w._kill()


def run_shacl(data: Iterable[ox.Triple], focus: Iterable | None, *, timeout: float | None,
              engine: str | None = None, worker: "_Worker | None" = None) -> validation.Report:
    data_nt = ox.serialize(list(data), format=ox.RdfFormat.N_TRIPLES)
    focus_list = None if focus is None else sorted(f.value for f in focus if _is_node(f))
    if timeout and engine is None:
        report_nt = (worker or _worker).run(data_nt, focus_list, timeout)
    elif engine_name(engine) == "sparql" and _sparql_model() is not None:
        report_nt = _shacl(data_nt, focus_list, engine)  # its own store: no lock needed
    else:
        with validation._lock:  # pySHACL is not documented as thread-safe
            report_nt = _shacl(data_nt, focus_list, engine)
    report_graph = Graph()
    report_graph.parse(data=report_nt.decode("utf-8"), format="nt")
    results = validation._results(report_graph)
    if focus_list is not None:
        wanted = set(focus_list)
        results = [r for r in results if str(r.focus) in wanted]
    return validation.Report(conforms=not results, graph=report_graph, results=results)
