"""Deterministic skolemisation: blank nodes become IRIs that are the same every time the same input is
imported into the same graph.

Blank-node labels in a file are arbitrary (and parsers invent fresh ones for `[]`), so the labels are first
made canonical with RDF Dataset Canonicalization (RDFC-1.0, pyoxigraph's `Dataset.canonicalize`). The
skolem IRI of a blank node is then

    {base}.well-known/genid/{sha256(target graph IRI, canonical N-Quads of the input, canonical label)[:32]}

(the RDF 1.1 "/.well-known/genid/" convention). Consequences:
- re-importing the same file (replace or merge) yields the same IRIs: nothing changes, nothing doubles;
- two different files merged into one graph never share a skolem IRI by accident;
- the IRIs fall under `/.well-known/genid/`, which the server dereferences (server/graphs.py).
"""

from __future__ import annotations

import hashlib
from typing import Iterable

import pyoxigraph as ox

GENID_PATH = ".well-known/genid/"


def genid_prefix(base: str) -> str:
    return base + GENID_PATH


def is_skolem(iri: str, base: str) -> bool:
    return iri.startswith(base + GENID_PATH)


def _has_bnode(t) -> bool:
    return isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode)


def skolemize(triples: Iterable[ox.Triple], *, base: str, graph: str) -> tuple[list[ox.Triple], int]:
    """Replace blank nodes by deterministic skolem IRIs. Returns (triples, number of blank nodes)."""
    triples = list(triples)
    if not any(_has_bnode(t) for t in triples):
        return triples, 0
    ds = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples)
    ds.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    canonical = sorted(str(q) for q in ds)
    digest = hashlib.sha256(graph.encode("utf-8") + b"\n")
    for line in canonical:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    seed = digest.hexdigest()
    prefix = genid_prefix(base)
    mapping: dict[str, ox.NamedNode] = {}

    def iri(b: ox.BlankNode) -> ox.NamedNode:
        node = mapping.get(b.value)
        if node is None:
            h = hashlib.sha256(f"{seed}\n{b.value}".encode("utf-8")).hexdigest()[:32]
            node = mapping[b.value] = ox.NamedNode(prefix + h)
        return node

    out = []
    for q in ds:
        s = iri(q.subject) if isinstance(q.subject, ox.BlankNode) else q.subject
        o = iri(q.object) if isinstance(q.object, ox.BlankNode) else q.object
        out.append(ox.Triple(s, q.predicate, o))
    return out, len(mapping)
