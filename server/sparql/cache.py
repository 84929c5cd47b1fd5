"""A bounded LRU cache of SPARQL responses, keyed by (normalised query, dataset, format, row cap, store
version). Any write changes the store version, so a write invalidates every entry at once (old entries are
never asked for again and fall out of the LRU).

Normalisation is deliberately conservative: surrounding white space and line-ending style only (anything
more would have to know where string literals are). Only successful answers are kept, and only those up to
MAX_ENTRY_BYTES.
"""

from __future__ import annotations

from ..lru import LRU
from .streaming import BUFFER_BYTES

MAX_BYTES = 64 * 1024 * 1024
MAX_ENTRY_BYTES = BUFFER_BYTES  # bigger answers are streamed, never kept


def normalise(query: str) -> str:
    return query.replace("\r\n", "\n").strip()


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
