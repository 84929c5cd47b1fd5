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
    """shapes/*.ttl (not the examples)."""
    return load(*sorted(SHAPES_DIR.glob("*.ttl")))


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
    g = Graph()
    g += data
    g += ontology_graph()
    shapes = shapes_graph()
    _, report, _ = pyshacl.validate(g, shacl_graph=shapes, inference="none", advanced=True,
                                    allow_warnings=False, allow_infos=False, meta_shacl=False)
    out = []
    for r in report.objects(None, SH.result):  # top-level results only, not their sh:detail
        out.append(Result(
            focus=report.value(r, SH.focusNode),
            shape=node_shape_of(report.value(r, SH.sourceShape), shapes),
            path=report.value(r, SH.resultPath),
            severity=report.value(r, SH.resultSeverity),
            message=str(report.value(r, SH.resultMessage)),
        ))
    return out


@pytest.fixture(scope="session")
def kb() -> Graph:
    """The curated KB plus the ontology (what a SPARQL reader of the store sees)."""
    g = Graph()
    g += data_graph()
    g += ontology_graph()
    return g
