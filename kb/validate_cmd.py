"""`kb validate`: contributed RDF against the trusted shapes, with the knowledge base as context.

What it does, in order:
1. Inputs: files, folders (recursive; hidden folders skipped; by extension .ttl .turtle .nt .nq .trig .jsonld
   .rdf .owl — .json and .xml only when named explicitly), `-` for standard input, or with `--changed-since`
   the RDF files git says changed since a ref. Each is read and parsed on its own: a file that cannot be read,
   is binary, empty, holds no triples or does not parse becomes a finding of its own, and never hides the
   others' results.
2. Context, fetched only as needed: the IRIs the contributed data references but does not describe are
   looked up, in one SPARQL query with VALUES, for their types and labels (rdf:type, rdfs:label,
   skos:prefLabel, dct:title, schema:name, skos:inScheme), in the curated KB shipped with the package
   (default), in a store folder or SPARQL endpoint (`--against`), plus the RDF files named with `--context`
   and, with `--changed-since`, the repository's unchanged RDF files. Files being validated are never their own context, so
   `kb validate kb/data` counts nothing twice.
3. SHACL: pySHACL with the shapes in shapes/ only, over an in-memory Oxigraph store holding data + context +
   ontology (pySHACL's Oxigraph backend runs the SPARQL-based constraints ~7x faster than over rdflib).
   Results about context nodes are dropped: the contributed data is what is judged.
4. One RDF report (kb.reports), with file and line for each finding, rendered as text, turtle, json, junit,
   github or sarif.

Exit codes (pySHACL's, plus ROBOT's --fail-on): 0 passed; 1 findings at or above --fail-on, or an input that
is not readable RDF; 2 could not run (bad arguments, missing path, missing shapes, unreachable --against,
git failure). Heavy imports (rdflib, pyoxigraph, pySHACL) happen here, never in kb.cli.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
import pyoxigraph as ox

from . import paths as kb_paths
from . import rdfio

FOLDER_SUFFIXES = (".ttl", ".turtle", ".nt", ".nq", ".trig", ".jsonld", ".rdf", ".owl")
SKIP_DIRS = {"node_modules", "__pycache__", "venv"}
CONTEXT_PREDICATES = (
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type",
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://purl.org/dc/terms/title",
    "https://schema.org/name",
    "http://www.w3.org/2004/02/skos/core#inScheme",
)
RDF_TYPE = ox.NamedNode(CONTEXT_PREDICATES[0])
REMOTE_CHUNK = 1000


class CannotRun(Exception):
    """The command cannot run at all (exit 2)."""


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


@dataclass
class Input:
    display: str
    path: Path | None  # None: standard input
    fmt: rdfio.RdfFormatInfo | None = None
    data: bytes = b""
    quads: list = field(default_factory=list)
    problem: str | None = None
    line: int | None = None
    column: int | None = None
    _locator: object = None

    def locator(self):
        from .reports.locate import Locator

        if self._locator is None:
            self._locator = Locator(self.data.decode("utf-8", errors="replace"), self.fmt.name if self.fmt else "")
        return self._locator


# --- inputs -----------------------------------------------------------------------------------------------

def walk(folder: Path) -> list[Path]:
    """RDF files under `folder`, recursively, skipping hidden and tool folders."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        found += [Path(root) / f for f in sorted(files) if f.lower().endswith(FOLDER_SUFFIXES) and not f.startswith(".")]
    return found


def _display(path: Path) -> str:
    return os.path.normpath(str(path))


def collect(paths: list[str], input_format: rdfio.RdfFormatInfo | None) -> list[Input]:
    inputs: list[Input] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key in seen:
            return
        seen.add(key)
        inp = Input(_display(path), path)
        try:
            inp.fmt = rdfio.format_for(filename=path.name)
        except ValueError as exc:
            inp.fmt = input_format
            if inp.fmt is None:
                inp.problem = f"{exc}; name the format with --input-format"
        inputs.append(inp)

    for p in paths:
        if p == "-":
            inputs.append(Input("<stdin>", None, fmt=input_format or rdfio.format_for("turtle")))
            continue
        path = Path(p)
        if path.is_dir():
            for f in walk(path):
                add(f)
        elif path.exists() or path.is_symlink():
            add(path)
        else:
            raise CannotRun(f"no such file or folder: {p}")
    return inputs


