"""A query worker's in-memory copy of the KB (`KB_QUERY_REPLICA`): the same checkpoint, 5-10x faster to query.

pyoxigraph on RocksDB pays a few microseconds for every index seek, and the query mix's joins and aggregates
seek hundreds of thousands of times; the same engine over its in-memory indexes answers the same queries
5 to 10 times faster (bench: 1M triples, 01 to 11 of the query mix, docs/benchmarks.md). So a worker process
(`pool_worker`) that is told of a checkpoint (`want(path)`) copies it into an in-memory pyoxigraph store in
a background thread (a dump of the checkpoint and a bulk load of the dump, which release the GIL, so the
worker goes on answering from the checkpoint on disk meanwhile; quad by quad when the KB holds blank nodes,
whose identifiers a parser would change) and, once the copy is complete, answers every
job that names *that* checkpoint from memory (`store_for`). A checkpoint is an immutable committed state, so
the copy holds exactly what the on-disk store holds at that version: answers, versions and ETags are the
same from either.

* A copy is only made while the checkpoint holds at most `max_quads` quads (counted first with a bounded
  query): it costs about 420 bytes of memory per quad in each worker, and 0 turns copies off.
* A write makes a new checkpoint: jobs naming it are answered from disk until the new copy is loaded. The
  loader waits until the newest checkpoint it was told of has stayed the newest for `SETTLE` seconds, so a
  burst of writes (a series of imports) costs one copy, not one per write; the old copy is dropped when the
  new one is ready.
* Loading yields to queries: the loader thread runs at a lower priority (nice +10, which the bulk loader's own
  threads inherit), and the workers of one server load one at a time (a lock file next to the checkpoints),
  so the machine keeps answering while the copies are made.
* The memory limit of a query (KB_QUERY_MEMORY) counts what its worker's resident memory grows by during the
  query; while a worker loads a copy (a marker file next to the checkpoints says so) that growth is the
  copy's, and the limit is not applied to it. While a new copy loads, the old one is still held.
* A copy that cannot be made (the checkpoint deleted meanwhile, too big, out of memory) is simply not used.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from pathlib import Path

import pyoxigraph as ox

log = logging.getLogger("thb-kb.sparql")

SETTLE = 1.0  # seconds the newest checkpoint must stay the newest before it is copied
_HAS_BLANK = ("ASK { { ?s ?p ?o FILTER (isBlank(?s) || isBlank(?o)) } UNION "
              "{ GRAPH ?g { ?s ?p ?o FILTER (isBlank(?s) || isBlank(?o)) } } }")
NICE = 10  # the loader thread's priority, below the threads that answer


def loading_marker(root: Path, pid: int) -> Path:
    """The file that says worker `pid` is loading a copy (the pool's memory limit then waits: the copy's
    memory is not the query's)."""
    return root / f"replica-loading-{pid}"


class Replica:
    def __init__(self, iris, max_quads: int, settle: float = SETTLE):
        self.iris = iris
        self.max_quads = max(0, int(max_quads))
        self.settle = settle
        self._lock = threading.Lock()
        self._wanted: str | None = None  # the newest checkpoint this worker was told of
        self._ready: tuple[str, object] | None = None  # (checkpoint path, OxigraphStore in memory)
        self._loader: threading.Thread | None = None
        self._refused: set[str] = set()  # checkpoints found too big (or unreadable): not tried again

    @property
    def enabled(self) -> bool:
        return self.max_quads > 0

    def want(self, path: str) -> None:
        """Copy this checkpoint into memory (in the background), unless it is the copy already held."""
        if not self.enabled:
            return
        with self._lock:
            if path == self._wanted or path in self._refused:
                return
            self._wanted = path
            if self._ready is not None and self._ready[0] == path:
                return
            if self._loader is None or not self._loader.is_alive():
                self._loader = threading.Thread(target=self._load_loop, daemon=True, name="thb-kb-replica")
                self._loader.start()

    def store_for(self, path: str):
        """The in-memory copy of this checkpoint, or None (not loaded yet, or another checkpoint's)."""
        ready = self._ready
        return ready[1] if ready is not None and ready[0] == path else None

    # -- the loader thread --------------------------------------------------------------------------
    def _load_loop(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)  # this thread only (Linux)
        except (AttributeError, OSError):
            pass
        while True:
            with self._lock:
                path = self._wanted
            time.sleep(self.settle)
            with self._lock:
                if self._wanted != path:
                    continue  # a newer checkpoint came meanwhile: wait for it to settle
                if path is None or (self._ready is not None and self._ready[0] == path):
                    self._loader = None
                    return
            store = self._copy_one_at_a_time(path)
            with self._lock:
                if store is None:
                    self._refused.add(path)
                elif self._wanted == path:
                    self._ready = (path, store)  # the old copy, if any, is dropped here
                if self._wanted == path:
                    self._loader = None
                    return

    def _copy_one_at_a_time(self, path: str):
        """`_copy`, holding the lock file next to the checkpoints (one worker of the server loads at a time)."""
        try:
            lock = open(Path(path).parent / "replica.lock", "a+b")
        except OSError as exc:
            log.warning("no in-memory copy of the checkpoint %s: %s", path, exc)
            return None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self._wanted != path:
                return None  # a newer checkpoint came while this one waited: the loop takes it
            marker = loading_marker(Path(path).parent, os.getpid())
            try:
                marker.touch()
            except OSError:
                pass
            try:
                return self._copy(path)
            finally:
                marker.unlink(missing_ok=True)

    def _copy(self, path: str):
        from kb.store.oxigraph import OxigraphStore

        started = time.perf_counter()
        try:
            disk = ox.Store.read_only(path)
            probe = ("SELECT (COUNT(*) AS ?n) WHERE { SELECT * WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } } "
                     f"LIMIT {self.max_quads + 1} }}")
            n = int(next(iter(disk.query(probe)))["n"].value)
            if n > self.max_quads:
                log.info("no in-memory copy of the KB: %d quads or more (KB_QUERY_REPLICA: %d)", n, self.max_quads)
                return None
            store = OxigraphStore(self.iris, None)
            if disk.query(_HAS_BLANK):  # copied quad by quad: the copy keeps the blank nodes' identifiers
                store.raw.bulk_extend(disk.quads_for_pattern(None, None, None, None))
            else:  # faster, and without holding the GIL; a parser names blank nodes anew, but there are none
                data = disk.dump(format=ox.RdfFormat.N_QUADS)
                store.raw.bulk_load(data, format=ox.RdfFormat.N_QUADS)
                del data
            del disk
        except Exception as exc:  # the checkpoint went away, memory ran out...: answer from disk
            log.warning("no in-memory copy of the checkpoint %s: %s", path, exc)
            return None
        log.info("in-memory copy of the KB ready: %d quads in %.1f s", n, time.perf_counter() - started)
        return store
