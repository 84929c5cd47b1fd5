"""`kb validate`'s inputs: which files it checks, and each one read and parsed on its own.

Files, folders (recursive; hidden folders skipped; by extension .ttl .turtle .nt .nq .trig .jsonld .rdf .owl
— .json and .xml only when named explicitly), `-` for standard input, or with `--changed-since` the RDF files
git says changed since a ref. A file that cannot be read, is binary, empty, holds no triples or does not parse
becomes a finding of its own (`Input.problem`, with line and column where the parser gives them) and never
hides the others' results. `Origins` remembers which file each node of the data comes from, for the file and
line of each finding.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from . import rdfio

FOLDER_SUFFIXES = (".ttl", ".turtle", ".nt", ".nq", ".trig", ".jsonld", ".rdf", ".owl")
SKIP_DIRS = {"node_modules", "__pycache__", "venv"}
RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


class CannotRun(Exception):
    """The command cannot run at all (exit 2)."""


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


def read(inp: Input, index: int, *, contexts=None) -> None:
    """Read and parse one input; on failure set `problem` (and line/column) instead of raising. `contexts`: the
    JSON-LD contexts it may name by IRI (kb.jsonld_contexts; default: thb-kb's own)."""
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
        quads = rdfio.parse_quads(inp.data, fmt, contexts=contexts)
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


class Origins:
    """Where every node of the contributed data comes from: the input that describes it (as a subject), or
    the triple that mentions it (as an object); `locate` turns a node into (file, line) for a finding."""

    def __init__(self, inputs: list[Input]):
        self.inputs = inputs
        self.subject_of: dict = {}
        self.parent_of: dict = {}
        self.also_in: dict = {}  # nodes described in more than one input: the other inputs
        for i, inp in enumerate(inputs):
            for q in inp.quads:
                first = self.subject_of.setdefault(q.subject, i)
                if first != i and i not in self.also_in.setdefault(q.subject, []):
                    self.also_in[q.subject].append(i)
                if not isinstance(q.object, ox.Literal):
                    self.parent_of.setdefault(q.object, (q.subject, q.predicate, i))

    def _input_of(self, node, predicate: str | None, value) -> int:
        """The input that describes `node`: when several do, the one holding the offending triple (node,
        predicate, value), or at least a triple with that predicate; else the first."""
        first = self.subject_of[node]
        if node not in self.also_in or predicate is None:
            return first
        candidates = [first, *self.also_in[node]]
        with_predicate = [i for i in candidates
                          if any(q.subject == node and q.predicate.value == predicate for q in self.inputs[i].quads)]
        if value is not None:
            for i in with_predicate:
                if any(q.subject == node and q.predicate.value == predicate and q.object.value == str(value)
                       for q in self.inputs[i].quads):
                    return i
        return with_predicate[0] if with_predicate else first

    def described(self, node) -> bool:
        return node in self.subject_of

    def mentioned(self, node) -> bool:
        return node in self.subject_of or node in self.parent_of

    def referenced(self) -> list[str]:
        """IRIs the data points at (other than as rdf:type) without describing them: the context to fetch."""
        return sorted({o.value for o, (_, p, _) in self.parent_of.items()
                       if isinstance(o, ox.NamedNode) and o not in self.subject_of and p != RDF_TYPE})

    def locate(self, node, predicate: str | None, depth: int = 0, value=None) -> tuple[str | None, int | None]:
        if node in self.subject_of:
            inp = self.inputs[self._input_of(node, predicate, value)]
            blank = isinstance(node, ox.BlankNode)
            label = node.value.split("_", 1)[1] if blank else node.value
            # a blank node the parser labelled (`[]`: pyoxigraph writes a random hex number, without leading
            # zeros) is not in the text: it is found through its parent, or by its predicate and value
            generated = blank and label.encode("utf-8") not in inp.data
            line = None if generated else inp.locator().line(label, predicate, blank=blank)
            if line is None and generated and node not in self.parent_of and predicate and value is not None:
                from rdflib import Literal

                line = inp.locator().value_line(predicate, str(value), literal=isinstance(value, Literal))
            if line is not None or node not in self.parent_of or depth > 5:
                return inp.display, line
        if node in self.parent_of:
            s, p, i = self.parent_of[node]
            file, line = self.locate(s, p.value, depth + 1)
            return file or self.inputs[i].display, line
        return None, None
