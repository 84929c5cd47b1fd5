"""A bounded LRU cache of SPARQL responses, keyed by (normalised query, dataset, format, row cap, store
version). Any write changes the store version, so a write invalidates every entry at once (old entries are
never asked for again and fall out of the LRU).

Normalisation is deliberately conservative: surrounding white space and line-ending style only (anything
more would have to know where string literals are). Only successful answers are kept, and only those up to
MAX_ENTRY_BYTES.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Hashable

from .streaming import BUFFER_BYTES

MAX_ENTRIES = 1024
MAX_BYTES = 64 * 1024 * 1024
MAX_ENTRY_BYTES = BUFFER_BYTES  # bigger answers are streamed, never kept


def normalise(query: str) -> str:
    return query.replace("\r\n", "\n").strip()


class LRU:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES, sizeof=lambda v: 1):
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self.max_entries, self.max_bytes, self._sizeof = max_entries, max_bytes, sizeof
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            try:
                value = self._data.pop(key)
            except KeyError:
                self.misses += 1
                return None
            self._data[key] = value
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        size = self._sizeof(value)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= self._sizeof(old)
            self._data[key] = value
            self._bytes += size
            while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._data.popitem(last=False)
                self._bytes -= self._sizeof(dropped)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._data)


class ResponseCache:
    """Responses (execution.Outcome) and the kind of each query (to negotiate before running it)."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.responses = LRU(max_bytes=max_bytes, sizeof=lambda outcome: len(outcome.body) + 512)
        self.kinds = LRU(max_entries=4096)

    def key(self, query: str, job, fmt: str, version: str) -> tuple:
        return (normalise(query), tuple(job.default_graphs or ()) if job.default_graphs is not None else None,
                tuple(job.named_graphs) if job.named_graphs is not None else None, job.union_default_graph,
                job.max_rows, fmt, version)

    def store(self, key: tuple, outcome) -> None:
        if outcome.status == 200 and outcome.stream is None and len(outcome.body) <= MAX_ENTRY_BYTES:
            self.responses.put(key, outcome)
