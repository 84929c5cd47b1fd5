"""The worker pool's side of the workers' in-memory copies of the KB (`server.sparql.replica`): telling idle
workers of a new checkpoint, whether documents are better built by the workers, and the memory limit while a
worker loads its copy. A mixin of `pool.WorkerPool` (its `_idle` queue, `root`, `replica_quads`, `max_memory`)."""

from __future__ import annotations

import queue

from .pool_process import _rss, _Worker
from .pool_stream import PREPARE
from .replica import loading_marker

PROBE_EVERY = 20  # lone documents: one in this many goes to a worker, to see if it answers from memory now


class Copies:
    def _prepare(self, worker: _Worker, path: str) -> None:
        """Tell a worker that is not running a job (taken from the idle queue, or not in it yet) to copy the
        checkpoint into memory; it does so in the background and answers nothing."""
        try:
            worker.conn.send((PREPARE, path))
        except (EOFError, OSError):
            pass  # a dead worker: the next job that takes it replaces it

    def _prepare_idle(self, path: str) -> None:
        """Tell the idle workers of a new checkpoint (busy ones learn of it from their next job)."""
        taken = []
        while True:
            try:
                taken.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for worker in taken:
            self._prepare(worker, path)
            self._idle.put(worker)

    def prefers_workers(self) -> bool:
        """Whether a document is better built by a worker even when the serving process is free: while the
        workers answer from their in-memory copies (and, to find out when they start to, one time in
        PROBE_EVERY otherwise)."""
        if self.from_copies:
            return True
        if not self.replica_quads:
            return False
        self._probes += 1
        return self._probes % PROBE_EVERY == 0

    def _over_memory(self, worker: _Worker) -> bool:
        """Whether the job grew its worker by more than the limit. While the worker loads its in-memory copy
        of the KB (server.sparql.replica) the growth is the copy's: the baseline follows it."""
        rss = _rss(worker.pid)
        if loading_marker(self.root, worker.pid).exists():
            worker.base_rss = max(worker.base_rss, rss)
            return False
        return rss - worker.base_rss > self.max_memory
