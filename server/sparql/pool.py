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

Worker processes also let the server use every core under gunicorn: gunicorn runs one process (the store
allows one writer) with threads, and the evaluation happens in the workers, outside the GIL.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

from .execution import Job, Outcome
from .streaming import END, Cancelled, Failed, Stream, StreamCut

log = logging.getLogger("thb-kb.sparql")

READY_TIMEOUT = 120.0
WATCH_INTERVAL = 0.2  # seconds between two looks at a running worker's memory
WINDOW = 4  # streamed chunks a worker may send ahead of the serving process's acknowledgements
STOP_GRACE = 5.0  # seconds a worker gets to stop a stream whose client left, before it is killed
ACK, STOP, ABORTED = "ack", "stop", "aborted"  # stream control messages (END is in streaming)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss(pid: int | None) -> int:
    """Resident memory of a process in bytes (Linux /proc; 0 where unknown)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0
_ROOT = Path(__file__).resolve().parent.parent.parent  # the folder that holds the `server` package


class _Worker:
    """One worker process, started as `python -m server.sparql.pool FD BASE` with one end of a socket pair.

    Not `multiprocessing.Process`: its spawn and forkserver methods re-import the main module of the serving
    process (a user's script without the `if __name__ == "__main__"` guard would start itself again), and
    fork is unsafe once RocksDB's threads run."""

    def __init__(self, base_iri: str):
        parent, child = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.sparql.pool", str(child.fileno()), base_iri],
                pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, env=env, close_fds=True)
        finally:
            child.close()
        self.conn = Connection(parent.detach())
        self.path: str | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> bool:
        try:
            return self.conn.poll(timeout) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            return False

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(5)
        except Exception:  # already gone
            pass
        try:
            self.conn.close()
        except OSError:
            pass


class WorkerPool:
    def __init__(self, store, size: int, base_iri: str, max_memory_mib: int = 0):
        self.store = store
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
        self._checkpoint: tuple[str, str] | None = None  # (version, path)
        self._serial = 0
        self._users: Counter[str] = Counter()
        self._closed = False
        self.replaced = 0  # workers killed and replaced (timeouts, crashes): for tests and /metrics
        for _ in range(self.size):
            self._spawn_async()

    # -- workers ------------------------------------------------------------------------------------
    def _spawn_async(self) -> None:
        threading.Thread(target=self._spawn, daemon=True, name="thb-kb-sparql-spawn").start()

    def _spawn(self) -> None:
        if self._closed:
            return
        try:
            worker = _Worker(self.base_iri)
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
        version = self.store.version()
        current = self._checkpoint
        if current is not None and current[0] == version:
            return current[1]
        with self._lock:
            if self._checkpoint is not None and self._checkpoint[0] == version:
                return self._checkpoint[1]
            self._serial += 1
            path = str(self.root / f"{self._serial:06d}-{version}")
            self.store.raw.backup(path)
            self._checkpoint = (version, path)
        self._cleanup()
        return path

    def _cleanup(self) -> None:
        with self._lock:
            current = self._checkpoint[1] if self._checkpoint else None
            for entry in self.root.iterdir():
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
    def run(self, job: Job) -> Outcome:
        """The first message of the answer: a whole Outcome, or a streamed head whose `stream` relays the
        chunks. The timeout counts the time spent waiting for a worker and for its messages (not the time
        spent waiting for a slow client to take the chunks)."""
        budget = _Budget(job.timeout)
        try:
            path = self._current_checkpoint()
        except Exception as exc:
            return Outcome.error(503, f"the store cannot be read now: {exc}", **{"Retry-After": "5"})
        waiting = time.monotonic()
        while True:
            try:
                worker = self._idle.get(timeout=max(0.0, budget.remaining(waiting)))
            except queue.Empty:
                return Outcome.error(503, f"all query workers stayed busy for {job.timeout:g} s; try again",
                                     **{"Retry-After": "5"})
            if worker.alive():
                break
            log.error("a SPARQL worker died while idle (exit code %s); replacing it", worker.process.returncode)
            self._retire(worker)
        budget.spent += time.monotonic() - waiting
        old_path = worker.path
        self._assign(worker, path)
        if old_path != path:
            self._cleanup()
        try:
            worker.conn.send((job, path))
            first = self._receive(worker, job, budget)
        except _Stopped as stop:
            return stop.outcome
        except (EOFError, OSError) as exc:
            log.error("a SPARQL worker died while running a query: %s", exc)
            self._retire(worker)
            return Outcome.error(500, "the query made its worker process fail; it was replaced")
        if isinstance(first, Outcome) and first.streamed:
            relay = _Relay(self, worker, job, budget)
            first.stream = Stream(relay.receive, relay.release)
            return first
        self._idle.put(worker)
        if isinstance(first, Failed):
            return Outcome.error(500, first.message)
        return first

    def _receive(self, worker: _Worker, job: Job, budget: "_Budget"):
        """The worker's next message; past the budget or the memory limit the worker is killed (_Stopped)."""
        started = time.monotonic()
        try:
            while True:
                remaining = budget.remaining(started)
                if remaining <= 0:
                    break
                try:
                    ready = worker.conn.poll(min(remaining, WATCH_INTERVAL))
                    if ready and time.monotonic() - budget.watched < WATCH_INTERVAL:
                        return worker.conn.recv()
                except (EOFError, OSError) as exc:
                    log.error("a SPARQL worker died while running a query: %s", exc)
                    self._retire(worker)
                    raise _Stopped(Outcome.error(500, "the query made its worker process fail; it was replaced"))
                budget.watched = time.monotonic()  # a look at the memory at least every WATCH_INTERVAL, also mid-stream
                if self.max_memory and _rss(worker.pid) > self.max_memory:
                    log.warning("query stopped: worker %s used more than %d MiB", worker.pid,
                                self.max_memory // 2**20)
                    self._retire(worker)
                    raise _Stopped(Outcome.error(
                        503, f"the query needed more than {self.max_memory // 2**20} MiB of memory and was "
                             "stopped; narrow it down or add a LIMIT", **{"Retry-After": "1"}))
        finally:
            budget.spent += time.monotonic() - started
        log.warning("query stopped after %.1f s (worker %s killed)", job.timeout, worker.pid)
        self._retire(worker)
        raise _Stopped(Outcome.error(503, f"the query ran longer than {job.timeout:g} s and was stopped; "
                                          "narrow it down or add a LIMIT", **{"Retry-After": "1"}))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for w in workers:
            w.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def worker_main(conn, base_iri: str) -> None:
    """The worker process: open checkpoints read-only, run jobs, send back outcomes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops the workers
    import importlib

    importlib.import_module("rdflib.plugins.sparql.parser")  # build the grammar before saying ready

    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore

    from .execution import execute

    iris = Iris(base_iri)
    store, current = None, None
    conn.send("ready")
    parent = os.getppid()
    while True:
        try:
            if not conn.poll(5.0):
                if os.getppid() != parent:
                    return  # the serving process is gone
                continue
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if message == STOP:  # for a stream that had already ended
            continue
        job, path = message
        sender = _Sender(conn)
        try:
            try:
                if path != current:
                    store = None
                    store = OxigraphStore(iris, path, read_only=True)
                    current = path
            except Exception as exc:  # opening the checkpoint failed
                current = None
                sender(Outcome.error(503, f"the store cannot be read now: {exc}", **{"Retry-After": "5"}))
            else:
                try:
                    execute(store, job, sender)
                except Cancelled:
                    pass
                except Exception as exc:  # a bug: answer (or cut the stream) rather than die
                    try:
                        sender(Failed(f"the query failed: {exc.__class__.__name__}"))
                    except Cancelled:
                        pass
            sender.finish()
        except (EOFError, OSError):
            return


class _Sender:
    """The worker's end of a streamed answer: at most WINDOW chunks unacknowledged (the serving process
    acknowledges each chunk it receives), so memory stays bounded when the client is slow; a STOP from the
    serving process (the client is gone) raises Cancelled in the writer."""

    def __init__(self, conn):
        self.conn = conn
        self.unacked = 0
        self.stopped = False

    def __call__(self, message) -> None:
        if self.stopped:  # pyoxigraph writes once more (a flush) after a failed write
            raise Cancelled()
        chunk = isinstance(message, bytes)
        while self.conn.poll(0) or (chunk and self.unacked >= WINDOW):
            if self.conn.recv() == STOP:
                self.stopped = True
                raise Cancelled()
            self.unacked -= 1
        self.conn.send(message)
        if chunk:
            self.unacked += 1

    def finish(self) -> None:
        """After the job's last message: ABORTED when stopped, else take the outstanding acknowledgements."""
        if self.stopped:
            self.conn.send(ABORTED)
            return
        while self.unacked > 0:
            if self.conn.recv() == STOP:
                return
            self.unacked -= 1


