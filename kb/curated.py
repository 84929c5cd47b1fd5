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


def build(store: Store, *, progress: Callable[[str], None] = lambda msg: None, validate: bool = True,
          settings: dict | None = None):
    """Rebuild the store from the ontology, the shapes and kb/data through the import pipeline.

    Every source becomes its named graph (replaced); graphs that are no longer curated are dropped, except
    the metadata graph, which keeps the import history. The whole KB is validated (it is all new), then
    written in one atomic write with its provenance record. Returns the report when the data does not
    conform (the store is left as it was), else None.
    """
    from . import settings as settings_mod
    from .importer import ImportFailed, Importer, Source

    iris = store.iris
    if settings is None:
        # the curated files are trusted and local: validate in-process (no worker process to start)
        settings = settings_mod.load({"base_iri": iris.base, "validation_timeout": 0})
    srcs = sources(iris)
    plan: dict[str, list[ox.Triple]] = {}
    inputs: list[Source] = []
    for src in srcs:
        triples: list[ox.Triple] = []
        for f in src.files:
            inputs.append(Source.from_file(f, name=_public_name(f)))
            triples.extend(q.triple for q in rdfio.read_file(f))
        plan[src.graph] = triples
    progress(f"read {sum(map(len, plan.values()))} triples from {len(plan)} sources")
    keep = set(plan) | {iris.meta_graph}
    drop = [g for g in store.graphs() if g not in keep]
    importer = Importer(store, settings)
    try:
        result = importer.write(plan, mode="replace", drop=drop, agent="curated build (kb load)", sources=inputs,
                                progress=progress, full_validation=True, validate=validate)
    except ImportFailed as exc:
        if exc.report is not None:
            return exc.report
        raise
    progress(f"stored {result.triples} triples in {len(plan)} graphs (+{result.added} -{result.removed})")
    return None


def _public_name(path) -> str:
    """The curated file's name as the repository spells it (kb/data/agencies.ttl), not a local path."""
    for folder, label in ((paths.DATA_DIR, "kb/data"), (paths.ONTOLOGY_DIR, "ontology"), (paths.SHAPES_DIR, "shapes")):
        try:
            return f"{label}/{path.relative_to(folder).as_posix()}"
        except ValueError:
            continue
    return path.name
