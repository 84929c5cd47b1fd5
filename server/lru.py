"""One bounded, thread-safe LRU for the server's response caches (entity documents, SPARQL answers).

Entries are bounded by count and by their weight in bytes (`sizeof`); cache keys include the KB version,
so a write makes every older entry unreachable and it falls out as new ones arrive.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


class LRU:
    def __init__(self, max_entries: int = 1024, max_bytes: int = 64 * 1024 * 1024,
                 sizeof: Callable[[Any], int] = lambda value: 1):
        self.data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.max_entries, self.max_bytes, self.sizeof = max_entries, max_bytes, sizeof
        self.hits = self.misses = 0

    def get(self, key: Hashable) -> Any:
        with self._lock:
            value = self.data.get(key)
            if value is None:
                self.misses += 1
                return None
            self.data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        size = self.sizeof(value)
        if size > self.max_bytes:  # would evict everything else and still not fit
            return
        with self._lock:
            old = self.data.pop(key, None)
            if old is not None:
                self.bytes -= self.sizeof(old)
            self.data[key] = value
            self.bytes += size
            while len(self.data) > self.max_entries or self.bytes > self.max_bytes:
                _, dropped = self.data.popitem(last=False)
                self.bytes -= self.sizeof(dropped)

    def clear(self) -> None:
        with self._lock:
            self.data.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self.data)
