"""The embedded store: pyoxigraph on disk (RocksDB) or in memory.

RocksDB allows one read-write process per folder: a second process gets `StoreLocked` at once with a
message. Inside the process, readers run in threads (pyoxigraph releases the GIL while evaluating) and see
the last committed state; writes are single SPARQL Update transactions, so they are all or nothing, and
a crash mid-write leaves the previous state.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterable

import pyoxigraph as ox

from ..namespaces import Iris
from .base import Store, StoreError, StoreLocked, nt

BATCH_LINES = 50_000


class OxigraphStore(Store):
    def __init__(self, iris: Iris, path: str | Path | None = None, *, read_only: bool = False):
        super().__init__(iris)
        self.path = None if path is None else Path(path)
        self._write_lock = threading.Lock()
        # Only this process can write this store (RocksDB's lock), and every write goes through apply():
        # the version is read once and kept until the next write (a generation counter keeps a reader that
        # raced with a write from storing the old version).
        self._version_cache: tuple[str, object] | None = None
        self._generation = 0
        self._count_cache: tuple[int, int] | None = None  # (generation, triples in the named graphs)
        try:
            if self.path is None:
                self._store = ox.Store()
            elif read_only:
                self._store = ox.Store.read_only(str(self.path))
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(self.path))
        except OSError as exc:
            text = str(exc)
            if "lock" in text.lower():
                raise StoreLocked(f"the store at {self.path} is open for writing in another process "
                                  f"(stop that process, or point KB_STORE elsewhere): {text}") from None
            raise StoreError(f"cannot open the store at {self.path}: {text}") from None

    @property
    def raw(self) -> ox.Store:
        """The pyoxigraph store, for the bulk paths that need it."""
        return self._store

    def query(self, sparql, *, default_graph=None, named_graphs=None, timeout=None):
        kwargs = {}
        if default_graph is not None:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in default_graph]
        else:
            kwargs["use_default_graph_as_union"] = True
        if named_graphs is not None:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
        return self._store.query(sparql, **kwargs)

    def graphs(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode)
                      and next(iter(self._store.quads_for_pattern(None, None, None, g)), None) is not None)

    def has_graph(self, graph: str) -> bool:
        g = ox.NamedNode(graph)
        return next(iter(self._store.quads_for_pattern(None, None, None, g)), None) is not None

    def count(self, graph: str | None = None) -> int:
        """Triples in one graph, or in all named graphs. The whole-store count is a full scan (seconds at
        millions of triples: RocksDB keeps no exact count), so it is kept until the next write. It is a SPARQL
        COUNT, not `len(store)`: that one is faster alone but holds the GIL for the whole scan (every request
        thread of the server would wait), while query evaluation releases it."""
        if graph is not None:
            return super().count(graph)
        generation = self._generation
        cached = self._count_cache
        if cached is not None and cached[0] == generation:
            return cached[1]
        n = super().count()
        if generation == self._generation:
            self._count_cache = (generation, n)
        return n

    def triples(self, graph: str):
        for q in self._store.quads_for_pattern(None, None, None, ox.NamedNode(graph)):
            yield q.triple

    def quads(self):
        for q in self._store.quads_for_pattern(None, None, None, None):
            if not isinstance(q.graph_name, ox.DefaultGraph):
                yield q

    def apply(self, *, drop: Iterable[str] = (), insert: Iterable[ox.Quad] = (), delete: Iterable[ox.Quad] = (),
              progress=None) -> str:
        parts = [f"DROP SILENT GRAPH <{g}>" for g in drop]
        delete = list(delete)
        if delete:
            parts.append("DELETE DATA { " + " ".join(_quad_text(q) for q in delete) + " }")
        insert = list(insert)
        if insert:
            parts.append("INSERT DATA { " + "\n".join(_quad_text(q) for q in insert) + " }")
        version_text, new_version = self._version_update()
        parts.append(version_text)
        with self._write_lock:
            try:
                self._store.update(" ;\n".join(parts))
            except (OSError, SyntaxError, ValueError) as exc:
                raise StoreError(f"write failed, nothing was changed: {exc}") from exc
            finally:
                self._generation += 1
                self._version_cache = None
        return new_version

    def _version_and_modified(self):
        cached = self._version_cache
        if cached is not None:
            return cached
        generation = self._generation
        value = super()._version_and_modified()
        if generation == self._generation:
            self._version_cache = value
        return value

    def flush(self) -> None:
        self._store.flush()

    def close(self) -> None:
        """Flush and release the store (and its RocksDB lock); closing twice is harmless."""
        store = self.__dict__.pop("_store", None)
        if store is None:
            return
        try:
            store.flush()
        except OSError:
            pass
        del store

    def describe(self) -> str:
        return f"Oxigraph ({'memory' if self.path is None else self.path})"


def _quad_text(q: ox.Quad) -> str:
    if isinstance(q.graph_name, ox.DefaultGraph):
        return f"{nt(q.subject)} {nt(q.predicate)} {nt(q.object)} ."
    return f"GRAPH {nt(q.graph_name)} {{ {nt(q.subject)} {nt(q.predicate)} {nt(q.object)} }}"
