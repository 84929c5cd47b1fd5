"""The queries running now, and how an administrator stops one: `GET /sparql/queries`, `DELETE
/sparql/queries/{id}`.

Every query the endpoint evaluates (not one answered from the cache) gets a `Ticket` in the endpoint's
`Running` registry from the moment it is accepted until its answer has left (a streamed answer: until the
WSGI server closes its body). The listing shows what each is doing: `queued` (waiting for a query worker),
`running`, or `streaming` (the answer is leaving), with the client's address, the query text, when it
started and its time limit.

Stopping one (`Ticket.cancel`) frees what it holds and answers its client `503` with a message that says an
administrator stopped it:

* the embedded on-disk store: the query's worker process is killed (the only way to stop a pyoxigraph
  evaluation) and replaced in the background, as at a timeout; a query still waiting for a worker never runs;
* a remote store: the connection carrying the query is shut down, so the request thread stops waiting at once
  (whether the remote engine stops too is the engine's business: Virtuoso stops a query whose client is gone
  at its next check, and the query's own `timeout` bounds it anyway);
* an in-memory store cannot stop a running evaluation (no process to kill, pyoxigraph cannot be interrupted):
  the admin API answers `409` there.

Both routes need `Authorization: Bearer <KB_WRITE_TOKEN>` (401 without it, 403 with a wrong one or when no
token is set): the query texts of other clients are not public. With several app processes (a remote store
behind replicas) each lists and stops its own queries.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

CANCELLED_MESSAGE = "the query was stopped by an administrator (DELETE /sparql/queries/{id})"


@dataclass(eq=False)
class Ticket:
    """One query from acceptance to the end of its answer."""

    id: str
    query: str
    client: str
    timeout: float
    cancellable: bool
    started: float = field(default_factory=time.time)
    state: str = "queued"  # queued, running, streaming
    worker_pid: int | None = None
    _event: threading.Event = field(default_factory=threading.Event, repr=False)
    _hooks: list = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def on_cancel(self, hook: Callable[[], None]) -> None:
        """Call `hook` when the query is cancelled (at once when it already is)."""
        with self._lock:
            if not self._event.is_set():
                self._hooks.append(hook)
                return
        _call(hook)

    def forget(self, hook: Callable[[], None]) -> None:
        with self._lock:
            try:
                self._hooks.remove(hook)
            except ValueError:
                pass

    def cancel(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            hooks, self._hooks = self._hooks, []
        for hook in hooks:
            _call(hook)

    def message(self) -> str:
        return CANCELLED_MESSAGE.format(id=self.id)

    def as_dict(self, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        return {
            "id": self.id,
            "state": "cancelling" if self.cancelled else self.state,
            "client": self.client,
            "started": datetime.fromtimestamp(self.started, timezone.utc).isoformat(timespec="milliseconds"),
            "elapsed_s": round(max(0.0, now - self.started), 3),
            "timeout_s": self.timeout,
            "worker_pid": self.worker_pid,
            "cancellable": self.cancellable,
            "query": self.query,
        }


def _call(hook: Callable[[], None]) -> None:
    try:
        hook()
    except Exception:  # a connection or a process already gone: nothing left to stop
        pass


class Running:
    """The registry of one endpoint's running queries (thread-safe)."""

    def __init__(self):
        self._tickets: dict[str, Ticket] = {}
        self._lock = threading.Lock()

    def start(self, query: str, client: str, timeout: float, cancellable: bool) -> Ticket:
        ticket = Ticket(secrets.token_hex(8), query, client, timeout, cancellable)
        with self._lock:
            self._tickets[ticket.id] = ticket
        return ticket

    def finish(self, ticket: Ticket) -> None:
        with self._lock:
            self._tickets.pop(ticket.id, None)

    def get(self, ticket_id: str) -> Ticket | None:
        with self._lock:
            return self._tickets.get(ticket_id)

    def list(self) -> list[Ticket]:
        with self._lock:
            tickets = list(self._tickets.values())
        return sorted(tickets, key=lambda t: t.started)

    def __len__(self) -> int:
        with self._lock:
            return len(self._tickets)
