"""Validate a change to the KB by validating the changed nodes with their KB context, not the whole KB.

Whole-KB validation with pySHACL takes minutes at a million triples; a change touches few nodes. For a
change (graphs replaced, triples added), the KB after the change is K' = (K minus the replaced graphs) plus
the new triples. The focus nodes are
  - S: the subjects of added or removed triples (their description changed),
  - O: the IRIs the added triples point to (shapes target them too, e.g. the IRI pattern rule),
  - R: the nodes that reach S within INVERSE_DEPTH hops in K' (a shape of a referrer may read S's
    description: sh:class on a value reads the value's type, a participation's participant's type is two
    hops away).
The data graph given to pySHACL is every triple of K' whose subject lies within OUTGOING_DEPTH hops of a focus
node, plus the ontology; pySHACL evaluates the trusted shapes on the focus nodes only (`focus_nodes`).
This finds the same results for the focus nodes as validating all of K' (tests/imports prove it on crafted
changes), provided no shape reads further than OUTGOING_DEPTH hops from its focus node: the shapes in
`shapes/` read at most two (path value, then the value's type or scheme).

Results whose focus node is only a referrer (R, not S or O) were possibly there before the change; such
violations are re-checked on K and only the new ones count.

pySHACL cannot be interrupted inside a thread, so with a validation timeout the check runs in a warm
worker process (spawned once, shapes and ontology loaded), which is killed when the timeout passes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterable

import pyoxigraph as ox
from rdflib import Graph, URIRef

from . import rdfio, validation

INVERSE_DEPTH = 2
ENGINE = "oxigraph"  # pySHACL data graph backend: "oxigraph" or "rdflib"
OUTGOING_DEPTH = 2
CHUNK = 1000          # IRIs per VALUES clause of a context query
FOCUS_CHUNK = 2000    # focus nodes per pySHACL run


class ValidationTimeout(RuntimeError):
    """Validation ran past its time limit and was stopped."""


@dataclass
class Change:
    """What a write does: which graphs lose their old content, and the triples each target graph gains."""

    replaced: set[str] = field(default_factory=set)          # graphs whose previous content is dropped
    new: dict[str, list[ox.Triple]] = field(default_factory=dict)  # graph -> triples it will hold (or gain)
    removed: list[ox.Triple] = field(default_factory=list)   # triples that leave (replace/drop)
    added: list[ox.Triple] = field(default_factory=list)     # triples that arrive


def excluded_graphs(store) -> set[str]:
    """Graphs that are not data: metadata, the shapes, the ontology (added from files as context)."""
    iris = store.iris
    return {iris.meta_graph, iris.graph("shapes"), iris.graph("ontology")}


def _is_node(term) -> bool:
    return isinstance(term, ox.NamedNode)


def _values(nodes: list) -> str:
    return " ".join(str(n) for n in nodes)


class KView:
    """The KB as it will be after a change (K'), or as it is (change=None): triple look-ups by node."""

    def __init__(self, store, change: Change | None):
        self.store = store
        self.skip = excluded_graphs(store) | (change.replaced if change else set())
        self.by_s: dict = {}
        self.by_o: dict = {}
        if change:
            ex = excluded_graphs(store)
            for g, triples in change.new.items():
                if g in ex:
                    continue
                for t in triples:
                    self.by_s.setdefault(t.subject, set()).add(t)
                    if _is_node(t.object):
                        self.by_o.setdefault(t.object, set()).add(t.subject)

    def describe(self, nodes: Iterable) -> set[ox.Triple]:
        nodes = [n for n in nodes if _is_node(n)]
        out: set[ox.Triple] = set()
        for n in nodes:
            out |= self.by_s.get(n, set())
        for i in range(0, len(nodes), CHUNK):
            part = nodes[i:i + CHUNK]
            q = f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?s {{ {_values(part)} }} GRAPH ?g {{ ?s ?p ?o }} }}"
            for row in self.store.query(q):
                if row["g"].value not in self.skip:
                    out.add(ox.Triple(row["s"], row["p"], row["o"]))
        return out

    def referrers(self, nodes: Iterable) -> set:
        nodes = [n for n in nodes if _is_node(n)]
        out: set = set()
        for n in nodes:
            out |= self.by_o.get(n, set())
        for i in range(0, len(nodes), CHUNK):
            part = nodes[i:i + CHUNK]
            q = f"SELECT DISTINCT ?s ?g WHERE {{ VALUES ?o {{ {_values(part)} }} GRAPH ?g {{ ?s ?p ?o }} }}"
            for row in self.store.query(q):
                if row["g"].value not in self.skip and _is_node(row["s"]):
                    out.add(row["s"])
        return out

    def all_triples(self) -> set[ox.Triple]:
        out: set[ox.Triple] = set()
        for ts in self.by_s.values():
            out |= ts
        for g in self.store.graphs():
            if g not in self.skip:
                out.update(self.store.triples(g))
        return out


