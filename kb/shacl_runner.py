"""Running pySHACL with the trusted shapes: in-process, or in warm worker processes that a timeout kills.

pySHACL cannot be interrupted inside a thread, so with a validation timeout the check runs in a worker
process (a plain `python -c`, spawned once, shapes and ontology loaded), which is killed when the timeout
passes and started again on the next call. Two workers (one per core) let the chunks of a large import be
validated in parallel. The data graph given to pySHACL is an in-memory Oxigraph store (pySHACL's Oxigraph
backend), or an rdflib Graph on request (the reference backend the tests compare with).

Three process-wide speed-ups of pySHACL/rdflib are installed on first use (see each function): prepared
SPARQL queries cached by text, O(1) focus-node membership, and a constant truth value of the data graph.
"""

from __future__ import annotations

import threading
from typing import Iterable

import pyoxigraph as ox
from rdflib import Graph, URIRef

from . import rdfio, validation

ENGINE = "oxigraph"  # pySHACL data graph backend: "oxigraph" or "rdflib"


class ValidationTimeout(RuntimeError):
    """Validation ran past its time limit and was stopped."""


def _is_node(term) -> bool:
    return isinstance(term, ox.NamedNode)


_cache_installed = False


def _install_query_cache() -> None:
    """pySHACL runs each SPARQL constraint once per focus node with the same text and different initial
    bindings, and rdflib parses the text every time (~35 ms each, 90 % of a validation). Cache the parsed and
    translated query by its text, namespaces and base: rdflib evaluates a prepared `Query` many times with
    different bindings by design (`prepareQuery`), so reusing it is safe."""
    global _cache_installed
    if _cache_installed:
        return
    import functools

    from rdflib.plugins.sparql import processor

    @functools.lru_cache(maxsize=512)
    def prepared(text: str, base, ns: tuple):
        return processor.translateQuery(processor.parseQuery(text), base, dict(ns) if ns else None)

    original = processor.SPARQLProcessor.query

    def query(self, strOrQuery, initBindings=None, initNs=None, base=None, DEBUG=False):  # noqa: N803
        if isinstance(strOrQuery, str):
            try:
                key_ns = tuple(sorted((k, str(v)) for k, v in (initNs or {}).items()))
                strOrQuery = prepared(strOrQuery, base, key_ns)
            except TypeError:  # unhashable namespaces: no caching
                pass
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    processor.SPARQLProcessor.query = query
    _cache_installed = True


_ontology_nt: bytes | None = None


def _ontology_ntriples() -> bytes:
    global _ontology_nt
    if _ontology_nt is None:
        _ontology_nt = validation.ontology_graph().serialize(format="nt", encoding="utf-8")
    return _ontology_nt


class _FocusList(list):
    """pySHACL keeps `focus_nodes` as a list and tests each target node with `in`: O(targets x focus).
    The same list, with a set for membership."""

    def __init__(self, items):
        super().__init__(items)
        self._members = set(items)

    def __contains__(self, item) -> bool:
        return item in self._members


def _fast_focus_membership() -> None:
    from pyshacl.validator import Validator

    if getattr(Validator.make_executor, "_kb_fast", False):
        return
    original = Validator.make_executor

    def make_executor(self):
        executor = original(self)
        if executor.focus_nodes:
            executor.focus_nodes = _FocusList(executor.focus_nodes)
        return executor

    make_executor._kb_fast = True
    Validator.make_executor = make_executor


class _ParamList(list):
    """pySHACL's list of constraint parameters, with a set for `in` (tested for every predicate of every
    shape on every validation step); `copy()` keeps the speed-up (pySHACL copies it in advanced mode)."""

    def __init__(self, items=()):
        super().__init__(items)
        self._members = set(self)

    def __contains__(self, item) -> bool:
        return item in self._members

    def append(self, item) -> None:
        super().append(item)
        self._members.add(item)

    def copy(self) -> "_ParamList":
        return _ParamList(self)


