"""Counts that the CLI, the home page and VoID share."""

from __future__ import annotations

from .namespaces import THB
from .store import Store

CLASSES = ("Action", "Programme", "Convention", "Agency", "Event", "Report", "SourceDocument")


def class_counts(store: Store) -> dict[str, int]:
    values = " ".join(f"<{THB[c]}>" for c in CLASSES)
    q = (f"SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE {{ VALUES ?c {{ {values} }} ?s a ?c }} GROUP BY ?c")
    counts = {c: 0 for c in CLASSES}
    for row in store.query(q):
        counts[row["c"].value.rsplit("#", 1)[-1]] = int(row["n"].value)
    return counts


def kb_stats(store: Store) -> dict:
    return {
        "version": store.version(),
        "last_modified": store.last_modified().isoformat(),
        "triples": store.count(),
        "graphs": len(store.graphs()),
        "classes": class_counts(store),
    }
