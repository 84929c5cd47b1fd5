"""Killable query workers for the embedded on-disk store.

pyoxigraph cannot interrupt a running query, so a query that must really stop at its timeout has to run in
a process that can be killed. Design:

* After every write (the store version changes), the serving process makes a checkpoint of the store with
  `pyoxigraph.Store.backup` (a RocksDB checkpoint: hard links, milliseconds) in the folder
  `<store>.sparql-checkpoints/` next to the store. Checkpoints are immutable snapshots.
* A few worker processes (fresh interpreters, `KB_SPARQL_WORKERS`, default: the number of cores) open the
  current checkpoint read-only (`Store.read_only`), reopen it when the version changes, and run
  `execution.execute`: safety check, evaluation, serialisation with the row cap. They send back the answer:
  whole when it is small, else a head then chunks (`streaming`), at most WINDOW chunks ahead of the serving
  process, which acknowledges each chunk it relays to the client. When the client leaves mid-way (the WSGI
  server closes the body), the serving process sends STOP; the worker stops writing, answers ABORTED and is
  idle again (a worker that does not answer within STOP_GRACE is killed and replaced).
* The request thread waits for the answer until the deadline. When the deadline passes it kills the worker
  (SIGKILL), answers 503, and a replacement worker starts in the background. The deadline counts the time
  spent waiting for a worker and for its messages, also mid-stream (a lazily evaluated result can stall
  there): then the worker is killed and the connection cut (the client sees an incomplete chunked body);
  time spent waiting for a slow client to take the chunks does not count. A worker that crashes (the
  engine aborting on some input) is replaced the same way and the client gets 500.
* While it waits, the request thread also watches the worker's resident memory: past `KB_QUERY_MEMORY` MiB
  the worker is killed the same way (503), before one query can exhaust the machine.
* A checkpoint that no worker has open and that is not the current one is deleted.
* Workers keep an in-memory copy of the current checkpoint while the KB is within `KB_QUERY_REPLICA` quads
  (`replica`, loaded in the background; the pool tells idle workers of a new checkpoint, `pool_copies`) and
  answer from it once it is loaded.

Worker processes also let the server use every core under gunicorn: gunicorn runs one process (the store
allows one writer) with threads, and the evaluation happens in the workers, outside the GIL. For the same
reason they also build entity documents (`run_doc`: a job answered in one message, see server.docworkers),
which give way to queries waiting for a worker. The worker's loop is in `pool_worker`, the serving
process's handle on a worker process in `pool_process`, the streaming
messages in `pool_stream`.
"""

from __future__ import annotations

import logging
import queue
import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from .execution import Job, Outcome
from .pool_process import _rss, _Worker
from .pool_stream import _Budget, _Relay, _Stopped
from .pool_copies import Copies
from .streaming import Failed, Stream

log = logging.getLogger("thb-kb.sparql")

READY_TIMEOUT = 120.0
WATCH_INTERVAL = 0.2  # seconds between two looks at a running worker's memory
@dataclass(frozen=True)
class Stopped:
    """A one-message job was stopped and its worker killed: `reason` is "timeout" or "memory"."""

    reason: str


