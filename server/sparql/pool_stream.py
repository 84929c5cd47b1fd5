"""The messages between the serving process and a query worker while an answer streams, and the time budget.

`_Sender` is the worker's end (at most WINDOW chunks unacknowledged; a STOP raises `Cancelled`), `_Relay` the
serving process's end; `_Budget` is a job's time limit, spent while waiting for a worker and its messages;
`_Stopped` says a worker was killed (timeout, memory, crash) and carries the answer for the client.
"""

from __future__ import annotations

import logging
import time

from .execution import Outcome
from .streaming import END, Cancelled, Failed, StreamCut

WINDOW = 4  # streamed chunks a worker may send ahead of the serving process's acknowledgements
STOP_GRACE = 5.0  # seconds a worker gets to stop a stream whose client left, before it is killed
ACK, STOP, ABORTED = "ack", "stop", "aborted"  # stream control messages (END is in streaming)
PREPARE = "prepare"  # (PREPARE, checkpoint path) to an idle worker: copy that checkpoint into memory (replica)

log = logging.getLogger("thb-kb.sparql")


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
    """The worker was killed; `reason` says why ("timeout", "memory" or "crash") and `outcome` is the answer
    for a client still waiting."""

    def __init__(self, outcome: Outcome, reason: str):
        super().__init__(outcome.body)
        self.outcome = outcome
        self.reason = reason


class _Relay:
    """The serving process's end of a streamed answer: it relays the worker's chunks to the `Stream`,
    acknowledges each, and on `release` returns the worker to the pool, after telling it to stop when the
    client left mid-way (or kills it when it does not answer)."""

    def __init__(self, pool, worker, job, budget: _Budget, ticket):
        self.pool, self.worker, self.job, self.budget, self.ticket = pool, worker, job, budget, ticket
        self.done = False  # the worker sent its last message
        self.gone = False  # the worker was killed

    def receive(self):
        try:
            message = self.pool._receive(self.worker, self.job, self.budget, self.ticket)
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
        self.pool._release(worker)