def read(inp: Input, index: int) -> None:
    """Read and parse one input; on failure set `problem` (and line/column) instead of raising."""
    if inp.problem:
        return
    try:
        inp.data = sys.stdin.buffer.read() if inp.path is None else inp.path.read_bytes()
    except OSError as exc:
        inp.problem = f"cannot be read: {exc.strerror or exc}"
        return
    fmt = inp.fmt
    if inp.data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark (Windows editors): not part of the RDF
        inp.data = inp.data[3:]
    if not inp.data.strip():
        inp.problem = "is empty: it holds no RDF" if not inp.data else "holds only whitespace, no RDF"
        return
    nul = inp.data.find(b"\x00", 0, 65536)
    if nul >= 0:
        inp.problem = f"is a binary file, not {fmt.name} (NUL byte at offset {nul})"
        return
    if fmt.name != "rdfxml":
        try:
            inp.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            inp.line = inp.data.count(b"\n", 0, exc.start) + 1
            inp.problem = (f"is not UTF-8 text (byte 0x{inp.data[exc.start]:02x} at offset {exc.start}): "
                           f"binary, or saved in another encoding; {fmt.name} must be UTF-8")
            return
    try:
        quads = rdfio.parse_quads(inp.data, fmt)
    except rdfio.ParseError as exc:
        inp.problem = f"does not parse as {fmt.name}: {exc.message}"
        inp.line, inp.column = exc.line, exc.column
        return
    if not quads:
        inp.problem = f"holds no RDF triples (parsed as {fmt.name})"
        return
    inp.quads = [_rename(q, index) for q in quads]


def _rename(q: ox.Quad, index: int) -> ox.Quad:
    """Blank node labels are local to a file: make them unique per input before merging."""
    s, o = q.subject, q.object
    if isinstance(s, ox.BlankNode):
        s = ox.BlankNode(f"k{index}_{s.value}")
    if isinstance(o, ox.BlankNode):
        o = ox.BlankNode(f"k{index}_{o.value}")
    return ox.Quad(s, q.predicate, o)