def focus_set(view: KView, change: Change | None, seeds: set | None = None,
              inverse: bool = True) -> tuple[set, set]:
    """(own nodes S∪O, all focus nodes F) of a change, or of explicit seed nodes."""
    if seeds is None:
        assert change is not None
        subjects = {t.subject for t in (*change.added, *change.removed) if _is_node(t.subject)}
        objects = {t.object for t in change.added if _is_node(t.object)}
        own = subjects | objects
    else:
        subjects, own = set(seeds), set(seeds)
    focus = set(own)
    frontier = set(subjects)
    if inverse:
        for _ in range(INVERSE_DEPTH):
            frontier = view.referrers(frontier) - focus
            if not frontier:
                break
            focus |= frontier
    return own, focus


def context(view: KView, nodes: Iterable) -> set[ox.Triple]:
    """Every triple of the view whose subject is within OUTGOING_DEPTH hops of `nodes`."""
    data: set[ox.Triple] = set()
    seen: set = set()
    level = set(nodes)
    for _ in range(OUTGOING_DEPTH + 1):
        level -= seen
        if not level:
            break
        triples = view.describe(level)
        seen |= level
        data |= triples
        level = {t.object for t in triples if _is_node(t.object)}
    return data


def focus_and_context(store, change: Change | None, *, seeds: set | None = None,
                      inverse: bool = True) -> tuple[set, set, set[ox.Triple]]:
    """(own nodes S∪O, all focus nodes F, data triples D) for a change, or for explicit seed nodes."""
    view = KView(store, change)
    own, focus = focus_set(view, change, seeds, inverse)
    return own, focus, context(view, focus)


# --- running pySHACL -------------------------------------------------------------------------------

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
        g, shacl_graph=validation.shapes_graph(), ont_graph=None, inference="none", advanced=True,
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
        code = f"from kb.batchcheck import _worker_main; _worker_main({to_child_r}, {from_child_w})"
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


def _key(r: validation.Result) -> tuple:
    return (str(r.focus), str(r.path), str(r.value), r.severity, str(r.shape), str(r.constraint), r.message)


def _chunked(view: KView, focus: set, timeout: float | None, progress=None) -> validation.Report:
    """Validate the focus nodes in chunks of FOCUS_CHUNK, each with its own context (pySHACL's cost grows
    faster than linearly with the focus list and the data graph); `timeout` bounds the total. With a
    timeout (worker processes) and several chunks, the workers validate chunks in parallel."""
    import time

    deadline = None if not timeout else time.monotonic() + timeout
    ordered = sorted(focus, key=str)
    chunks = [ordered[i:i + FOCUS_CHUNK] for i in range(0, len(ordered), FOCUS_CHUNK)]
    reports: dict[int, validation.Report] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    pending = list(range(len(chunks)))

    def remaining() -> float | None:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise ValidationTimeout(f"validation did not finish within {timeout:g} s; nothing was written")
        return left

    def serve(worker) -> None:
        while True:
            with lock:
                if failures or not pending:
                    return
                index = pending.pop(0)
            try:
                data = context(view, chunks[index])
                reports[index] = run_shacl(data, chunks[index], timeout=remaining(), worker=worker)
                if progress is not None and len(chunks) > 1:
                    with lock:
                        progress(f"validated {len(reports)}/{len(chunks)} chunks of up to {FOCUS_CHUNK} nodes")
            except BaseException as exc:  # the first failure stops every worker
                with lock:
                    failures.append(exc)
                if isinstance(exc, ValidationTimeout):
                    for w in _workers:
                        if w is not worker:
                            w.proc and w.proc.kill()
                return

    workers = _workers if timeout and len(chunks) > 1 else [None]
    threads = [threading.Thread(target=serve, args=(w,), name="kb-validate") for w in workers[1:]]
    for t in threads:
        t.start()
    serve(workers[0])
    for t in threads:
        t.join()
    if failures:
        timeouts = [f for f in failures if isinstance(f, ValidationTimeout)]
        raise (timeouts or failures)[0]
    results: list = []
    graph = Graph()
    for index in sorted(reports):
        results += reports[index].results
        graph += reports[index].graph
    return validation.Report(conforms=not results, graph=graph, results=results)


def check_change(store, change: Change, *, timeout: float | None, full: bool = False,
                 progress=None) -> validation.Report:
    """Validate the KB after `change`, restricted to the nodes the change can affect."""
    if full:
        data = KView(store, change).all_triples()
        return run_shacl(data, None, timeout=timeout)
    view = KView(store, change)
    own, focus = focus_set(view, change)
    if not focus:
        return validation.Report(conforms=True, graph=Graph(), results=[])
    report = _chunked(view, focus, timeout, progress)
    referrer_only = {r.focus for r in report.results if r.focus is not None
                     and rdfio.to_ox(r.focus) not in own}
    if referrer_only:
        # were these results there before the change? validate those nodes on K and drop the old ones
        before_view = KView(store, None)
        before = {_key(r) for r in _chunked(before_view, {rdfio.to_ox(f) for f in referrer_only}, timeout).results}
        kept = [r for r in report.results if r.focus not in referrer_only or _key(r) not in before]
        report = validation.Report(conforms=not kept, graph=report.graph, results=kept)
    return report


def validate_kb(store, *, timeout: float | None = None, engine: str | None = None) -> validation.Report:
    """Whole-KB validation (all data graphs): the slow reference the batch check must agree with."""
    return run_shacl(KView(store, None).all_triples(), None, timeout=timeout, engine=engine)
