"""The KB's state on the remote store: its version, last modification and graphs, read in one request.

A write changes them in one update request (kb/store/remote_writes.py), so they are read together
(`snapshot`). Every query is checked against them (`RemoteStore._run`): the read goes beside the query, or
was sent less than `KB_REMOTE_STATE_TTL` seconds before it, and every write waits that long before it
returns (`_recent`, `_committed`). See docs/deploy.md, "State reads and the TTL".

This module holds the state half of `RemoteStore` (a mixin: it uses the store's IRIs, requests and settings).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from typing import NamedTuple

from SPARQLWrapper import JSON

from .base import MODIFIED, VERSION
from .remote_protocol import COMMIT_MARGIN, NAMED_GRAPH, RDF_TYPE, _dataset_params, _datetime, _parse_results
from .query_reads import untouched
from .remote_send import Pending


class Snapshot(NamedTuple):
    """What one request reads of the KB's state: its version, last modification and graphs, and `state`,
    the version and the graphs in one token (made once, by `Snapshot.of`: every query compares it)."""

    version: str
    modified: dt.datetime
    graphs: list[str]
    state: str

    @classmethod
    def of(cls, version: str, modified: dt.datetime, graphs: list[str]) -> "Snapshot":
        """The snapshot with its state token: a graph registered by hand changes the KB's answers without a
        new version, and must not let an answer of the KB before it be served after it."""
        digest = hashlib.sha256("\n".join(graphs).encode("utf-8")).hexdigest()[:16]
        return cls(version, modified, graphs, f"{version}/{digest}")


class RemoteState:
    """The state half of RemoteStore."""

    def snapshot(self, fresh: bool = False) -> Snapshot:
        """The KB version, its last modification and the KB's graphs (the registry), in ONE request: a write
        changes them in one update request, so they are read together too. The state read last when that
        read was sent less than `state_ttl` seconds ago, unless `fresh` (see `_recent`)."""
        if not fresh:
            recent = self._recent()
            if recent is not None:
                return recent
        return self._state_of(self._start_snapshot())

    def _state_of(self, pending: Pending) -> Snapshot:
        """The state a started state read answers, kept as the newest read when it is (`_noted`)."""
        return self._noted(self._snapshot_of(self._finish(pending)), pending.sent)

    def _recent(self) -> Snapshot | None:
        """The state last read, when its read was sent less than `state_ttl` seconds ago; else None.

        Why an app server may answer with a state it read up to `state_ttl` ago and still show every write
        at once: a write through thb-kb returns only `state_ttl` + `COMMIT_MARGIN` seconds after the store
        committed it (`_committed`). A request that reaches an app server after that uses a state read sent
        less than `state_ttl` before it arrived, so sent after the commit: it sees the write, and its query
        goes with the graphs of that state. An answer given meanwhile is of a write that has not returned
        yet, whichever state it shows (and its label is of the state before: never an older answer under a
        newer state's name). Writes made by other means than thb-kb are seen within `state_ttl`."""
        read = self._seen_read
        if read is not None and time.monotonic() - read[1] < self.state_ttl:
            return read[0]
        return None

    def _noted(self, snap: Snapshot, sent: float) -> Snapshot:
        """Keep `snap`, read by a request sent at `sent`, as the newest state read (unless a later one is)."""
        with self._seen_lock:
            if self._seen_read is None or sent >= self._seen_read[1]:
                self._seen_read = (snap, sent)
        return snap

    def _committed(self) -> None:
        """A write became visible: this process reads the state again, and the write returns only when no
        app server can still answer with a state read before it (`_recent`)."""
        with self._seen_lock:
            self._seen_read = None
        if self.state_ttl > 0:
            time.sleep(self.state_ttl + COMMIT_MARGIN)

    def _state_patterns(self) -> str:
        """The patterns of the KB's state: ?v ?m the version and its time, ?g each registered graph."""
        return (f"{{ GRAPH <{self.iris.meta_graph}> {{ <{self.iris.dataset}> <{VERSION.value}> ?v ; "
                f"<{MODIFIED.value}> ?m }} }} UNION {{ GRAPH <{self.registry}> {{ ?g <{RDF_TYPE}> <{NAMED_GRAPH}> }} }}")

    def _start_snapshot(self) -> Pending:
        if self._snapshot_request is None:  # always the same request: described by SPARQLWrapper once
            sw = self._wrapper(f"SELECT ?v ?m ?g WHERE {{ {self._state_patterns()} }}", update=False)
            sw.setReturnFormat(JSON)
            self._snapshot_request = self._request(sw, "application/sparql-results+json",
                                                   _dataset_params(([self._empty], [self.iris.meta_graph, self.registry])))
        return self._start_request(*self._snapshot_request, update=False, timeout=None)

    def _snapshot_and_meta_vocabulary(self) -> Snapshot:
        """`snapshot`, and in the same request the predicates and classes of the metadata graph (kept with
        the state they were read at: `_meta_vocabulary`)."""
        meta = self.iris.meta_graph
        q = (f"SELECT ?v ?m ?g ?p ?t WHERE {{ {self._state_patterns()} "
             f"UNION {{ SELECT DISTINCT ?p WHERE {{ GRAPH <{meta}> {{ ?s ?p ?o }} }} }} "
             f"UNION {{ SELECT DISTINCT ?t WHERE {{ GRAPH <{meta}> {{ ?s <{RDF_TYPE}> ?t }} }} }} }}")
        sent = time.monotonic()
        rows = list(self._select(q, ([self._empty], [meta, self.registry])))
        snap = self._noted(self._snapshot_from(rows), sent)
        predicates = frozenset(r["p"].value for r in rows if r["p"] is not None)
        types = frozenset(r["t"].value for r in rows if r["t"] is not None)
        self._meta_vocabulary = (snap.state, predicates, types)
        return snap

    def _without_meta(self, reads, guess: Snapshot) -> bool:
        """True when a query that reads `reads` (kb.store.query_reads), sent at KB state `guess`, cannot match
        any triple of the metadata graph, so that the graph can be left out of its dataset (Virtuoso plans a
        dataset of fewer graphs better)."""
        vocabulary = self._meta_vocabulary
        if self.iris.meta_graph not in guess.graphs or vocabulary is None or vocabulary[0] != guess.state:
            return False
        return untouched(reads, vocabulary[1], vocabulary[2])

    def _snapshot_of(self, resp) -> Snapshot:
        """The state in a state read's answer. The same bytes as the last answer mean the same state (the
        usual case: a state read goes with every query), which is then not parsed again."""
        last = self._last_state_answer
        if last is not None and last[0] == resp.content:
            self._seen = last[1]
            return last[1]
        snap = self._snapshot_from(_parse_results(resp, self.url))
        self._last_state_answer = (resp.content, snap)
        return snap

    def _snapshot_from(self, rows) -> Snapshot:
        """The state in the rows of a state read (?v ?m: the version; ?g: a registered graph)."""
        versions, graphs = [], []
        for row in rows:
            if row["g"] is not None:
                graphs.append(row["g"].value)
            elif row["v"] is not None and row["m"] is not None:
                versions.append((row["v"].value, row["m"].value))
        if versions:
            version, modified = min(versions)  # one, unless two writers raced: then the same one for every reader
            snap = Snapshot.of(version, _datetime(modified), sorted(graphs))
        else:
            snap = Snapshot.of("empty", dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc), sorted(graphs))
        self._seen = snap
        return snap

    @property
    def seen_state(self) -> str | None:
        """The KB state (`Snapshot.state`) this process read last: a guess only (the endpoint checks it
        before it trusts an answer cached under it)."""
        seen = self._seen
        return seen.state if seen is not None else None

    def _kb_graphs(self) -> list[str]:
        return self.snapshot().graphs
