"""The KB's history: what each write changed, so that a thing's description can be given as it was after any
earlier write (Memento: server/memento.py).

Every write that changes a graph which already held triples leaves *history records*, in the same atomic
store write as the data and its provenance record:

    <s> <{base}store/h/{import-id}?op=add|del&g={graph}&p={predicate}> <o>

one triple per statement added to or removed from graph g, kept out of the KB's union: the embedded store
keeps them in a store of their own (`<store>.history/`, written just before the data: records of a write
that did not commit name an import without a provenance record and are ignored); a remote store in an
unregistered graph, `{base}store/history`, in the same update request as the data. Subject and object stay
the statement's own terms, so the records of a node are found by the subject and object indexes. A write that *creates* a graph
(it held no triples before) records only `<g> <{base}store/h/{import-id}?op=create> <g>`: its triples are
the graph's content minus what later writes added, so a million-triple import into a new graph costs one
record, not a million. Graphs with blank nodes (the ontology and shapes, written whole by the curated
build) keep no history; data graphs have none (imports skolemise them).

The state after write X is the current state with every later write undone, newest first: a later write's
added statements leave, its removed statements come back, and a graph it created is emptied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable
from urllib.parse import parse_qs, quote, urlsplit

import pyoxigraph as ox

HISTORY = "store/history"  # under the base: the remote store's history graph (also the IRI writes name it by)
RECORD = "store/h/"        # under the base: the predicates of history records


def history_graph(base: str) -> str:
    return base + HISTORY


@dataclass(frozen=True)
class Change:
    """One history record, decoded."""

    import_id: str
    op: str             # "add", "del" or "create"
    graph: str
    subject: object     # pyoxigraph terms of the statement (for "create": the graph, twice)
    predicate: str | None
    object: object

    def quad(self) -> ox.Quad:
        return ox.Quad(self.subject, ox.NamedNode(self.predicate), self.object, ox.NamedNode(self.graph))


def _predicate(base: str, import_id: str, op: str, graph: str, predicate: str | None = None) -> ox.NamedNode:
    iri = f"{base}{RECORD}{quote(import_id, safe='')}?op={op}&g={quote(graph, safe='')}"
    if predicate is not None:
        iri += f"&p={quote(predicate, safe='')}"
    return ox.NamedNode(iri)


def records(base: str, import_id: str, *, added: dict[str, Iterable[ox.Triple]] | None = None,
            removed: dict[str, Iterable[ox.Triple]] | None = None, created: Iterable[str] = ()) -> list[ox.Triple]:
    """The history records of one write: graph -> statements added / removed, and the graphs it created."""
    out: list[ox.Triple] = []
    for op, by_graph in (("add", added or {}), ("del", removed or {})):
        for graph, triples in by_graph.items():
            cache: dict[str, ox.NamedNode] = {}
            for t in triples:
                p = t.predicate.value
                pred = cache.get(p)
                if pred is None:
                    pred = cache[p] = _predicate(base, import_id, op, graph, p)
                out.append(ox.Triple(t.subject, pred, t.object))
    for graph in created:
        g = ox.NamedNode(graph)
        out.append(ox.Triple(g, _predicate(base, import_id, "create", graph), g))
    return out


def decode(base: str, triple: ox.Triple) -> Change | None:
    """A history record as a Change, or None when the triple is not one."""
    iri = triple.predicate.value
    prefix = base + RECORD
    if not iri.startswith(prefix):
        return None
    parts = urlsplit(iri[len(prefix):])
    q = parse_qs(parts.query)
    op, graph = q.get("op", [None])[0], q.get("g", [None])[0]
    if op not in ("add", "del", "create") or not graph:
        return None
    from urllib.parse import unquote

    return Change(unquote(parts.path), op, graph, triple.subject, q.get("p", [None])[0], triple.object)


def changes_of(store, nodes: Iterable[str]) -> list[Change]:
    """The history records whose subject or object is one of `nodes`, and every graph creation."""
    base = store.iris.base
    out = [c for c in (decode(base, t) for t in store.history_records(nodes)) if c is not None]
    return out


@dataclass(frozen=True)
class Write:
    """A write as the history knows it: its record IRI, id and end time (xsd:dateTime lexical form)."""

    record: str
    import_id: str
    ended: str


def writes(store) -> list[Write]:
    """Every write of the KB with its end time, oldest first (from the provenance records)."""
    meta = store.iris.meta_graph
    q = (f"SELECT ?rec ?ended WHERE {{ GRAPH <{meta}> {{ ?rec a <http://www.w3.org/ns/prov#Activity> ; "
         f"<http://www.w3.org/ns/prov#endedAtTime> ?ended }} }}")
    prefix = store.iris.base + "id/import/"
    found = []
    for row in store.query(q, default_graph=[meta], named_graphs=[meta]):
        rec = row["rec"].value
        if rec.startswith(prefix):
            found.append(Write(rec, rec[len(prefix):], row["ended"].value))
    return sorted(found, key=lambda w: (w.ended, w.import_id))


def undo(state: set[ox.Quad], changes: list[Change], order: dict[str, int], after: int) -> set[ox.Quad]:
    """`state` (quads of some nodes, now) with every write ranked above `after` undone, newest first."""
    later = sorted((c for c in changes if order.get(c.import_id, -1) > after),
                   key=lambda c: order[c.import_id], reverse=True)
    state = set(state)
    i = 0
    while i < len(later):
        rank = order[later[i].import_id]
        group = []
        while i < len(later) and order[later[i].import_id] == rank:
            group.append(later[i])
            i += 1
        for c in group:  # one write at a time: creation empties, additions leave, removals come back
            if c.op == "create":
                state = {q for q in state if q.graph_name.value != c.graph}
        for c in group:
            if c.op == "add":
                state.discard(c.quad())
        for c in group:
            if c.op == "del":
                state.add(c.quad())
    return state


def _current(store, nodes: list[str]) -> set[ox.Quad]:
    """The quads of the KB (any graph) whose subject or object is one of `nodes`, now."""
    out: set[ox.Quad] = set()
    for i in range(0, len(nodes), 200):
        values = " ".join(f"<{n}>" for n in nodes[i:i + 200])
        q = (f"SELECT ?s ?p ?o ?g WHERE {{ VALUES ?n {{ {values} }} "
             f"{{ GRAPH ?g {{ ?n ?p ?o }} BIND (?n AS ?s) }} UNION {{ GRAPH ?g {{ ?s ?p ?n }} BIND (?n AS ?o) }} }}")
        for row in store.query(q):
            out.add(ox.Quad(row["s"], row["p"], row["o"], row["g"]))
    return out


@dataclass
class Timeline:
    """What the history knows about some nodes: their quads now, the records that concern them (creations of
    the graphs involved included) and the writes, ranked oldest first."""

    nodes: list[str]
    now: set[ox.Quad]
    changes: list[Change]
    writes: list[Write]

    @property
    def rank(self) -> dict[str, int]:
        return {w.import_id: i for i, w in enumerate(self.writes)}

    def state_after(self, import_id: str) -> set[ox.Quad]:
        """The nodes' quads right after write `import_id`."""
        rank = self.rank
        return undo(self.now, self.changes, rank, rank[import_id])

    def versions(self) -> list[Write]:
        """The writes after which the nodes' quads differ from the state before them (oldest first)."""
        rank = self.rank
        touched = sorted({rank[c.import_id] for c in self.changes if c.import_id in rank})
        out, before = [], None
        for r in touched:
            state = undo(self.now, self.changes, rank, r)
            if state != before and state:
                out.append(self.writes[r])
            before = state
        return out


def timeline(store, nodes: Iterable[str]) -> Timeline:
    base = store.iris.base
    nodes = list(dict.fromkeys(nodes))
    now = _current(store, nodes)
    changes = changes_of(store, nodes)
    graphs = {q.graph_name.value for q in now if isinstance(q.graph_name, ox.NamedNode)} | {c.graph for c in changes}
    for t in store.history_records(sorted(graphs)):
        c = decode(base, t)
        if c is not None and c.op == "create" and c.graph in graphs and c not in changes:
            changes.append(c)
    changes = [c for c in changes if c.op == "create" or c.subject.value in nodes or
               (isinstance(c.object, ox.NamedNode) and c.object.value in nodes)]
    return Timeline(nodes, now, changes, writes(store))
