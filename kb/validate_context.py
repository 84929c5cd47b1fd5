"""`kb validate`'s context: what the knowledge base knows about the IRIs the contributed data references.

Fetched only as needed: the IRIs the data references but does not describe are looked up, in one SPARQL
query with VALUES, for their types and labels (rdf:type, rdfs:label, skos:prefLabel, dct:title, schema:name,
skos:inScheme), in the curated KB shipped with the package (default), in a store folder or SPARQL endpoint
(`--against`), plus the RDF files named with `--context` and, with `--changed-since`, the repository's
unchanged RDF files. Files being validated are never their own context, so `kb validate kb/data` counts
nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import pyoxigraph as ox

from . import paths as kb_paths
from . import rdfio
from .validate_inputs import CannotRun

if TYPE_CHECKING:
    from .validate_cmd import Options

CONTEXT_PREDICATES = (
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://purl.org/dc/terms/title",
    "https://schema.org/name",
    "http://www.w3.org/2004/02/skos/core#inScheme",
)
REMOTE_CHUNK = 1000


def _values_query(iris: list[str]) -> str:
    values = " ".join(f"<{i}>" for i in iris)
    preds = ", ".join(f"<{p}>" for p in CONTEXT_PREDICATES)
    return f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {values} }} ?s ?p ?o . FILTER (?p IN ({preds})) }}"


def _local_rows(store, iris: list[str]) -> list[ox.Quad]:
    if not iris:
        return []
    return [ox.Quad(r["s"], r["p"], r["o"]) for r in store.query(_values_query(iris), use_default_graph_as_union=True)]


def _remote_term(b: dict):
    kind, value = b.get("type"), b.get("value", "")
    if kind == "uri":
        return ox.NamedNode(value)
    if kind in ("literal", "typed-literal"):
        if "xml:lang" in b:
            return ox.Literal(value, language=b["xml:lang"])
        if "datatype" in b:
            return ox.Literal(value, datatype=ox.NamedNode(b["datatype"]))
        return ox.Literal(value)
    return None


def _remote_rows(url: str, iris: list[str], timeout: float) -> list[ox.Quad]:
    from SPARQLWrapper import JSON, POST, SPARQLWrapper

    rows = []
    for i in range(0, len(iris), REMOTE_CHUNK):
        client = SPARQLWrapper(url)
        client.setMethod(POST)
        client.setReturnFormat(JSON)
        client.setTimeout(int(max(1, timeout)))
        client.setQuery(_values_query(iris[i:i + REMOTE_CHUNK]))
        try:
            doc = client.queryAndConvert()
        except Exception as exc:  # SPARQLWrapper raises urllib, socket and its own errors
            reason = getattr(exc, "reason", None) or exc
            raise CannotRun(f"cannot query the SPARQL endpoint {url} given with --against: {reason}") from None
        if not isinstance(doc, dict) or "results" not in doc:
            raise CannotRun(f"the SPARQL endpoint {url} did not answer with SPARQL JSON results")
        for b in doc["results"].get("bindings", []):
            terms = [_remote_term(b.get(v, {})) for v in ("s", "p", "o")]
            if None not in terms:
                rows.append(ox.Quad(*terms))
    return rows


def _load_files(files: list[Path], store: ox.Store, contexts=None) -> None:
    for f in files:
        try:
            store.extend([ox.Quad(q.subject, q.predicate, q.object) for q in rdfio.read_file(f, contexts=contexts)
                          if not isinstance(q.subject, ox.BlankNode)])
        except (rdfio.ParseError, ValueError, OSError) as exc:
            click.echo(f"note: context file {f} skipped: {exc}", err=True)


def fetch_context(opts: Options, iris: list[str], validated: set[Path], extra: list[Path]) -> list[ox.Quad]:
    """Types and labels of `iris` from the KB (curated, or --against), plus the repository's other files."""
    rows: list[ox.Quad] = []
    files = [p for p in extra if p.resolve() not in validated]
    against = opts.against
    if against and against.startswith("sparql+"):
        against = against[len("sparql+"):]
    if against and against.startswith(("http://", "https://")):
        rows += _remote_rows(against, iris, opts.timeout)
    elif against:
        from .namespaces import Iris
        from .store import StoreError
        from .store.oxigraph import OxigraphStore

        if not Path(against).is_dir():
            raise CannotRun(f"--against {against}: no such store folder (or give an http(s):// SPARQL endpoint)")
        try:
            st = OxigraphStore(Iris(opts.base_iri), against, read_only=True)
        except StoreError as exc:
            raise CannotRun(f"--against {against}: {exc}") from None
        rows += _local_rows(st.raw, iris)
    else:
        files += [p for p in kb_paths.data_files() if p.resolve() not in validated]
    if files and iris:
        from .jsonld_contexts import library

        scratch = ox.Store()
        _load_files(files, scratch, library(opts.base_iri, opts.jsonld_contexts))
        rows += _local_rows(scratch, iris)
    return rows
