"""The one import pipeline. Every write to the KB goes through it: `kb import`, the Graph Store HTTP
Protocol (server/graphs.py) and the curated build (kb/curated.py).

    size limit -> safe parse (kb.rdfio) -> deterministic skolemisation (kb.skolem)
      -> validation of the change with its KB context against the trusted shapes (kb.batchcheck)
      -> one atomic store write of the data AND its provenance record (kb.provenance) -> new KB version

Anything that fails before the write leaves the store exactly as it was. One writer at a time per store:
a second writer waits up to `lock_timeout` seconds, then gets `WriterBusy` (HTTP 409).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import threading
import weakref
from dataclasses import dataclass, field
from typing import Callable, Sequence

import pyoxigraph as ox

from . import batchcheck, history, jsonld_contexts, provenance, rdfio, skolem
from .batchcheck import Change, ValidationTimeout
from .progress import step
from .store import Store, StoreError
from .import_errors import (ImportFailed, Invalid, ParseFailed, ReservedGraph, StoreFailed,  # noqa: F401
                            TooLarge, UnsupportedFormat, ValidationTimedOut, WriterBusy)
from .validation import Report

MODES = ("replace", "merge")


@dataclass
class Source:
    """One input: its name (file name or 'HTTP PUT body'), the bytes and the RDF format."""

    name: str
    data: bytes
    fmt: rdfio.RdfFormatInfo

    @classmethod
    def from_file(cls, path, fmt: str | None = None, *, max_bytes: int | None = None,
                  name: str | None = None) -> "Source":
        """`name` is what the public provenance record shows (default: the file's name, never its full
        local path)."""
        from pathlib import Path

        p = Path(path)
        try:
            info = rdfio.format_for(fmt) if fmt else rdfio.format_for(filename=p.name)
        except ValueError as exc:
            raise UnsupportedFormat(str(exc), source=str(p)) from None
        try:
            size = p.stat().st_size
            if max_bytes is not None and size > max_bytes:
                raise TooLarge(f"{p} is {size} bytes, over the import limit of {max_bytes} bytes (KB_MAX_IMPORT)",
                               source=str(p))
            return cls(name or p.name, p.read_bytes(), info)
        except OSError as exc:
            raise ImportFailed(f"cannot read {p}: {exc.strerror or exc}", source=str(p)) from None


@dataclass
class Result:
    """What an import did (or, for a dry run, would do)."""

    graphs: list[str]
    mode: str
    added: int
    removed: int
    report: Report | None
    record: str | None = None
    version: str | None = None
    dry_run: bool = False
    created: list[str] = field(default_factory=list)   # target graphs that did not exist before
    triples: int = 0


# --- the writer lock ---------------------------------------------------------------------------------

_locks: "weakref.WeakKeyDictionary[Store, threading.Lock]" = weakref.WeakKeyDictionary()
_locks_guard = threading.Lock()


def writer_lock(store: Store) -> threading.Lock:
    with _locks_guard:
        lock = _locks.get(store)
        if lock is None:
            lock = _locks[store] = threading.Lock()
        return lock


class _Held:
    def __init__(self, store: Store, timeout: float):
        self.lock, self.timeout = writer_lock(store), timeout

    def __enter__(self):
        if not self.lock.acquire(timeout=max(self.timeout, 0)):
            raise WriterBusy(f"another import is writing to the KB; gave up after waiting {self.timeout:g} s "
                             f"(try again later)")
        return self

    def __exit__(self, *exc):
        self.lock.release()


# --- the pipeline ------------------------------------------------------------------------------------

def parse_source(src: Source, *, max_bytes: int | None, base_iri: str | None = None,
                 contexts: "jsonld_contexts.Library | None" = None) -> list[ox.Triple]:
    """Size check and safe parse; graph names in quad formats are ignored (the target graph decides).
    `contexts`: the JSON-LD contexts the source may name by IRI (default: thb-kb's own)."""
    if max_bytes is not None and len(src.data) > max_bytes:
        raise TooLarge(f"{src.name}: {len(src.data)} bytes is over the limit of {max_bytes} bytes", source=src.name)
    try:
        quads = rdfio.parse_quads(src.data, src.fmt, base_iri=base_iri, source=src.name, contexts=contexts)
    except rdfio.ParseError as exc:
        raise ParseFailed(str(exc), source=src.name, line=exc.line, column=exc.column) from None
    except RecursionError:
        raise ParseFailed(f"{src.name}: the input is nested too deeply", source=src.name) from None
    triples = [q.triple for q in quads]
    depth = bnode_depth(triples)
    if depth > MAX_NESTING:
        raise ParseFailed(f"{src.name}: blank nodes nested {depth} levels deep (nested [ ] or ( ) lists); "
                          f"the limit is {MAX_NESTING}", source=src.name)
    return triples


MAX_NESTING = 256
_REST = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#rest")


def bnode_depth(triples: Sequence[ox.Triple]) -> int:
    """The longest chain of nested blank nodes (`[ ]` in `[ ]`, lists in lists) in the input, without
    recursion; the rdf:rest links of one long flat list do not count as nesting."""
    children: dict = {}
    has_parent: set = set()
    for t in triples:
        if isinstance(t.subject, ox.BlankNode) and isinstance(t.object, ox.BlankNode) and t.predicate != _REST:
            children.setdefault(t.subject, []).append(t.object)
            has_parent.add(t.object)
    if not children:
        return 1 if any(isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode)
                        for t in triples) else 0
    best = 0
    done: dict = {}
    roots = [n for n in children if n not in has_parent] or list(children)[:1]
    for root in roots:
        stack = [(root, 1)]
        while stack:
            node, d = stack.pop()
            if done.get(node, 0) >= d or d > MAX_NESTING + 1:
                best = max(best, d)
                continue
            done[node] = d
            best = max(best, d)
            for child in children.get(node, ()):
                stack.append((child, d + 1))
    return best


