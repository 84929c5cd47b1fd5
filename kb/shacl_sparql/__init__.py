"""A set-based SHACL engine: the trusted shapes as SPARQL queries on pyoxigraph, every constraint evaluated
for all focus nodes at once in Oxigraph (pySHACL evaluates them node by node in Python).

    model = load_shapes(shapes_graph)          # raises Unsupported for a feature the engine lacks
    report = validate(store, model, focus)     # rdflib Graph: a sh:ValidationReport like pySHACL's

kb.shacl_sparql.model lists the supported SHACL features; the equality with pySHACL is tested by
tests/validate/test_shacl_sparql_differential.py. kb.shacl_runner uses this engine by default and pySHACL
(engine "pyshacl") as the fallback when the shapes use anything else.
"""

from __future__ import annotations

import os

import pyoxigraph as ox
from rdflib import Graph

from . import report
from .engine import Run
from .model import ShapesModel
from .model import load as load_shapes
from .sparql_text import Unsupported

__all__ = ["ShapesModel", "Unsupported", "load_shapes", "validate"]


THREADS = max(1, min(2, os.cpu_count() or 1))  # shapes evaluated in parallel (the queries release the GIL)


def validate(store: ox.Store, model: ShapesModel, focus: list[str] | None = None, *,
             threads: int | None = None) -> Graph:
    """Validate the default graph of `store` against the shapes of `model`; with `focus` (IRIs), only the
    targets of each shape that are in the list (pySHACL's focus_nodes). The store gains a named graph of
    working sets (<urn:x-kb-shacl:focus>); give it a store of its own."""
    raws = Run(model, store).validate(focus, THREADS if threads is None else threads)
    return report.build(model, store, raws)
