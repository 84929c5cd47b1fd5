"""Validate a change to the KB by validating the changed nodes with their KB context, not the whole KB.

Whole-KB validation with pySHACL takes minutes at a million triples; a change touches few nodes. For a
change (graphs replaced, triples added), the KB after the change is K' = (K minus the replaced graphs) plus
the new triples. The focus nodes are
  - S: the subjects of added or removed triples (their description changed),
  - O: the IRIs the added triples point to (shapes target them too, e.g. the IRI pattern rule),
  - R: the nodes that reach S within INVERSE_DEPTH hops in K' (a shape of a referrer may read S's
    description: sh:class on a value reads the value's type, a participation's participant's type is two
    hops away).
The data graph given to the validator is every triple of K' whose subject lies within OUTGOING_DEPTH hops of a
focus node, plus the ontology; the trusted shapes are evaluated on the focus nodes only (`focus_nodes`).
This finds the same results for the focus nodes as validating all of K' (tests/imports prove it on crafted
changes), provided no shape reads further than OUTGOING_DEPTH hops from its focus node: the shapes in
`shapes/` read at most two (path value, then the value's type or scheme).

Results whose focus node is only a referrer (R, not S or O) were possibly there before the change; such
violations are re-checked on K and only the new ones count.

Into an empty KB, K' is the change itself: there is no context to gather and nothing was there before; with
the SPARQL engine the change's triples are validated in one run (_check_whole; pySHACL keeps its chunks).

Large batches are validated in chunks of focus_chunk() focus nodes, each with its own context, by two worker
processes in parallel: FOCUS_CHUNK (250,000) with the SPARQL engine (kb.shacl_sparql), whose cost is per
query, so that every chunk repeats the context gathering, the loading and the ~250 queries; 2,000 with
pySHACL, whose cost grows faster than linearly. The validation runs in kb.shacl_runner (in-process, or in
warm worker processes that a timeout kills).

With the SPARQL engine (2026-12-01, load average 3-5, shared machine): the dry-run `kb import` of the
generated 1M-triple file into an empty store 35 s (parse 5 s, validation in the worker 23 s: loading 3.5 s,
169,280 focus nodes 10-15 s on two threads); into an empty store, chunks of 25,000 / 50,000 / 250,000
focus nodes took 55 / 90 / 25-30 s for the validation (each chunk gathers its context and runs every query).

With pySHACL, measured on the 2-core machine (load 2-3, shapes of 2026-11-24): a 1,000-triple import into a 1M-triple KB,
validated and committed, 0.13-0.24 s; a 100k-triple file, 10k triples/s end to end. `kb import` of the
generated 1M-triple file (2026-11-24, load average 3): 162 s, 6,200 triples/s: parse 3 s, focus set 6 s,
validation of 169,280 focus nodes in 85 chunks 98 s (two workers, both cores busy: pySHACL's per-node Python
work, ~860 focus nodes/s per core), the one-transaction write (kb.store, one INSERT DATA) 48 s; at load
average 9-11 the same import took 431 s. A 1,000-triple import into that KB with a warm validation worker (the
server prewarms it): 0.51-0.91 s end to end (context 0.3 s, pySHACL 0.2-0.3 s); a one-off `kb import`
adds the worker's cold start (~2.5 s).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Iterable

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.namespace import SH

from . import rdfio, validation
from .progress import step
from .shacl_runner import ValidationTimeout, _workers, run_shacl  # noqa: F401 - re-exported

INVERSE_DEPTH = 2
OUTGOING_DEPTH = 2
CHUNK = 1000          # IRIs per VALUES clause of a context query
FOCUS_CHUNK = 250_000  # focus nodes per validation run with the SPARQL engine (kb.shacl_sparql)
PYSHACL_FOCUS_CHUNK = 2000  # ... with pySHACL, whose cost grows faster than linearly


def focus_chunk() -> int:
    """Focus nodes per validation run: large for the set-based engine (its cost is per query, and every
    chunk pays for gathering its context, loading it and running all the queries), small for pySHACL."""
    from . import shacl_runner

    sparql = shacl_runner.engine_name(None) == "sparql" and shacl_runner._sparql_model() is not None
    return FOCUS_CHUNK if sparql else PYSHACL_FOCUS_CHUNK


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
                        self.by_o.setdefault(t.object, set()).add(t)

    def describe(self, nodes: Iterable) -> set[ox.Triple]:
        nodes = [n for n in nodes if _is_node(n)]
        out: set[ox.Triple] = set()
        for n in nodes:
            out |= self.by_s.get(n, set())
        for row in self._rows(nodes, "SELECT ?s ?p ?o ?g WHERE {{ VALUES ?s {{ {} }} GRAPH ?g {{ ?s ?p ?o }} }}"):
            out.add(ox.Triple(row["s"], row["p"], row["o"]))
        return out

    def _rows(self, nodes: list, template: str):
        """Rows of `template` (one `{}` for the VALUES of a chunk of nodes), CHUNK nodes per query, leaving out
        rows from the graphs the change replaces (`skip`)."""
        for i in range(0, len(nodes), CHUNK):
            for row in self.store.query(template.format(_values(nodes[i:i + CHUNK]))):
                if row["g"].value not in self.skip:
                    yield row

    def referrers(self, nodes: Iterable) -> set:
        nodes = [n for n in nodes if _is_node(n)]
        out: set = set()
        for n in nodes:
            out |= {t.subject for t in self.by_o.get(n, ())}
        for row in self._rows(nodes, "SELECT DISTINCT ?s ?g WHERE {{ VALUES ?o {{ {} }} GRAPH ?g {{ ?s ?p ?o }} }}"):
            if _is_node(row["s"]):
                out.add(row["s"])
        return out

    def incoming(self, nodes: Iterable, predicates: tuple[str, ...] | None) -> set[ox.Triple]:
        """The triples pointing at `nodes` through one of `predicates` (None: any predicate)."""
        nodes = [n for n in nodes if _is_node(n)]
        wanted = None if predicates is None else {ox.NamedNode(p) for p in predicates}
        out: set[ox.Triple] = set()
        if wanted is not None and not wanted:
            return out
        for n in nodes:
            out |= {t for t in self.by_o.get(n, ()) if wanted is None or t.predicate in wanted}
        # a FILTER, not a second VALUES: Oxigraph plans `VALUES ?p` first and scans every triple of those
        # predicates (1 s per 400 nodes in a 1M-triple KB, against 5 ms)
        only = "" if wanted is None else f"FILTER (?p IN ({', '.join(str(p) for p in sorted(wanted, key=str))}))"
        template = "SELECT ?s ?p ?o ?g WHERE {{ VALUES ?o {{ {} }} GRAPH ?g {{ ?s ?p ?o }} " + only.replace("{", "{{").replace("}", "}}") + " }}"
        for row in self._rows(nodes, template):
            out.add(ox.Triple(row["s"], row["p"], row["o"]))
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


@functools.lru_cache(maxsize=1)
def inverse_predicates() -> tuple[str, ...] | None:
    """The predicates the trusted shapes read backwards (`sh:inversePath p`); None when one of them is not a
    plain predicate (then every incoming triple counts)."""
    shapes = validation.shapes_graph()
    inverse = list(shapes.objects(None, SH.inversePath))
    if any(not isinstance(p, URIRef) for p in inverse):
        return None
    return tuple(sorted({str(p) for p in inverse}))


def context(view: KView, nodes: Iterable) -> set[ox.Triple]:
    """Every triple of the view whose subject is within OUTGOING_DEPTH hops of `nodes`; and, for `nodes` and
    the nodes one hop out, the triples pointing at them through a predicate the shapes read backwards
    (sh:inversePath: a participation belongs to one event), with the description of their subjects (the
    event's type, for sh:class). Without these, a chunk holding a participation but not its event would
    report a false violation."""
    data: set[ox.Triple] = set()
    seen: set = set()
    level = set(nodes)
    inverse = inverse_predicates()
    for depth in range(OUTGOING_DEPTH + 1):
        level -= seen
        if not level:
            break
        triples = view.describe(level)
        seen |= level
        data |= triples
        if depth < OUTGOING_DEPTH:
            pointing = view.incoming(level, inverse)
            data |= pointing
            data |= view.describe({t.subject for t in pointing} - seen)
        level = {t.object for t in triples if _is_node(t.object)}
    return data


def focus_and_context(store, change: Change | None, *, seeds: set | None = None,
                      inverse: bool = True) -> tuple[set, set, set[ox.Triple]]:
    """(own nodes S∪O, all focus nodes F, data triples D) for a change, or for explicit seed nodes."""
    view = KView(store, change)
    own, focus = focus_set(view, change, seeds, inverse)
    return own, focus, context(view, focus)


def _key(r: validation.Result) -> tuple:
    return (str(r.focus), str(r.path), str(r.value), r.severity, str(r.shape), str(r.constraint), r.message)


def _chunked(view: KView, focus: set, timeout: float | None, progress=None) -> validation.Report:
    """Validate the focus nodes in chunks of focus_chunk(), each with its own context (pySHACL's cost grows
    faster than linearly with the focus list and the data graph; the SPARQL engine's is per query, so one
    large chunk); `timeout` bounds the total. With a timeout (worker processes) and several chunks, the
    workers validate chunks in parallel."""
    import time

    deadline = None if not timeout else time.monotonic() + timeout
    ordered = sorted(focus, key=str)
    size = focus_chunk()
    chunks = [ordered[i:i + size] for i in range(0, len(ordered), size)]
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
                with lock:
                    done = sum(len(chunks[i]) for i in reports)
                    step(progress, done, len(ordered), "validate", f"validated {done}/{len(ordered)} focus nodes "
                         f"({len(reports)}/{len(chunks)} chunks of up to {size})")
            except BaseException as exc:  # the first failure stops every worker
                with lock:
                    failures.append(exc)
                if isinstance(exc, ValidationTimeout):
                    for w in _workers:
                        if w is not worker:
                            w.proc and w.proc.kill()
                return

    step(progress, 0, len(ordered), "validate", f"validating {len(ordered)} focus nodes in {len(chunks)} chunk(s)")
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


def _nothing_else(store, change: Change) -> bool:
    """Whether the KB holds no data before `change` (an import into an empty KB): then the KB after it is
    the change's triples, every node of it is the subject or object of an added triple, there is no context
    to gather, and no result was there before. (A change that replaces the only graph is not such a case:
    the nodes whose triples it keeps can be referrers of changed ones.)"""
    skip = excluded_graphs(store)
    return not any(g not in skip for g in store.graphs())


def _check_whole(change: Change, excluded: set, timeout: float | None, progress) -> validation.Report:
    """check_change into an empty KB: the change's triples in one run. The focus nodes would be every node of
    the change (S and O; every node reaching S is itself the subject of an added triple, so in S), i.e. every
    node of the data: so the shapes run on all their targets (no focus list: collecting a million nodes in
    Python costs seconds) and the few results about other nodes (the ontology's, given as context) are left
    out. pySHACL's focus list means "targets among these nodes", and each focus node's results depend on the
    data only, so this gives exactly the results of the focus-list run."""
    graphs = [triples for g, triples in change.new.items() if g not in excluded]
    data = graphs[0] if len(graphs) == 1 else list({t for triples in graphs for t in triples})
    if not data:
        return validation.Report(conforms=True, graph=Graph(), results=[])
    step(progress, 0, len(data), "validate", f"validating the {len(data)} new triples in one run "
         f"(the KB after the change is the change: no context to gather)")
    report = run_shacl(data, None, timeout=timeout)
    if report.results:
        asked = {rdfio.to_ox(r.focus) for r in report.results if r.focus is not None}
        ours = {n for t in data for n in (t.subject, t.object) if n in asked}
        kept = [r for r in report.results if r.focus is not None and rdfio.to_ox(r.focus) in ours]
        report = validation.Report(conforms=not kept, graph=report.graph, results=kept)
    step(progress, len(data), len(data), "validate", f"validated the {len(data)} new triples")
    return report


def check_change(store, change: Change, *, timeout: float | None, full: bool = False,
                 progress=None) -> validation.Report:
    """Validate the KB after `change`, restricted to the nodes the change can affect."""
    if not full and focus_chunk() > PYSHACL_FOCUS_CHUNK and _nothing_else(store, change):
        return _check_whole(change, excluded_graphs(store), timeout, progress)
    if full:
        data = KView(store, change).all_triples()
        step(progress, 0, len(data), "validate", f"validating all {len(data)} triples of the KB")
        report = run_shacl(data, None, timeout=timeout)
        step(progress, len(data), len(data), "validate", f"validated all {len(data)} triples of the KB")
        return report
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