def _source_info(src: Source) -> provenance.SourceInfo:
    return provenance.SourceInfo(src.name, src.fmt.media_type, hashlib.sha256(src.data).hexdigest(), len(src.data))


def _outcome(report: Report | None) -> str:
    if report is None:
        return "not validated"
    w = report.count("warning")
    return "conforms" + (f" with {w} warning(s)" if w else "")


class Importer:
    """Runs imports into one store with the limits of the settings."""

    def __init__(self, store: Store, settings: dict | None = None, *, lock_timeout: float | None = None):
        from . import settings as settings_mod

        self.store = store
        self.settings = settings if settings is not None else settings_mod.load()
        self.iris = store.iris
        self.lock_timeout = (float(self.settings.get("write_lock_timeout", 30.0))
                             if lock_timeout is None else lock_timeout)
        vt = self.settings.get("validation_timeout")
        self.validation_timeout = float(vt) if vt else None

    # reserved graphs are written only by the curated build
    def reserved(self) -> set[str]:
        return {self.iris.meta_graph, self.iris.graph("ontology"), self.iris.graph("shapes")}

    def default_graph_for(self, name: str) -> str:
        from pathlib import Path

        stem = "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(name).stem.lower()).strip("-.")
        return self.iris.graph(stem or "upload")

    def import_sources(self, sources: Sequence[Source], *, graph: str | None = None, mode: str = "replace",
                       dry_run: bool = False, agent: str | None = None, max_bytes: int | None = None,
                       progress: Callable[[str], None] | None = None, base_iri: str | None = None) -> Result:
        """Import files or bodies into `graph` (all of them), or each into the graph named after it."""
        if mode not in MODES:
            raise ImportFailed(f"unknown mode {mode!r}; use replace or merge")
        max_bytes = self.settings.get("max_import") if max_bytes is None else max_bytes
        plan: dict[str, list[ox.Triple]] = {}
        say = progress or (lambda m: None)
        for i, src in enumerate(sources):
            target = graph or self.default_graph_for(src.name)
            step(say, i, len(sources), "parse", f"parsing {src.name} ({len(src.data)} bytes, {src.fmt.name})")
            triples = parse_source(src, max_bytes=max_bytes, base_iri=base_iri,
                                   contexts=jsonld_contexts.from_settings(self.settings))
            step(say, i + 1, len(sources), "parse", f"parsed {len(triples)} triples from {src.name}")
            plan.setdefault(target, []).extend(triples)
        for target in plan:
            if target in self.reserved():
                raise ReservedGraph(f"{target} is reserved (metadata, ontology, shapes): import into another graph")
            try:
                ox.NamedNode(target)
            except ValueError:
                raise ImportFailed(f"not a valid graph IRI: {target!r}") from None
        return self.write(plan, mode=mode, dry_run=dry_run, agent=agent, sources=list(sources), progress=say)

    def write(self, plan: dict[str, list[ox.Triple]], *, mode: str, dry_run: bool = False, agent: str | None = None,
              sources: Sequence[Source] = (), drop: Sequence[str] = (), progress: Callable[[str], None] | None = None,
              full_validation: bool = False, validate: bool = True) -> Result:
        """Skolemise, validate with context, and commit `plan` (graph -> triples) plus `drop` in one write."""
        say = progress or (lambda m: None)
        started = dt.datetime.now(dt.timezone.utc)
        graphs: dict[str, list[ox.Triple]] = {}
        structural = {self.iris.graph("ontology"), self.iris.graph("shapes")}
        for target, triples in plan.items():
            if target in structural:
                # OWL restrictions, RDF lists and property shapes stay blank nodes: OWL and SHACL tools expect
                # them so, and these graphs are only ever replaced whole (never merged), so nothing doubles
                graphs[target] = list(dict.fromkeys(triples))
                continue
            sk, nb = skolem.skolemize(triples, base=self.iris.base, graph=target)
            if nb:
                say(f"skolemised {nb} blank node(s) in {target}")
            graphs[target] = sk
        with _Held(self.store, self.lock_timeout):
            try:
                return self._write_locked(graphs, started, mode=mode, dry_run=dry_run, agent=agent, sources=sources,
                                          drop=drop, say=say, full_validation=full_validation, validate=validate)
            except StoreError as exc:
                raise StoreFailed(f"the store could not be read or written, nothing was changed: {exc}") from None
            except RuntimeError as exc:  # the validation worker failed (not a timeout, not a violation)
                raise StoreFailed(f"validation could not run, nothing was written: {exc}") from None

    def _write_locked(self, graphs, started, *, mode, dry_run, agent, sources, drop, say, full_validation,
                      validate) -> Result:
        change = Change()
        existed = []
        diffs: dict[str, tuple[list[ox.Triple], list[ox.Triple]]] = {}  # replace: target -> (removed, added)
        whole: dict[str, tuple[list[ox.Triple], list[ox.Triple]]] = {}  # the same, of graphs with blank nodes
        for target, triples in graphs.items():
            new = set(triples)
            if mode == "merge":
                # only which new triples are there already: a merge into a big graph must not read all of it
                old = self._present(target, new)
                if old or self.store.has_graph(target):
                    existed.append(target)
            else:
                old = set(self.store.triples(target))
                if old:
                    existed.append(target)
            if mode == "replace":
                change.replaced.add(target)
                removed = [t for t in old if t not in new]
                added = [t for t in new if t not in old]
                change.removed += removed
                change.added += added
                change.new[target] = list(new)
                if not _has_blank(old) and not _has_blank(new):
                    diffs[target] = (removed, added)
                else:  # written whole; its history keeps the statements without blank nodes
                    whole[target] = ([t for t in removed if not _has_blank((t,))],
                                     [t for t in added if not _has_blank((t,))])
            else:
                added = [t for t in new if t not in old]
                change.added += added
                change.new[target] = added
        dropped: dict[str, list[ox.Triple]] = {}
        for target in drop:
            change.replaced.add(target)
            dropped[target] = list(self.store.triples(target))
            change.removed += dropped[target]
        report = None
        if validate:
            say(f"validating {len(change.added)} new and {len(change.removed)} removed triple(s) "
                f"with their KB context")
            try:
                report = batchcheck.check_change(self.store, change, timeout=self.validation_timeout,
                                                 full=full_validation, progress=say)
            except ValidationTimeout as exc:
                raise ValidationTimedOut(f"{exc} (KB_VALIDATION_TIMEOUT={self.validation_timeout:g}: raise it, "
                                         f"e.g. KB_VALIDATION_TIMEOUT=3600 for a large trusted file)") from None
            say(f"validated: {report.count('violation')} violation(s), {report.count('warning')} warning(s)")
            if report.fails("violation"):
                raise Invalid(f"the data does not conform to the shapes: {report.count('violation')} "
                              f"violation(s); nothing was written", report=report)
        result = Result(graphs=list(graphs) + list(drop), mode="drop" if drop and not graphs else mode,
                        added=len(change.added), removed=len(change.removed), report=report,
                        dry_run=dry_run, created=[g for g in graphs if g not in existed],
                        triples=sum(len(t) for t in graphs.values()))
        if dry_run:
            return result
        record = provenance.Record(
            import_id=provenance.new_import_id(started), started=started,
            ended=dt.datetime.now(dt.timezone.utc), agent=agent or f"command line (user {_user()})",
            mode=result.mode, graphs=result.graphs, added=result.added, removed=result.removed,
            outcome=_outcome(report), sources=[_source_info(s) for s in sources])
        insert: list[ox.Quad] = []
        delete: list[ox.Quad] = []
        if mode == "replace":
            # a graph without blank nodes is replaced by its difference (an unchanged re-import writes nothing
            # but its record; a new graph is a pure insert, which the embedded store bulk-loads); graphs with
            # blank nodes (ontology, shapes) are dropped and written again whole
            drops = [g for g in graphs if g not in diffs] + list(drop)
            for target, triples in graphs.items():
                g = ox.NamedNode(target)
                removed, added = diffs.get(target, ((), triples))
                insert += [ox.Quad(t.subject, t.predicate, t.object, g) for t in added]
                delete += [ox.Quad(t.subject, t.predicate, t.object, g) for t in removed]
        else:
            drops = list(drop)
            for target in graphs:
                g = ox.NamedNode(target)
                insert += [ox.Quad(t.subject, t.predicate, t.object, g) for t in change.new[target]]
        insert += record.quads(self.iris)
        records = self._history(record.import_id, mode, graphs, {**diffs, **whole}, change, existed, dropped,
                                [q.triple for q in record.quads(self.iris)])
        step(say, 0, 1, "write", f"writing {len(insert)} quad(s) in one transaction")
        try:
            result.version = self.store.apply(drop=drops, insert=insert, delete=delete, progress=say,
                                              history=records)
        except StoreError as exc:
            raise StoreFailed(f"the store refused the write, nothing was changed: {exc}") from None
        result.record = record.iri(self.iris)
        step(say, 1, 1, "write", f"committed: +{result.added} -{result.removed} triple(s); record {result.record}")
        return result

    def _history(self, import_id, mode, graphs, diffs, change, existed, dropped, provenance_triples) -> list[ox.Triple]:
        """kb.history records of this write: what it added to and removed from graphs that held triples
        before, and which graphs it created (of graphs with blank nodes, written whole, the statements
        without blank nodes); its own provenance record counts as added to the metadata graph (so an import
        record has a version)."""
        added: dict[str, list[ox.Triple]] = {}
        removed: dict[str, list[ox.Triple]] = {}
        created: list[str] = []
        meta = self.iris.meta_graph
        if self.store.has_graph(meta):
            added[meta] = provenance_triples
        else:
            created.append(meta)
        for target in graphs:
            if mode == "replace":
                if target not in diffs:
                    continue
                gone, new = diffs[target]
            else:
                gone, new = [], change.new[target]
            if target not in existed:
                if new:
                    created.append(target)
                continue
            if new:
                added[target] = new
            if gone:
                removed[target] = gone
        for target, triples in dropped.items():
            kept = [t for t in triples if not _has_blank((t,))]
            if kept:
                removed[target] = kept
        return history.records(self.iris.base, import_id, added=added, removed=removed, created=created)

    def _present(self, graph: str, triples: set[ox.Triple]) -> set[ox.Triple]:
        """The triples of `triples` that `graph` holds already (SPARQL VALUES look-ups, 500 at a time)."""
        items = [t for t in triples if not isinstance(t.subject, ox.BlankNode) and not isinstance(t.object, ox.BlankNode)]
        if len(items) != len(triples):
            return set(self.store.triples(graph)) & triples
        found: set[ox.Triple] = set()
        g = ox.NamedNode(graph)
        for i in range(0, len(items), 500):
            rows = " ".join(f"({t.subject} {t.predicate} {t.object})" for t in items[i:i + 500])
            q = f"SELECT ?s ?p ?o WHERE {{ VALUES (?s ?p ?o) {{ {rows} }} GRAPH {g} {{ ?s ?p ?o }} }}"
            # the graph also as the query's dataset: on Virtuoso, GRAPH <iri> under the remote store's
            # graph-exclusion pragmas matches nothing (a merge then re-added every triple)
            for row in self.store.query(q, default_graph=[graph], named_graphs=[graph]):
                found.add(ox.Triple(row["s"], row["p"], row["o"]))
        return found

    def drop_graph(self, graph: str, *, agent: str | None = None) -> Result:
        if graph in self.reserved():
            raise ReservedGraph(f"{graph} is reserved (metadata, ontology, shapes) and cannot be dropped")
        return self.write({}, mode="replace", drop=[graph], agent=agent)


def _has_blank(triples) -> bool:
    return any(isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode) for t in triples)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"