class WorkerPool(Copies):
    def __init__(self, store, size: int, base_iri: str, max_memory_mib: int = 0, replica_quads: int = 0):
        self.store = store
        self.replica_quads = max(0, int(replica_quads))
        # whether the last answer of a worker came from its in-memory copy (server.sparql.replica)
        self.from_copies = bool(self.replica_quads)
        self._probes = 0
        self.max_memory = max(0, int(max_memory_mib)) * 2**20
        self.size = max(1, int(size))
        self.base_iri = base_iri
        path = Path(store.path)
        self.root = path.with_name(path.name + ".sparql-checkpoints")
        shutil.rmtree(self.root, ignore_errors=True)  # leftovers of an earlier run (this process owns the store)
        self.root.mkdir(parents=True, exist_ok=True)
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.RLock()
        self._checkpoint: tuple[str, str, int] | None = None  # (version, path, the store's compactions)
        self._serial = 0
        self._users: Counter[str] = Counter()
        self._closed = False
        self.replaced = 0  # workers killed and replaced (timeouts, crashes): for tests and /metrics
        self.documents = 0  # document jobs answered by a worker (server.docworkers): for tests
        self._waiting = 0  # SPARQL jobs waiting for an idle worker (document jobs give way to them)
        for _ in range(self.size):
            self._spawn_async()

    # -- workers ------------------------------------------------------------------------------------
    def _spawn_async(self) -> None:
        threading.Thread(target=self._spawn, daemon=True, name="thb-kb-sparql-spawn").start()

    def _spawn(self) -> None:
        if self._closed:
            return
        try:
            worker = _Worker(self.base_iri, self.replica_quads)
        except OSError as exc:
            log.error("cannot start a SPARQL worker: %s; retrying in 5 s", exc)
            time.sleep(5)
            return self._spawn()
        if not worker.wait_ready(READY_TIMEOUT):
            if self._closed:
                worker.kill()
                return
            log.error("a SPARQL worker did not start; retrying in 5 s")
            worker.kill()
            time.sleep(5)
            return self._spawn()
        with self._lock:
            if self._closed:
                worker.kill()
                return
            self._all.add(worker)
            checkpoint = self._checkpoint
        if checkpoint is not None and self.replica_quads:
            self._prepare(worker, checkpoint[1])
        self._idle.put(worker)

    def _retire(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            if worker.path is not None:
                self._users[worker.path] -= 1
                worker.path = None
            self.replaced += 1
        self._cleanup()
        self._spawn_async()

    def wait_started(self, timeout: float = 60.0) -> bool:
        """Wait until every worker has started (used by tests and at start-up checks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self._all) >= self.size:
                    return True
            time.sleep(0.05)
        return False

    def warm(self) -> None:
        """Make the checkpoint of the current version now (at start, in the background) rather than on the
        first query; the workers are already starting (the constructor starts them)."""
        try:
            self._current_checkpoint()
        except Exception as exc:  # the first query tries again and answers 503 if it fails too
            log.warning("could not make a checkpoint of the store at start: %s", exc)

    def pids(self) -> list[int]:
        with self._lock:
            return sorted(w.pid for w in self._all if w.pid is not None)

    # -- checkpoints --------------------------------------------------------------------------------
    def _current_checkpoint(self) -> str:
        # made again for a new version, and after a compaction of the store: a checkpoint made while the store
        # was being compacted after a bulk write holds the uncompacted files (kb.store.oxigraph)
        version, compactions = self.store.version(), getattr(self.store, "compactions", 0)
        current = self._checkpoint
        if current is not None and current[0] == version and current[2] == compactions:
            return current[1]
        with self._lock:
            current = self._checkpoint
            if current is not None and current[0] == version and current[2] == compactions:
                return current[1]
            self._serial += 1
            path = str(self.root / f"{self._serial:06d}-{version}")
            self.store.raw.backup(path)
            self._checkpoint = (version, path, compactions)
        self._cleanup()
        if self.replica_quads:
            self._prepare_idle(path)
        return path

    def _cleanup(self) -> None:
        with self._lock:
            current = self._checkpoint[1] if self._checkpoint else None
            for entry in self.root.iterdir():
                if entry.name.startswith("replica"):
                    continue  # the copies' lock file and loading markers (server.sparql.replica)
                p = str(entry)
                if p != current and self._users[p] <= 0:
                    shutil.rmtree(entry, ignore_errors=True)
                    self._users.pop(p, None)

    def _assign(self, worker: _Worker, path: str) -> None:
        with self._lock:
            if worker.path != path:
                if worker.path is not None:
                    self._users[worker.path] -= 1
                self._users[path] += 1
                worker.path = path

    # -- running ------------------------------------------------------------------------------------
    def run(self, job: Job, ticket) -> Outcome:
        """The first message of the answer: a whole Outcome, or a streamed head whose `stream` relays the
        chunks. The timeout counts the time spent waiting for a worker and for its messages (not the time
        spent waiting for a slow client to take the chunks). `ticket` (server.sparql.running) can stop the
        query: its worker is killed and the client gets 503."""
        budget = _Budget(job.timeout)
        try:
            path = self._current_checkpoint()
        except Exception as exc:
            return Outcome.error(503, f"the store cannot be read now: {exc}", **{"Retry-After": "5"})
        waiting = time.monotonic()
        with self._lock:
            self._waiting += 1
        try:
            worker = self._idle_worker(lambda: max(0.0, budget.remaining(waiting)), lambda: ticket.cancelled)
        finally:
            with self._lock:
                self._waiting -= 1
        if worker is None and ticket.cancelled:
            return Outcome.error(503, ticket.message())
        if worker is None:
            return Outcome.error(503, f"all query workers stayed busy for {job.timeout:g} s; try again",
                                 **{"Retry-After": "5"})
        budget.spent += time.monotonic() - waiting
        if not self._attach(worker, ticket):
            return Outcome.error(503, ticket.message())
        self._use(worker, path)
        try:
            self._send_job(worker, job, path)
            first = self._receive(worker, job, budget, ticket)
        except _Stopped as stop:
            return stop.outcome
        except (EOFError, OSError) as exc:
            self._retire(worker)
            if ticket.cancelled:
                return Outcome.error(503, ticket.message())
            log.error("a SPARQL worker died while running a query: %s", exc)
            return Outcome.error(500, "the query made its worker process fail; it was replaced")
        if isinstance(first, Outcome) and first.status == 200:
            self.from_copies = 'desc="memory"' in first.headers.get("Server-Timing", "")
        if isinstance(first, Outcome) and first.streamed:
            relay = _Relay(self, worker, job, budget, ticket)
            first.stream = Stream(relay.receive, relay.release)
            return first
        self._release(worker)
        if isinstance(first, Failed):
            return Outcome.error(500, first.message)
        return first

    def run_doc(self, job, wait: float):
        """Run a job that answers in one message (`job.run_in_worker(store)` in the worker: a document, see
        server.docworkers) on a worker that is idle within `wait` seconds. Returns the worker's message; a
        `Stopped` when the job passed its timeout or the memory limit and its worker was killed; or None
        when it did not run to the end: no idle worker (or SPARQL queries are waiting for one), no checkpoint,
        or the worker died meanwhile (it is replaced). The caller then does the work itself."""
        if self._waiting:
            return None
        try:
            path = self._current_checkpoint()
        except Exception as exc:
            log.warning("no checkpoint for a document job: %s", exc)
            return None
        started = time.monotonic()
        worker = self._idle_worker(lambda: max(0.0, wait - (time.monotonic() - started)))
        if worker is None:
            return None
        self._use(worker, path)
        budget = _Budget(job.timeout)
        try:
            self._send_job(worker, job, path)
            answer = self._receive(worker, job, budget)
        except _Stopped as stop:
            return None if stop.reason == "crash" else Stopped(stop.reason)
        except (EOFError, OSError) as exc:
            log.error("a worker died before it took a document job: %s", exc)
            self._retire(worker)
            return None
        self._idle.put(worker)
        with self._lock:
            self.documents += 1
        self.from_copies = bool(getattr(answer, "from_copy", False))
        return answer

    def _attach(self, worker: _Worker, ticket) -> bool:
        """Let `ticket` stop the query about to run on `worker` (its cancel kills the worker while the query
        runs there, never after: the worker may be serving another query by then). False when the query was
        cancelled while it waited for a worker: the worker goes back, the query never runs."""
        with self._lock:
            if ticket.cancelled:
                attached = False
            else:
                worker.ticket = ticket
                ticket.worker_pid = worker.pid
                ticket.state = "running"
                attached = True
        if not attached:
            self._idle.put(worker)
            return False

        def stop() -> None:
            with self._lock:
                if worker.ticket is ticket:
                    try:
                        worker.process.kill()  # _receive sees the end of the connection
                    except OSError:
                        pass

        ticket.on_cancel(stop)
        return True

    def _release(self, worker: _Worker) -> None:
        """The worker is idle again (its query's ticket, if any, can no longer kill it)."""
        with self._lock:
            worker.ticket = None
        self._idle.put(worker)

    def _idle_worker(self, remaining, stop=None) -> _Worker | None:
        """An idle, live worker, waiting at most `remaining()` seconds, or until `stop()` (looked at every
        WATCH_INTERVAL) says the query was cancelled; dead ones met are replaced."""
        while True:
            left = remaining()
            try:
                if stop is None or left <= 0:
                    worker = self._idle.get(timeout=left) if left > 0 else self._idle.get_nowait()
                else:
                    worker = self._idle.get(timeout=min(left, WATCH_INTERVAL))
            except queue.Empty:
                if stop is not None and left > WATCH_INTERVAL and not stop():
                    continue
                return None
            if worker.alive():
                return worker
            log.error("a SPARQL worker died while idle (exit code %s); replacing it", worker.process.returncode)
            self._retire(worker)

    def _send_job(self, worker: _Worker, job, path: str) -> None:
        worker.base_rss = _rss(worker.pid) if self.max_memory else 0
        worker.conn.send((job, path))

    def _use(self, worker: _Worker, path: str) -> None:
        old_path = worker.path
        self._assign(worker, path)
        if old_path != path:
            self._cleanup()

    def _receive(self, worker: _Worker, job: Job, budget: "_Budget", ticket=None):
        """The worker's next message; past the budget or the memory limit, or when `ticket` is cancelled,
        the worker is killed (_Stopped)."""
        started = time.monotonic()
        try:
            while True:
                remaining = budget.remaining(started)
                if remaining <= 0:
                    break
                try:
                    if ticket is not None and ticket.cancelled:
                        raise EOFError("cancelled")
                    ready = worker.conn.poll(min(remaining, WATCH_INTERVAL))
                    if ready and time.monotonic() - budget.watched < WATCH_INTERVAL:
                        return worker.conn.recv()
                except (EOFError, OSError) as exc:
                    self._retire(worker)
                    if ticket is not None and ticket.cancelled:
                        log.warning("query %s stopped by an administrator (worker %s killed)", ticket.id,
                                    worker.pid)
                        raise _Stopped(Outcome.error(503, ticket.message()), "cancelled")
                    log.error("a SPARQL worker died while running a query: %s", exc)
                    raise _Stopped(Outcome.error(500, "the query made its worker process fail; it was replaced"),
                                   "crash")
                budget.watched = time.monotonic()  # a look at the memory at least every WATCH_INTERVAL, also mid-stream
                if self.max_memory and self._over_memory(worker):
                    log.warning("query stopped: worker %s used more than %d MiB", worker.pid,
                                self.max_memory // 2**20)
                    self._retire(worker)
                    raise _Stopped(Outcome.error(
                        503, f"the query needed more than {self.max_memory // 2**20} MiB of memory and was "
                             "stopped; narrow it down or add a LIMIT", **{"Retry-After": "1"}), "memory")
        finally:
            budget.spent += time.monotonic() - started
        log.warning("query stopped after %.1f s (worker %s killed)", job.timeout, worker.pid)
        self._retire(worker)
        raise _Stopped(Outcome.error(503, f"the query ran longer than {job.timeout:g} s and was stopped; "
                                          "narrow it down or add a LIMIT", **{"Retry-After": "1"}), "timeout")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for w in workers:
            w.kill()
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":  # a worker process: python -m server.sparql.pool FD BASE_IRI
    from .pool_worker import worker_main

    worker_main(Connection(int(sys.argv[1])), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
