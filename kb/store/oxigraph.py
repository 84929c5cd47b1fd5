"""The embedded store: pyoxigraph on disk (RocksDB) or in memory.

RocksDB allows one read-write process per folder: a second process gets `StoreLocked` at once with a
message. Inside the process, readers run in threads (pyoxigraph releases the GIL while evaluating) and see
the last committed state; writes are single SPARQL Update transactions, so they are all or nothing, and
a crash mid-write leaves the previous state.

Bulk writes. A RocksDB transaction costs about 25 microseconds per quad (a 1M-quad INSERT DATA, `extend` or
`load` takes 25-30 s), while pyoxigraph's bulk loader writes sorted SST files and ingests them all in ONE
atomic RocksDB ingestion (8 s for 1M quads; atomic since pyoxigraph 0.5: a SIGKILL leaves none or all of
them, tests/imports prove it). So a write that only adds (no quad deleted, no non-empty graph dropped) of
at least BULK_QUADS quads is done in two steps:

1. one bulk load of the new quads together with a *pending version* record in the metadata graph
   (`<{base}store/pending/{version}> owl:versionInfo ; dct:modified`): data, provenance and the new
   version become visible at the same instant, because the version is read as the pending one while one
   exists (`_version_and_modified`);
2. one small update that makes the pending version the dataset's version and deletes the record.

A crash between the two leaves a complete write whose version is already the new one; the next opening of
the store (or the next write) finishes step 2. Readers never see half of a write.

Compaction. The bulk loader's SST files overlap the store's, and RocksDB merges them only slowly (never in a
read-only checkpoint): a freshly bulk-loaded 5M-triple store answers the query mix 2.5-4x slower than the
same store compacted (`python -m bench.compaction`: 04-events-per-year 550 -> 200 ms; at 1M triples the
difference is noise). So a bulk write that added at least COMPACT_SHARE of the store's data files, in a
store of at least COMPACT_MIN_BYTES of them, is followed by a compaction (`Store.optimize`, which releases
the GIL: 4-11 s at 5M triples), and `compactions` counts them, so that the query workers' checkpoint is made
again from the compacted files (server.sparql.pool).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Iterable

import pyoxigraph as ox

from ..namespaces import Iris
from .base import MODIFIED, VERSION, Store, StoreError, StoreLocked, now_literal, nt

log = logging.getLogger("thb-kb.store")

BATCH_LINES = 50_000
BULK_QUADS = 20_000  # adding at least this many quads (and deleting none) goes through the bulk loader
COMPACT_SHARE = 0.2  # a bulk write that adds at least this share of the store's SST bytes is followed by a compaction
COMPACT_MIN_BYTES = 512 * 2**20  # ... when the store holds at least this much (bench.compaction: at 1M triples,
# 314 MB, the mix ran 1.05x faster after 2 s of compaction; at 5M, 1.56 GB, 2.6x faster after 4-11 s)
PENDING = "store/pending/"  # under the base: the record of a bulk write's version until step 2 ran


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
        self._read_only = read_only
        self.compactions = 0  # compactions after bulk writes (module docstring): the pool checkpoints again
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
        if not read_only:
            self._finish_pending()

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
              progress=None, history: Iterable[ox.Triple] = ()) -> str:
        drop, delete, insert, history = list(drop), list(delete), list(insert), list(history)
        with self._write_lock:
            self._finish_pending()
            if history:
                self._record_history(history)
            if len(insert) >= BULK_QUADS and not delete and not any(self.has_graph(g) for g in drop):
                return self._bulk_apply(insert, progress)  # the graphs to drop hold nothing: nothing to do
            parts = [f"DROP SILENT GRAPH <{g}>" for g in drop]
            if delete:
                parts.append("DELETE DATA { " + " ".join(_quad_text(q) for q in delete) + " }")
            if insert:
                parts.append("INSERT DATA { " + "\n".join(_quad_text(q) for q in insert) + " }")
            version_text, new_version = self._version_update()
            parts.append(version_text)
            self._write(" ;\n".join(parts))
        return new_version

    # -- history (kb.history) ------------------------------------------------------------------------
    # The records live in a store of their own (`<store>.history/` next to the store folder; in memory for
    # an in-memory store): every named graph of this store is part of the KB's union, and pyoxigraph's union
    # includes its default graph too. They are written before the data, in their own atomic write; records
    # of a write that then failed or never committed name an import without a provenance record, which
    # kb.history ignores.
    def _history_store(self, create: bool = True) -> ox.Store | None:
        store = self.__dict__.get("_hist")
        if store is None:
            if self.path is None:
                store = ox.Store()
            else:
                folder = self.path.with_name(self.path.name + ".history")
                if self._read_only:
                    if not folder.exists():
                        return None
                    store = ox.Store.read_only(str(folder))
                elif create or folder.exists():
                    store = ox.Store(str(folder))
                else:
                    return None
            self._hist = store
        return store

    def _record_history(self, records: list[ox.Triple]) -> None:
        store = self._history_store()
        quads = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in records]
        try:
            if len(quads) >= BULK_QUADS:
                store.bulk_load(ox.serialize(quads, format=ox.RdfFormat.N_QUADS), ox.RdfFormat.N_QUADS)
            else:
                store.extend(quads)
        except (OSError, ValueError) as exc:
            raise StoreError(f"write failed, nothing was changed (history records): {exc}") from exc

    def history_records(self, nodes: Iterable[str]) -> list[ox.Triple]:
        store = self._history_store(create=False)
        out: list[ox.Triple] = []
        if store is None:
            return out
        for iri in dict.fromkeys(nodes):
            node = ox.NamedNode(iri)
            out += [q.triple for q in store.quads_for_pattern(node, None, None, None)]
            out += [q.triple for q in store.quads_for_pattern(None, None, node, None) if q.subject != node]
        return out

    def _write(self, update: str) -> None:
        try:
            self._store.update(update)
        except (OSError, SyntaxError, ValueError) as exc:
            raise StoreError(f"write failed, nothing was changed: {exc}") from exc
        finally:
            self._changed()

    def _changed(self) -> None:
        self._generation += 1
        self._version_cache = None

    # -- bulk writes (see the module docstring) -----------------------------------------------------
    def _bulk_apply(self, insert: list[ox.Quad], progress) -> str:
        import uuid

        new_version = uuid.uuid4().hex
        meta = ox.NamedNode(self.iris.meta_graph)
        record = ox.NamedNode(self.iris.base + PENDING + new_version)
        marker = [ox.Quad(record, VERSION, ox.Literal(new_version), meta),
                  ox.Quad(record, MODIFIED, now_literal(), meta)]
        if progress:
            progress(f"bulk-loading {len(insert)} quad(s) in one atomic ingestion")
        data = ox.serialize([*insert, *marker], format=ox.RdfFormat.N_QUADS)
        before = self._sst_bytes()
        try:
            self._store.bulk_load(data, ox.RdfFormat.N_QUADS)
        except (OSError, SyntaxError, ValueError) as exc:
            raise StoreError(f"write failed, nothing was changed: {exc}") from exc
        finally:
            self._changed()
        self._finish_pending()
        self._compact_after_bulk(before, progress)
        return new_version

    def _sst_bytes(self) -> int:
        return 0 if self.path is None else sst_bytes(self.path)

    def _compact_after_bulk(self, before: int, progress) -> None:
        """Compact the store when the bulk write just made added at least COMPACT_SHARE of its data files
        (module docstring). A failed compaction loses nothing: the write is committed; it is logged."""
        if self.path is None:
            return  # in memory: nothing to compact
        after = self._sst_bytes()
        if after < COMPACT_MIN_BYTES or after - before < COMPACT_SHARE * after:
            return
        if progress:
            progress("compacting the store after the bulk load (faster queries from now on)")
        try:
            self._store.optimize()
        except OSError as exc:
            log.warning("the store could not be compacted after a bulk load: %s", exc)
            return
        self.compactions += 1

    def _pending(self) -> list[tuple[str, str, ox.Literal]]:
        """(record IRI, version, modified) of the bulk writes whose step 2 has not run, oldest first."""
        meta = ox.NamedNode(self.iris.meta_graph)
        prefix = self.iris.base + PENDING
        found = []
        for q in self._store.quads_for_pattern(None, VERSION, None, meta):
            if isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(prefix):
                stamp = next(iter(self._store.quads_for_pattern(q.subject, MODIFIED, None, meta)), None)
                found.append((q.subject.value, q.object.value, stamp.object if stamp else now_literal()))
        return sorted(found, key=lambda f: f[2].value)

    def _finish_pending(self) -> None:
        """Step 2 of the bulk writes that need it: the newest pending version becomes the dataset's version
        and the records go, in one update."""
        pending = self._pending()
        if not pending:
            return
        meta, ds = self.iris.meta_graph, self.iris.dataset
        parts = [f"DELETE WHERE {{ GRAPH <{meta}> {{ <{record}> ?p ?o }} }}" for record, _, _ in pending]
        _, version, stamp = pending[-1]
        parts += [f"DELETE WHERE {{ GRAPH <{meta}> {{ <{ds}> <{VERSION.value}> ?v }} }}",
                  f"DELETE WHERE {{ GRAPH <{meta}> {{ <{ds}> <{MODIFIED.value}> ?m }} }}",
                  f"INSERT DATA {{ GRAPH <{meta}> {{ <{ds}> <{VERSION.value}> {nt(ox.Literal(version))} ; "
                  f"<{MODIFIED.value}> {nt(stamp)} }} }}"]
        self._write(" ;\n".join(parts))

    def _version_and_modified(self):
        """The dataset's version, or the version of a bulk write whose step 2 has not run yet (so the version
        changes at the instant the bulk write's data appears). Kept until the next write."""
        cached = self._version_cache
        if cached is not None:
            return cached
        generation = self._generation
        pending = self._pending()
        if pending:
            import datetime as dt

            _, version, stamp = pending[-1]
            value = (version, dt.datetime.fromisoformat(stamp.value))
        else:
            value = super()._version_and_modified()
        if generation == self._generation:
            self._version_cache = value
        return value

    def flush(self) -> None:
        self._store.flush()

    def close(self) -> None:
        """Flush and release the store (and its RocksDB lock); closing twice is harmless."""
        hist = self.__dict__.pop("_hist", None)
        if hist is not None:
            try:
                hist.flush()
            except OSError:
                pass
            del hist
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


def sst_bytes(folder: str | Path) -> int:
    """The bytes of an on-disk store's data files (RocksDB's SST files); 0 when they cannot be read."""
    try:
        return sum(e.stat().st_size for e in os.scandir(folder) if e.name.endswith(".sst"))
    except OSError:
        return 0


def _quad_text(q: ox.Quad) -> str:
    if isinstance(q.graph_name, ox.DefaultGraph):
        return f"{nt(q.subject)} {nt(q.predicate)} {nt(q.object)} ."
    return f"GRAPH {nt(q.graph_name)} {{ {nt(q.subject)} {nt(q.predicate)} {nt(q.object)} }}"
