"""Per-client rate limit of the SPARQL endpoint (`KB_RATE_LIMIT` requests per minute; 0 disables).

A token bucket per client address: it holds up to N tokens and refills at N per minute; a request takes one
token, and a request that ends in a client error (syntax error, refused query) takes ERROR_COST more, so a
client sending mostly bad queries is slowed down sooner (WDQS does the same with its error budget): with the
default 120 a minute, forty bad queries in a minute use up the budget. An empty bucket gets 429 with
`Retry-After` (seconds until a token is back). Other clients are not affected.
"""

from __future__ import annotations

import math
import threading
import time

ERROR_COST = 3
MAX_CLIENTS = 100_000


class RateLimiter:
    def __init__(self, per_minute: int):
        self.per_minute = int(per_minute)
        self.rate = self.per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last time)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def _refill(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - last) * self.rate)

    def take(self, client: str, cost: float = 1.0) -> int:
        """0 when the request may go ahead, else the seconds to wait (Retry-After)."""
        if not self.enabled:
            return 0
        now = time.monotonic()
        with self._lock:
            tokens = self._refill(client, now)
            if tokens < cost:
                self._buckets[client] = (tokens, now)
                return max(1, math.ceil((cost - tokens) / self.rate))
            self._buckets[client] = (tokens - cost, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._prune(now)
        return 0

    def charge_error(self, client: str) -> None:
        """A request that ended in a client error costs more."""
        if not self.enabled:
            return
        now = time.monotonic()
        with self._lock:
            tokens = self._refill(client, now)
            self._buckets[client] = (tokens - ERROR_COST, now)

    def _prune(self, now: float) -> None:
        full = [c for c, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.per_minute]
        for c in full:
            del self._buckets[c]