def _git(args: list[str], cwd: str | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise CannotRun("--changed-since needs git, which is not installed") from None
    if done.returncode != 0:
        raise CannotRun(f"git {' '.join(args[:2])} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def changed_files(ref: str, paths: list[str]) -> tuple[list[Path], list[Path]]:
    """(RDF files changed since `ref` — or untracked — under `paths`; the other RDF files there)."""
    top = Path(_git(["rev-parse", "--show-toplevel"]).strip())
    try:
        base = _git(["merge-base", ref, "HEAD"]).strip()
    except CannotRun:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"])
        base = ref
    cwd = Path.cwd()
    diff = _git(["diff", "--name-only", "-z", "--diff-filter=d", base, "--", *paths]).split("\0")
    new = _git(["ls-files", "--others", "--exclude-standard", "-z", "--", *paths]).split("\0")
    changed = {(top / n).resolve() for n in diff if n} | {(cwd / n).resolve() for n in new if n}
    changed = {p for p in changed if p.name.lower().endswith(FOLDER_SUFFIXES) and p.is_file()}
    everything = []
    for p in paths:
        path = Path(p)
        everything += walk(path) if path.is_dir() else ([path] if path.is_file() else [])
    rel = [Path(os.path.relpath(p, cwd)) for p in sorted(changed)]
    context = [p for p in everything if p.resolve() not in changed]
    return rel, context


# --- context ----------------------------------------------------------------------------------------------

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


def _load_files(files: list[Path], store: ox.Store) -> None:
    for f in files:
        try:
            store.extend([ox.Quad(q.subject, q.predicate, q.object) for q in rdfio.read_file(f)
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
        scratch = ox.Store()
        _load_files(files, scratch)
        rows += _local_rows(scratch, iris)
    return rows


# --- running ----------------------------------------------------------------------------------------------

class _SetList(list):
    """A list whose `in` is a set lookup (and whose copies are too)."""

    def __init__(self, items=()):
        super().__init__(items)
        self._members = set(self)

    def __contains__(self, item) -> bool:
        return item in self._members

    def copy(self) -> "_SetList":
        return _SetList(self)

    def append(self, item) -> None:
        super().append(item)
        self._members.add(item)


def _speed_up_pyshacl() -> None:
    """Three measured hot spots of pySHACL 0.40 over an Oxigraph data graph, fixed without changing results
    (tests/validate/test_validate_same_results.py compares with pySHACL over rdflib):

    - it evaluates `datagraph or shapes_graph` for every result it describes (also the discarded ones inside
      sh:or/sh:node), and the truth value of its Oxigraph-backed graph is `len()`, a COUNT over the whole
      store: quadratic, 40 s for 10,000 triples. A data graph we pass is never empty: its truth value is True.
    - it re-checks the text of a SPARQL constraint with nine regular expressions for every focus node (a fifth
      of the run for 10,000 triples); the check depends only on the text and the pre-bound variables, so a
      passed check is remembered.
    - for every shape evaluation (once per value node for nested shapes) it tests each predicate of the shape
      for membership in a list of ~40 constraint parameters; the list becomes one with a set for `in`.
    """
    from pyshacl import graph_abstraction as ga
    from pyshacl import shape as shape_mod
    from pyshacl.helper import sparql_query_helper as sqh

    try:
        from pyshacl.constraints import ALL_CONSTRAINT_PARAMETERS, CONSTRAINT_PARAMETERS_MAP
    except ImportError:  # another pySHACL layout: leave it as it is
        ALL_CONSTRAINT_PARAMETERS = None
    if ALL_CONSTRAINT_PARAMETERS is not None and getattr(shape_mod, "CONSTRAINT_PARAMS", None) is None:
        shape_mod.CONSTRAINT_PARAMS = (_SetList(ALL_CONSTRAINT_PARAMETERS), CONSTRAINT_PARAMETERS_MAP)

    cls = getattr(ga, "OxigraphDataGraph", None)
    if cls is not None and "__bool__" not in cls.__dict__:
        cls.__bool__ = lambda self: True
    helper = getattr(sqh, "SPARQLQueryHelper", None)
    check = getattr(helper, "check_invalid_sparql", None)
    if check is not None and not getattr(check, "_kb_memo", False):
        passed: set = set()

        def memo(self, sparql_text, valuenode=None, extravars=None):
            key = (sparql_text, valuenode is not None, frozenset(extravars or ()))
            if key not in passed:
                check(self, sparql_text, valuenode=valuenode, extravars=extravars)
                passed.add(key)
            return True

        memo._kb_memo = True
        helper.check_invalid_sparql = memo


def _shacl(store: ox.Store, shapes):
    import pyshacl

    _speed_up_pyshacl()

    _, report, _ = pyshacl.validate(store, shacl_graph=shapes, ont_graph=None, inference="none", advanced=True,
                                    inplace=True, allow_warnings=False, allow_infos=False, meta_shacl=False,
                                    js=False, do_owl_imports=False)
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
        read(inp, i)

    # where every node of the data comes from, for the filter and for file/line
    subject_of: dict = {}
    parent_of: dict = {}
    for i, inp in enumerate(inputs):
        for q in inp.quads:
            subject_of.setdefault(q.subject, i)
            if not isinstance(q.object, ox.Literal):
                parent_of.setdefault(q.object, (q.subject, q.predicate, i))
    data_quads = [q for inp in inputs for q in inp.quads]
    referenced = sorted({o.value for o, (_, p, _) in parent_of.items()
                         if isinstance(o, ox.NamedNode) and o not in subject_of and p != RDF_TYPE})
    validated = {inp.path.resolve() for inp in inputs if inp.path is not None}
    context = fetch_context(opts, referenced, validated, extra_context)
    context_subjects = {q.subject for q in context}
    ontology_subjects = {q.subject for q in ontology}

    store = ox.Store()
    store.extend(data_quads)
    store.extend(context)
    store.extend(ontology)
    try:
        shacl_report = _shacl(store, shapes) if data_quads else None
    except Exception as exc:  # pySHACL's ReportableRuntimeError and friends: the shapes cannot be applied
        raise CannotRun(f"SHACL validation could not run: {exc}") from None

    def locate(node, predicate: str | None, depth: int = 0, value=None) -> tuple[str | None, int | None]:
        if node in subject_of:
            inp = inputs[subject_of[node]]
            blank = isinstance(node, ox.BlankNode)
            label = node.value.split("_", 1)[1] if blank else node.value
            generated = blank and len(label) == 32 and all(c in "0123456789abcdef" for c in label)
            line = None if generated else inp.locator().line(label, predicate, blank=blank)
            if line is None and generated and node not in parent_of and predicate and value is not None:
                line = inp.locator().value_line(predicate, str(value), literal=isinstance(value, Literal))
            if line is not None or node not in parent_of or depth > 5:
                return inp.display, line
        if node in parent_of:
            s, p, i = parent_of[node]
            file, line = locate(s, p.value, depth + 1)
            return file or inputs[i].display, line
        return None, None

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
            described = node in subject_of
            mentioned = described or node in parent_of
            if not described and (not mentioned or node in context_subjects or node in ontology_subjects):
                continue  # about the KB or the ontology, not about the contributed data
            path = shacl_report.value(result, SH.resultPath)
            file, line = locate(node, str(path) if isinstance(path, URIRef) else None,
                                value=shacl_report.value(result, SH.value))
            builder.copy_result(shacl_report, result, file=file, line=line)
    if opts.qc:
        _quality(builder, data_quads, locate)

    report = view(builder.finish())
    text = render(report, fmt)
    _write(opts.output, text)
    for extra_path, extra_fmt in ((opts.sarif, "sarif"), (opts.junit, "junit")):
        if extra_path:
            _write(extra_path, render(report, extra_fmt))
    if opts.output:
        click.echo(report.summary(), err=True)
    return 0 if report.passed else 1


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