def _fast_pyshacl_internals() -> None:
    """Two per-focus-node costs of pySHACL that do not depend on the focus node: the regex checks of a
    SPARQL constraint's text (cached by text), and list membership of constraint parameters (a set)."""
    from pyshacl import shape as shape_mod
    from pyshacl.constraints import ALL_CONSTRAINT_PARAMETERS, CONSTRAINT_PARAMETERS_MAP
    from pyshacl.helper.sparql_query_helper import SPARQLQueryHelper

    if getattr(SPARQLQueryHelper.check_invalid_sparql, "_kb_cached", False):
        return
    shape_mod.CONSTRAINT_PARAMS = (_ParamList(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)
    original = SPARQLQueryHelper.check_invalid_sparql
    passed: set = set()

    def check_invalid_sparql(self, sparql_text, valuenode=None, extravars=None):
        key = (sparql_text, valuenode is not None, tuple(sorted(extravars or ())))
        if key in passed:
            return True
        result = original(self, sparql_text, valuenode=valuenode, extravars=extravars)  # raises if invalid
        passed.add(key)
        return result

    check_invalid_sparql._kb_cached = True
    SPARQLQueryHelper.check_invalid_sparql = check_invalid_sparql


class _CachedGraph(Graph):
    """A copy of the trusted shapes graph whose triple look-ups are memoised: pySHACL reads the same shape
    parameters again for every focus node. The cache is dropped on any change to the graph."""

    def __init__(self, source: Graph):
        super().__init__()
        for prefix, ns in source.namespaces():
            self.bind(prefix, ns, override=True)
        for t in source:
            super().add(t)
        self._memo: dict = {}

    def triples(self, pattern):
        try:
            hit = self._memo.get(pattern)
        except TypeError:  # an unhashable pattern term: no memo
            yield from super().triples(pattern)
            return
        if hit is None:
            hit = self._memo[pattern] = list(super().triples(pattern))
        yield from hit

    def add(self, triple):
        self._memo.clear()
        return super().add(triple)

    def addN(self, quads):  # noqa: N802 - rdflib's name
        self._memo.clear()
        return super().addN(quads)

    def remove(self, triple):
        self._memo.clear()
        return super().remove(triple)


_cached_shapes: Graph | None = None


def _shapes_for(engine: str) -> Graph:
    """The memoised shapes graph for the Oxigraph engine; the plain one for the rdflib reference engine
    (so the tests comparing both engines also check the memo)."""
    global _cached_shapes
    if engine == "rdflib":
        return validation.shapes_graph()
    if _cached_shapes is None:
        _cached_shapes = _CachedGraph(validation.shapes_graph())
    return _cached_shapes


def _truthy_oxigraph_graphs() -> None:
    """pySHACL evaluates the truth value of its data graph for every result; on its Oxigraph data graph that
    is `len()`, a COUNT over the whole store. Our data graph is never empty: make it True at once."""
    from pyshacl import graph_abstraction as ga

    cls = getattr(ga, "OxigraphDataGraph", None)
    if cls is not None and "__bool__" not in cls.__dict__:
        cls.__bool__ = lambda self: True


def _shacl(data_nt: bytes, focus: list[str] | None, engine: str | None = None) -> bytes:
    """Validate N-Triples data (+ ontology) against the trusted shapes; return the report as N-Triples.

    The data graph is an in-memory Oxigraph store (pySHACL's Oxigraph backend evaluates the SPARQL-based
    targets and constraints with Oxigraph, several times faster than rdflib), or an rdflib Graph when
    `engine == "rdflib"` (the reference the tests compare with)."""
    import pyshacl

    _install_query_cache()
    _fast_focus_membership()
    _fast_pyshacl_internals()
    kwargs = {}
    if focus:
        kwargs["focus_nodes"] = [URIRef(f) for f in focus]
    if (engine or ENGINE) == "rdflib":
        g = Graph()
        rdfio.triples_to_graph(ox.parse(data_nt, ox.RdfFormat.N_TRIPLES), g)
        g += validation.ontology_graph()
    else:
        _truthy_oxigraph_graphs()
        g = ox.Store()
        g.bulk_extend(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph())
                      for t in ox.parse(data_nt + b"\n" + _ontology_ntriples(), ox.RdfFormat.N_TRIPLES))
        kwargs["inplace"] = True
    _, report_graph, _ = pyshacl.validate(
        g, shacl_graph=_shapes_for(engine or ENGINE), ont_graph=None, inference="none", advanced=True,
        allow_warnings=False, allow_infos=False, meta_shacl=False, js=False, do_owl_imports=False,
        **kwargs)
    return report_graph.serialize(format="nt", encoding="utf-8")


def _worker_main(read_fd: int, write_fd: int) -> None:  # pragma: no cover - runs in the worker process
    from multiprocessing.connection import Connection

    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    validation.shapes_graph()
    validation.ontology_graph()
    while True:
        try:
            data_nt, focus = inbox.recv()
        except (EOFError, OSError):
            return
        try:
            outbox.send(("ok", _shacl(data_nt, focus)))
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

    def run(self, data_nt: bytes, focus: list[str] | None, timeout: float) -> bytes:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self._kill()
                self._start()
            try:
                self.outbox.send((data_nt, focus))
                if not self.inbox.poll(timeout):
                    self._kill()
                    raise ValidationTimeout(f"validation did not finish within {timeout:g} s; nothing was written")
                status, payload = self.inbox.recv()
            except (EOFError, OSError) as exc:
                self._kill()
                raise RuntimeError(f"the validation worker died: {exc}") from None
            if status != "ok":
                raise RuntimeError(f"validation failed: {payload}")
            return payload


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
    else:
        with validation._lock:
            report_nt = _shacl(data_nt, focus_list, engine)
    report_graph = Graph()
    report_graph.parse(data=report_nt.decode("utf-8"), format="nt")
    results = validation._results(report_graph)
    if focus_list is not None:
        wanted = set(focus_list)
        results = [r for r in results if str(r.focus) in wanted]
    return validation.Report(conforms=not results, graph=report_graph, results=results)
