"""The store interface: one small API that the importer, the CLI and the server use.

Two implementations: `OxigraphStore` (embedded, on disk or in memory) and the remote SPARQL 1.1 store.
Query results are pyoxigraph objects (QuerySolutions, QueryBoolean, QueryTriples) whichever the
implementation, so callers serialise them the same way.

Every write is one atomic operation that also bumps the KB version (kept in the store itself, in the
metadata graph, so that several app servers on one remote store agree on it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from abc import ABC, abstractmethod
from typing import IO, Callable, Iterable, Iterator

import pyoxigraph as ox

from ..namespaces import Iris

VERSION = ox.NamedNode("http://www.w3.org/2002/07/owl#versionInfo")
MODIFIED = ox.NamedNode("http://purl.org/dc/terms/modified")
XSD_DATETIME = ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime")


class StoreError(RuntimeError):
    """The store could not do what was asked (unreachable, locked, failed)."""


class StoreUnavailable(StoreError):
    """The store cannot be reached now (remote down, timeout); callers answer 503."""


class StoreLocked(StoreError):
    """Another process holds the store for writing."""


class QueryTimeout(StoreError):
    """A query ran past its time limit and was stopped."""


def nt(term) -> str:
    """N-Triples form of a pyoxigraph term (its str())."""
    return str(term)


def now_literal() -> ox.Literal:
    stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
    return ox.Literal(stamp, datatype=XSD_DATETIME)


class Store(ABC):
    """What every store offers. Graph names are IRI strings."""

    def __init__(self, iris: Iris):
        self.iris = iris

    # -- reads ------------------------------------------------------------------------------------
    @abstractmethod
    def query(self, sparql: str, *, default_graph: list[str] | None = None,
              named_graphs: list[str] | None = None, timeout: float | None = None):
        """Run a SPARQL query; the default graph is the union of all graphs unless `default_graph` is given."""

    @abstractmethod
    def graphs(self) -> list[str]:
        """Named graphs that hold at least one triple."""

    def has_graph(self, graph: str) -> bool:
        return bool(self.query(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"))

    def count(self, graph: str | None = None) -> int:
        if graph is None:
            q = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
        else:
            q = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
        for row in self.query(q):
            return int(row["n"].value)
        return 0

    def triples(self, graph: str) -> Iterator[ox.Triple]:
        yield from self.query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}")

    def quads(self) -> Iterator[ox.Quad]:
        for row in self.query("SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }"):
            yield ox.Quad(row["s"], row["p"], row["o"], row["g"])

    def dump(self, out: IO[bytes], fmt: ox.RdfFormat, graph: str | None = None) -> None:
        """Serialise one graph, or the whole KB (quad formats keep the graphs; triple formats merge them)."""
        if graph is not None:
            ox.serialize(self.triples(graph), out, fmt)
        elif fmt in (ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
            ox.serialize(self.quads(), out, fmt)
        else:
            ox.serialize(self.query("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"), out, fmt)

    def version(self) -> str:
        """An opaque token that changes on every write (ETags and caches use it)."""
        v, _ = self._version_and_modified()
        return v

    def last_modified(self) -> dt.datetime:
        _, m = self._version_and_modified()
        return m

    def _version_and_modified(self) -> tuple[str, dt.datetime]:
        meta = self.iris.meta_graph
        q = (f"SELECT ?v ?m WHERE {{ GRAPH <{meta}> {{ <{self.iris.dataset}> <{VERSION.value}> ?v ; "
             f"<{MODIFIED.value}> ?m }} }} LIMIT 1")
        for row in self.query(q):
            return row["v"].value, dt.datetime.fromisoformat(row["m"].value)
        return "empty", dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

    # -- writes -----------------------------------------------------------------------------------
    @abstractmethod
    def apply(self, *, drop: Iterable[str] = (), insert: Iterable[ox.Quad] = (), delete: Iterable[ox.Quad] = (),
              progress: Callable[[str], None] | None = None, history: Iterable[ox.Triple] = ()) -> str:
        """One atomic write: drop graphs, delete quads, insert quads, add history records (kb.history) to the
        hidden history area, bump the version. Returns the new version.

        `progress`, if given, receives short messages while a bulk write goes on (the remote store writes
        large inserts in chunks to a staging graph first); readers never see a half-done write."""

    @abstractmethod
    def history_records(self, nodes: Iterable[str]) -> list[ox.Triple]:
        """The history records (kb.history) whose subject or object is one of the IRIs `nodes`."""

    def replace_graph(self, graph: str, triples: Iterable[ox.Triple], *, meta: Iterable[ox.Quad] = ()) -> str:
        g = ox.NamedNode(graph)
        quads = [ox.Quad(t.subject, t.predicate, t.object, g) for t in triples]
        return self.apply(drop=[graph], insert=[*quads, *meta])

    def add_to_graph(self, graph: str, triples: Iterable[ox.Triple], *, meta: Iterable[ox.Quad] = ()) -> str:
        g = ox.NamedNode(graph)
        quads = [ox.Quad(t.subject, t.predicate, t.object, g) for t in triples]
        return self.apply(insert=[*quads, *meta])

    def drop_graph(self, graph: str, *, meta: Iterable[ox.Quad] = ()) -> str:
        return self.apply(drop=[graph], insert=list(meta))

    def clear(self) -> str:
        return self.apply(drop=self.graphs())

    def _version_update(self) -> tuple[str, str]:
        """The SPARQL Update text that replaces the version triple, and the new version."""
        new = uuid.uuid4().hex
        meta, ds = self.iris.meta_graph, self.iris.dataset
        text = (f"DELETE WHERE {{ GRAPH <{meta}> {{ <{ds}> <{VERSION.value}> ?v }} }} ;\n"
                f"DELETE WHERE {{ GRAPH <{meta}> {{ <{ds}> <{MODIFIED.value}> ?m }} }} ;\n"
                f"INSERT DATA {{ GRAPH <{meta}> {{ <{ds}> <{VERSION.value}> \"{new}\" ; "
                f"<{MODIFIED.value}> {nt(now_literal())} }} }}")
        return text, new

    def close(self) -> None:  # pragma: no cover - trivial
        pass

    def describe(self) -> str:
        return self.__class__.__name__
