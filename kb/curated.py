"""The curated knowledge base: which files become which named graphs, and building the store from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyoxigraph as ox
from rdflib import Graph

from . import paths, rdfio
from .namespaces import Iris
from .store import Store


@dataclass(frozen=True)
class Source:
    graph: str
    files: tuple[Path, ...]


def sources(iris: Iris) -> list[Source]:
    """ontology/*.ttl -> graph/ontology; shapes/*.ttl -> graph/shapes; kb/data/NAME.ttl -> graph/NAME."""
    out = [Source(iris.graph("ontology"), tuple(paths.ontology_files())),
           Source(iris.graph("shapes"), tuple(paths.shape_files()))]
    out += [Source(iris.graph(f.stem), (f,)) for f in paths.data_files()]
    return out


def read_sources(iris: Iris) -> dict[str, list[ox.Triple]]:
    graphs: dict[str, list[ox.Triple]] = {}
    for src in sources(iris):
        triples: list[ox.Triple] = []
        for f in src.files:
            triples.extend(q.triple for q in rdfio.read_file(f))
        graphs[src.graph] = triples
    return graphs


def data_graph(iris: Iris) -> Graph:
    """kb/data as one rdflib graph (what `kb validate kb/data` checks)."""
    g = Graph()
    for f in paths.data_files():
        rdfio.triples_to_graph(rdfio.read_file(f), g)
    return g


def build(store: Store, *, progress: Callable[[str], None] = lambda msg: None, validate: bool = True):
    """Rebuild the store from the ontology, the shapes and kb/data: validated first, then one atomic write."""
    from .validation import validate as shacl_validate

    iris = store.iris
    graphs = read_sources(iris)
    progress(f"read {sum(map(len, graphs.values()))} triples from {len(graphs)} sources")
    if validate:
        data = Graph()
        for src in sources(iris):
            if src.graph not in (iris.graph("ontology"), iris.graph("shapes")):
                rdfio.triples_to_graph(graphs[src.graph], data)
        report = shacl_validate(data)
        progress(f"validated: {report.count('violation')} violation(s), {report.count('warning')} warning(s)")
        if report.fails("violation"):
            return report
    quads = [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(g)) for g, ts in graphs.items() for t in ts]
    store.apply(drop=store.graphs(), insert=quads)
    progress(f"stored {len(quads)} triples in {len(graphs)} graphs")
    return None
