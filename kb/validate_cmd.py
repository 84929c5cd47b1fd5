"""`kb validate`: contributed RDF against the trusted shapes, with the knowledge base as context.

The pipeline, in order:
1. Inputs (kb.validate_inputs): files, folders, `-` for standard input, or the files changed since a git ref;
   each read and parsed on its own, so that one bad file never hides the others' results.
2. Context (kb.validate_context): types and labels of the IRIs the data references but does not describe,
   from the curated KB shipped with the package, a store folder or SPARQL endpoint (`--against`), and the
   RDF files given as context.
3. SHACL: pySHACL with the shapes in shapes/ only, over an in-memory Oxigraph store holding data + context +
   ontology (pySHACL's Oxigraph backend runs the SPARQL-based constraints ~7x faster than over rdflib; the
   speed-ups of kb.pyshacl_speedups are installed). Results about context nodes are dropped: the contributed
   data is what is judged.
4. One RDF report (kb.reports), with file and line for each finding, rendered as text, turtle, json, junit,
   github or sarif.

Exit codes (pySHACL's, plus ROBOT's --fail-on): 0 passed; 1 findings at or above --fail-on, or an input that
is not readable RDF; 2 could not run (bad arguments, missing path, missing shapes, unreachable --against,
git failure). Heavy imports (rdflib, pyoxigraph, pySHACL) happen here, never in kb.cli.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import pyoxigraph as ox

from . import paths as kb_paths
from . import pyshacl_speedups, rdfio
from .validate_context import fetch_context
from .validate_inputs import FOLDER_SUFFIXES, CannotRun, Origins, changed_files, collect, read, walk


@dataclass
class Options:
    paths: list[str]
    fmt: str | None = None
    output: str | None = None
    sarif: str | None = None
    junit: str | None = None
    fail_on: str = "violation"
    against: str | None = None
    qc: bool = False
    changed_since: str | None = None
    input_format: str | None = None
    timeout: float = 30.0
    base_iri: str = "https://w3id.org/thb-kb/"
    context: list[str] = field(default_factory=list)
    jsonld_contexts: str | None = None  # KB_JSONLD_CONTEXTS: local copies of the JSON-LD contexts inputs may name
    engine: str = "sparql"  # kb.shacl_sparql, or "pyshacl" (the reference; the fallback for unsupported shapes)


def _shacl(store: ox.Store, engine: str = "sparql"):
    from . import shacl_runner

    if shacl_runner.engine_name(engine) == "sparql" and shacl_runner._sparql_model() is not None:
        from . import shacl_sparql

        return shacl_sparql.validate(store, shacl_runner._sparql_model())
    import pyshacl

    pyshacl_speedups.install()
    _, report, _ = pyshacl.validate(store, shacl_graph=pyshacl_speedups.trusted_shapes(), ont_graph=None,
                                    inference="none", advanced=True, inplace=True, allow_warnings=False,
                                    allow_infos=False, meta_shacl=False, js=False, do_owl_imports=False)
    return report


def _report_format(opts: Options) -> str:
    from .reports import FORMATS, format_for_path

    if opts.fmt and opts.fmt not in FORMATS:
        raise CannotRun(f"unknown report format {opts.fmt!r}; known: {', '.join(FORMATS)}")
    if opts.fmt:
        return opts.fmt
    if opts.output:
        fmt = format_for_path(opts.output)
        if fmt is None:
            raise CannotRun(f"cannot tell the report format from {opts.output!r}: give --format, or name it "
                            f".txt, .ttl, .json, .xml (JUnit) or .sarif")
        return fmt
    return "text"


def run(opts: Options) -> int:
    try:
        return _run(opts)
    except CannotRun as exc:
        click.echo(f"Error: {exc}", err=True)
        return 2


def _run(opts: Options) -> int:
    from rdflib import Literal, URIRef
    from rdflib.namespace import SH

    from .reports import render, view
    from .reports.build import ReportBuilder
    from .validation import shapes_graph

    fmt = _report_format(opts)
    if opts.fail_on not in ("violation", "warning", "info"):
        raise CannotRun(f"--fail-on must be violation, warning or info, not {opts.fail_on!r}")
    try:
        input_format = rdfio.format_for(opts.input_format) if opts.input_format else None
    except ValueError as exc:
        raise CannotRun(f"--input-format: {exc}") from None
    try:
        shapes = shapes_graph()
        ontology_files = kb_paths.ontology_files()
        if not ontology_files:
            raise FileNotFoundError(f"no ontology found in {kb_paths.ONTOLOGY_DIR}")
        ontology = [ox.Quad(q.subject, q.predicate, q.object) for f in ontology_files for q in rdfio.read_file(f)]
    except (FileNotFoundError, rdfio.ParseError) as exc:
        raise CannotRun(f"the trusted shapes or ontology cannot be loaded: {exc}") from None

    from .jsonld_contexts import ContextConfigError, library

    try:
        contexts = library(opts.base_iri, opts.jsonld_contexts)
    except ContextConfigError as exc:
        raise CannotRun(str(exc)) from None
    inputs, extra_context = _gather(opts, input_format, contexts)

    origins = Origins(inputs)  # where every node of the data comes from, for the filter and for file/line
    data_quads = [q for inp in inputs for q in inp.quads]
    referenced = origins.referenced()
    validated = {inp.path.resolve() for inp in inputs if inp.path is not None}
    context = fetch_context(opts, referenced, validated, extra_context)
    context_subjects = {q.subject for q in context}
    ontology_subjects = {q.subject for q in ontology}

    store = ox.Store()
    store.extend(data_quads)
    store.extend(context)
    store.extend(ontology)
    try:
        shacl_report = _shacl(store, opts.engine) if data_quads else None
    except Exception as exc:  # pySHACL's ReportableRuntimeError and friends: the shapes cannot be applied
        raise CannotRun(f"SHACL validation could not run: {exc}") from None

    builder = ReportBuilder(opts.fail_on, shapes)
    for inp in inputs:
        builder.add_file(inp.display, inp.fmt.name if inp.fmt else None, len(inp.quads))
        if inp.problem:
            builder.add_problem(inp.display, f"{inp.display} {inp.problem}", line=inp.line, column=inp.column)
    if shacl_report is not None:
        for result in shacl_report.objects(None, SH.result):
            focus = shacl_report.value(result, SH.focusNode)
            if isinstance(focus, Literal):
                builder.copy_result(shacl_report, result, file=None, line=None)
                continue
            node = ox.NamedNode(str(focus)) if isinstance(focus, URIRef) else ox.BlankNode(str(focus))
            described = origins.described(node)
            mentioned = origins.mentioned(node)
            if not described and (not mentioned or node in context_subjects or node in ontology_subjects):
                continue  # about the KB or the ontology, not about the contributed data
            path = shacl_report.value(result, SH.resultPath)
            file, line = origins.locate(node, str(path) if isinstance(path, URIRef) else None,
                                value=shacl_report.value(result, SH.value))
            builder.copy_result(shacl_report, result, file=file, line=line)
    if opts.qc:
        _quality(builder, data_quads, origins.locate)

    report = view(builder.finish())
    text = render(report, fmt)
    _write(opts.output, text)
    for extra_path, extra_fmt in ((opts.sarif, "sarif"), (opts.junit, "junit")):
        if extra_path:
            _write(extra_path, render(report, extra_fmt))
    if opts.output:
        click.echo(report.summary(), err=True)
    return 0 if report.passed else 1


def _gather(opts: Options, input_format, contexts=None) -> tuple[list, list[Path]]:
    """The inputs, each read and parsed, and the extra context files (--context; with --changed-since, the
    unchanged files)."""
    extra_context: list[Path] = []
    for c in opts.context:
        path = Path(c)
        if not path.exists():
            raise CannotRun(f"--context {c}: no such file or folder")
        extra_context += walk(path) if path.is_dir() else [path]
    if opts.changed_since:
        changed, unchanged = changed_files(opts.changed_since, opts.paths or ["."])
        extra_context += unchanged
        inputs = collect([str(p) for p in changed], input_format)
        if not inputs:
            click.echo(f"kb validate: no RDF file changed since {opts.changed_since}.", err=True)
    else:
        inputs = collect(opts.paths, input_format)
        if not inputs:
            raise CannotRun(f"no RDF files ({', '.join(FOLDER_SUFFIXES)}) in {' '.join(opts.paths)}")
    for i, inp in enumerate(inputs):
        read(inp, i, contexts=contexts)
    return inputs, extra_context


def _quality(builder, data_quads: list, locate) -> None:
    """--qc: the ontology quality rules over ontology + shapes + data; each failing rule is one violation."""
    from rdflib import Graph, URIRef

    from .reports.model import KBV, QUALITY
    from .validation import ontology_graph, run_checks, shapes_graph

    g = Graph()
    g += ontology_graph()
    g += shapes_graph()
    rdfio.triples_to_graph(data_quads, g)
    for name, rows in sorted(run_checks(g).items()):
        first = next((v for v in rows[0] if v is not None), None) if rows else None
        examples = "; ".join(", ".join(str(v) for v in row if v is not None) for row in rows[:3])
        file = line = None
        if isinstance(first, URIRef):
            file, line = locate(ox.NamedNode(str(first)), None)
        builder.add_problem(file, f"quality rule {name} fails for {len(rows)} row(s), e.g. {examples}",
                            line=line, component=QUALITY, shape=KBV[f"rule-{Path(name).stem}"], focus=first)


def _write(path: str | None, text: str) -> None:
    if path is None:  # UTF-8 whatever the locale: reports carry names in every language
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.buffer.flush()
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CannotRun(f"cannot write the report to {path}: {exc.strerror or exc}") from None
