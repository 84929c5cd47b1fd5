"""Helpers for the domain tests: the ontology, the shapes and the curated KB as rdflib graphs, and SHACL
validation the way the import path does it (ontology + concepts added to the data graph, trusted shapes,
no inference, SHACL-AF on because the shapes use SPARQL targets and constraints)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pyshacl
import pytest
from rdflib import Graph
from rdflib.namespace import RDF, SH
from rdflib.term import Node

ROOT = Path(__file__).resolve().parents[2]
ONTOLOGY_DIR = ROOT / "ontology"
SHAPES_DIR = ROOT / "shapes"
EXAMPLES_DIR = SHAPES_DIR / "examples"
DATA_DIR = ROOT / "kb" / "data"


def load(*files: Path) -> Graph:
    g = Graph()
    for f in files:
        g.parse(f, format="turtle")
    return g


@functools.lru_cache(maxsize=None)
def ontology_graph() -> Graph:
    """ontology/*.ttl: the core, the alignments and the concept schemes."""
    return load(*sorted(ONTOLOGY_DIR.glob("*.ttl")))


@functools.lru_cache(maxsize=None)
def shapes_graph() -> Graph:
    """shapes/*.ttl (not the examples), exactly as the package's validator loads them."""
    from kb.validation import shapes_graph as trusted_shapes

    return trusted_shapes()


@functools.lru_cache(maxsize=None)
def data_graph() -> Graph:
    return load(*sorted(DATA_DIR.glob("*.ttl")))


@dataclass(frozen=True)
class Result:
    focus: Node
    shape: Node  # the node shape: the source shape itself, or the node shape holding it as sh:property
    path: Node | None
    severity: Node
    message: str


def node_shape_of(shape: Node, shapes: Graph) -> Node:
    parent = next(iter(shapes.subjects(SH.property, shape)), None)
    return shape if parent is None else parent


def validate(data: Graph) -> list[Result]:
    """Validate with the package's own validator (kb.validation: trusted shapes, ontology as context)."""
    from kb.validation import SEVERITY_NAMES, validate as kb_validate

    names = {v: k for k, v in SEVERITY_NAMES.items()}
    shapes = shapes_graph()
    report = kb_validate(data)
    return [Result(focus=r.focus, shape=node_shape_of(r.shape, shapes), path=r.path,
                   severity=names[r.severity], message=r.message) for r in report.results]


def kb_graph() -> Graph:
    """The curated KB plus the ontology (what a SPARQL reader of the store sees)."""
    g = Graph()
    g += data_graph()
    g += ontology_graph()
    return g