class _Budget:
    """A query's time limit, spent while waiting for a worker or for its messages."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.spent = 0.0
        self.watched = time.monotonic()  # the last look at the worker's memory

    def remaining(self, since: float) -> float:
        """What is left, counting the time since `since` as spent."""
        return self.timeout - self.spent - (time.monotonic() - since)


class _Stopped(Exception):
    """The worker was killed (timeout, memory, crash); `outcome` is the answer for a client still waiting."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.body)
        self.outcome = outcome


class _Relay:
    """The serving process's end of a streamed answer: it relays the worker's chunks to the `Stream`,
    acknowledges each, and on `release` returns the worker to the pool, after telling it to stop when the
    client left mid-way (or kills it when it does not answer)."""

    def __init__(self, pool: WorkerPool, worker: _Worker, job: Job, budget: _Budget):
        self.pool, self.worker, self.job, self.budget = pool, worker, job, budget
        self.done = False  # the worker sent its last message
        self.gone = False  # the worker was killed

    def receive(self):
        try:
            message = self.pool._receive(self.worker, self.job, self.budget)
            if isinstance(message, bytes):
                self.worker.conn.send(ACK)
                return message
        except _Stopped as stop:
            self.gone = True
            raise StreamCut(stop.outcome.body.decode("utf-8", "replace").strip()) from None
        except (EOFError, OSError):
            self.gone = True
            self.pool._retire(self.worker)
            raise StreamCut("the query worker failed mid-stream") from None
        self.done = True  # END or Failed
        return message

    def release(self, finished: bool) -> None:
        if self.gone:
            return
        self.gone = True
        worker = self.worker
        if not self.done:  # the client left: stop the worker and wait for its last message
            try:
                worker.conn.send(STOP)
                deadline = time.monotonic() + STOP_GRACE
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not worker.conn.poll(remaining):
                        raise TimeoutError
                    message = worker.conn.recv()
                    if message in (END, ABORTED) or isinstance(message, Failed):
                        break
            except (EOFError, OSError, TimeoutError):
                log.warning("a SPARQL worker did not stop after its client left; replacing it")
                self.pool._retire(worker)
                return
        self.pool._idle.put(worker)


if __name__ == "__main__":  # a worker process: python -m server.sparql.pool FD BASE_IRI
    worker_main(Connection(int(sys.argv[1])), sys.argv[2])
