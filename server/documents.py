"""The RDF document about one resource, built with a handful of store queries.

A document holds:
- the description: the resource's outgoing triples, with the closure of the blank nodes they reach;
- its incoming links (`?s ?p <r>`), and links that reach it through a blank node (`?s ?p _:b . _:b ?q <r>`,
  e.g. an event's participation whose participant is this agency) with that blank node's description;
- the labels (rdfs:label, skos:prefLabel, dct:title, schema:name) of every IRI it mentions, predicates too,
  so that a client can render it without more requests;
- document metadata: `<doc> a foaf:Document ; foaf:primaryTopic <r> ; dct:modified ; dct:license`.

Large descriptions are paged (KB_PAGE_SIZE outgoing and incoming links per page, ordered by predicate and
value). Paging is visible to machines: the HTTP `Link: rel=next/prev/first/last` headers, and Hydra paging
triples in the RDF: `<doc?page=2> a hydra:PartialCollectionView ; hydra:first ; hydra:previous ; hydra:next ;
hydra:last`, and `<doc> hydra:view <doc?page=k>`.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Callable, Iterable

import pyoxigraph as ox

from kb.namespaces import PREFIXES

from .iris import IriMap
from .labels import DESCRIPTION_PROPS, LABEL_PROPS, in_term_order, label_triples

HYDRA = "http://www.w3.org/ns/hydra/core#"
FOAF = PREFIXES["foaf"]
DCT = PREFIXES["dct"]
RDF_TYPE = ox.NamedNode(PREFIXES["rdf"] + "type")
XSD_DATETIME = ox.NamedNode(PREFIXES["xsd"] + "dateTime")
MAX_BNODE_DEPTH = 4
GENID = ".well-known/genid/"  # skolem IRIs (kb.skolem): shown and closed over like blank nodes
DOC_PREFIXES = dict(PREFIXES) | {"hydra": HYDRA}
HEAD_PROPS = frozenset((*LABEL_PROPS, *DESCRIPTION_PROPS, PREFIXES["rdf"] + "type"))
_LABEL_SET = frozenset(LABEL_PROPS)
_HEAD_IN = ", ".join(f"<{p}>" for p in HEAD_PROPS)


def _nn(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


@dataclass
class Document:
    subject: str
    anon_prefix: tuple[str, ...]               # IRIs under these are shown and closed over like blank nodes
    path: str                                   # the thing's path under {base}id/
    page: int
    pages: int
    head: list[ox.Triple] = field(default_factory=list)       # labels, descriptions, types: on every page
    out: list[ox.Triple] = field(default_factory=list)        # subject's outgoing triples (this page)
    closure: list[ox.Triple] = field(default_factory=list)    # blank-node closure of `out`
    incoming: list[ox.Triple] = field(default_factory=list)   # ?s ?p <subject> (this page)
    via: list[ox.Triple] = field(default_factory=list)        # ?s ?p _:b and _:b's description
    labels: list[ox.Triple] = field(default_factory=list)
    labelled: set[str] = field(default_factory=set)          # the IRIs whose labels `labels` holds, all of them
    meta: list[ox.Triple] = field(default_factory=list)
    n_out: int = 0
    n_in: int = 0

    def triples(self) -> list[ox.Triple]:
        seen: set[ox.Triple] = set()
        result = []
        for t in (*self.meta, *self.head, *self.out, *self.closure, *self.incoming, *self.via, *self.labels):
            if t not in seen:
                seen.add(t)
                result.append(t)
        return result

    def types(self) -> list[str]:
        return [t.object.value for t in self.head if t.predicate == RDF_TYPE and isinstance(t.object, ox.NamedNode)]


def describes(store, iri: str) -> bool:
    return bool(store.query(f"ASK {{ <{iri}> ?p ?o }}"))


def _page_query(store, select: str, order: str, key: tuple[int, ...], page: int, size: int) -> tuple[list, bool]:
    """One page of rows (tuples of terms), and whether more follow. Sorting a hub's thousands of links costs
    time, so page 1 is first asked for unsorted: when everything fits on it, the order does not matter
    (sorted here, by the columns `key`, the positions of `order`'s variables)."""
    if page == 1:
        rows = [tuple(r) for r in store.query(f"{select} LIMIT {size + 1}")]
        if len(rows) <= size:
            return sorted(rows, key=lambda r: tuple([str(r[i]) for i in key]) + tuple(map(str, r))), False
    rows = [tuple(r) for r in store.query(f"{select} ORDER BY {order} LIMIT {size + 1} OFFSET {(page - 1) * size}")]
    return rows[:size], len(rows) > size


def _count(store, inner: str) -> int:
    for row in store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {inner} }}"):
        return int(row[0].value)
    return 0


def anon_filter(var: str, prefix: str | tuple[str, ...]) -> str:
    """SPARQL test: the node is anonymous (a blank node, or an IRI under `prefix`: skolem IRIs, and the
    hash IRIs of the subject)."""
    prefixes = (prefix,) if isinstance(prefix, str) else prefix
    starts = " || ".join(f'STRSTARTS(STR({var}), "{p.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}")'
                         for p in prefixes)
    return f"(isBlank({var}) || {starts})"


def _closure(store, subject: str, start: list, prefix: str, *, incoming: bool = False) -> list[ox.Triple]:
    """Triples of the anonymous nodes in `start` and of those they reach (to MAX_BNODE_DEPTH).

    Each level is one query. Anonymous nodes with a name (skolem and hash IRIs, as the import pipeline
    stores them) are looked up by name. Blank nodes cannot be named in a query: a level that holds one is
    reached by a path, from the previous level's pattern (or from the subject, at the first level)."""
    wanted = set(start)
    out: list[ox.Triple] = []
    done: set = set()
    where = ""  # the pattern that binds ?b{depth} to this level's nodes (and maybe others, skipped)
    for depth in range(MAX_BNODE_DEPTH):
        if not wanted:
            break
        b = f"?b{depth}"
        if all(isinstance(n, ox.NamedNode) for n in wanted):
            where = f"VALUES {b} {{ {' '.join(f'<{n.value}>' for n in sorted(wanted, key=_node_iri))} }}"
        elif depth == 0:
            where = (f"{b} ?q0 <{subject}> ." if incoming else f"<{subject}> ?q0 {b} .") + \
                f" FILTER{anon_filter(b, prefix)}"
        else:
            where = f"{where} ?b{depth - 1} ?q{depth} {b} . FILTER{anon_filter(b, prefix)}"
        nxt: set = set()
        for node, pred, obj in in_term_order(store.query(f"SELECT DISTINCT {b} ?p ?o WHERE {{ {where} {b} ?p ?o }}")):
            if node not in wanted or node in done:
                continue
            out.append(ox.Triple(node, pred, obj))
            if is_anon(obj, prefix):
                nxt.add(obj)
        done |= wanted
        wanted = nxt - done
    return out


def _node_iri(node: ox.NamedNode) -> str:
    return node.value


def is_anon(term, prefix: str | tuple[str, ...]) -> bool:
    return isinstance(term, ox.BlankNode) or (isinstance(term, ox.NamedNode) and term.value.startswith(prefix))


def build(store, imap: IriMap, path: str, *, page: int = 1, page_size: int = 100,
          modified: dt.datetime | None = None, license_iri: str | None = None,
          labels: Callable[[Iterable[str]], list[ox.Triple]] | None = None) -> Document | None:
    """The document about `{base}id/{path}`, or None when the KB does not describe it (or the page is past
    the end). `labels(iris)` gives the label triples of IRIs (default: one query, `label_triples`; the
    server passes its per-KB-version `LabelCache`)."""
    subject = imap.thing_iri(path)
    s = f"<{subject}>"
    # Skolem IRIs, and the hash IRIs of the subject (`{record}#agent`): their descriptions belong to this
    # document, as a blank node's would (the RDF at `/doc/x` describes `x#part`; the HTML has `id="part"`).
    prefix = (imap.base + GENID, subject + "#")
    anon_b, anon_s = anon_filter("?b", prefix), anon_filter("?s", prefix)
    incoming_pattern = (f"{{ ?s ?p {s} FILTER(isIRI(?s) && !{anon_s}) }} UNION "
                        f"{{ ?b ?q {s} FILTER{anon_b} ?s ?p ?b FILTER(isIRI(?s) && !{anon_s}) }}")
    out_rows, more_out = _page_query(store, f"SELECT DISTINCT ?p ?o WHERE {{ {s} ?p ?o }}", "?p ?o", (0, 1),
                                     page, page_size)
    if not out_rows and (page == 1 or not describes(store, subject)):
        return None
    in_rows, more_in = _page_query(
        store, f"SELECT DISTINCT ?s ?p ?b ?q WHERE {{ {incoming_pattern} }}", "?p ?q ?s ?b", (1, 3, 0), page, page_size)
    if page > 1 and not out_rows and not in_rows:
        return None
    n_out = (page - 1) * page_size + len(out_rows)
    n_in = (page - 1) * page_size + len(in_rows)
    if more_out or page > 1:
        n_out = _count(store, f"SELECT DISTINCT ?p ?o WHERE {{ {s} ?p ?o }}")
    if more_in or page > 1:
        n_in = _count(store, f"SELECT DISTINCT ?s ?p ?b ?q WHERE {{ {incoming_pattern} }}")
    pages = max(1, -(-max(n_out, n_in) // page_size))
    doc = Document(subject=subject, anon_prefix=prefix, path=path, page=page, pages=pages, n_out=n_out, n_in=n_in)
    subj = _nn(subject)
    doc.out = [ox.Triple(subj, p, o) for p, o in out_rows]
    doc.head = [ox.Triple(subj, p, o) for p, o in in_term_order(store.query(
        f"SELECT ?p ?o WHERE {{ {s} ?p ?o FILTER(?p IN ({_HEAD_IN})) }}"))] if doc.pages > 1 else \
        [t for t in doc.out if t.predicate.value in HEAD_PROPS]
    doc.closure = _closure(store, subject, [t.object for t in doc.out if is_anon(t.object, prefix)], prefix)
    via_nodes = []
    for s_, p, b, _q in in_rows:
        if b is None:
            doc.incoming.append(ox.Triple(s_, p, subj))
        else:
            doc.via.append(ox.Triple(s_, p, b))
            via_nodes.append(b)
    doc.via += _closure(store, subject, via_nodes, prefix, incoming=True)
    # The anonymous nodes' descriptions are whole in the document: their labels are read from there (they
    # are new in every document, so a cache would not help), the others' from the store.
    described: dict[str, list[ox.Triple]] = {}
    for t in (*doc.closure, *doc.via):
        if isinstance(t.subject, ox.NamedNode) and is_anon(t.subject, prefix):
            described.setdefault(t.subject.value, [])
            if t.predicate.value in _LABEL_SET:
                described[t.subject.value].append(t)
    mentioned = _mentioned(doc)
    ask = mentioned.difference(described)
    doc.labels = label_triples(store, ask) if labels is None else labels(ask)
    doc.labels += [t for iri in sorted(mentioned.intersection(described)) for t in described[iri]]
    doc.labelled = mentioned
    doc.meta = metadata(imap, doc, modified, license_iri)
    return doc


def _mentioned(doc: Document) -> set[str]:
    iris: set[str] = set()
    for t in (*doc.out, *doc.closure, *doc.incoming, *doc.via):
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
    iris.discard(doc.subject)
    return iris


def metadata(imap: IriMap, doc: Document, modified: dt.datetime | None, license_iri: str | None) -> list[ox.Triple]:
    d = _nn(imap.doc_iri(doc.path))
    triples = [ox.Triple(d, RDF_TYPE, _nn(FOAF + "Document")),
               ox.Triple(d, _nn(FOAF + "primaryTopic"), _nn(doc.subject))]
    if modified is not None:
        stamp = modified.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        triples.append(ox.Triple(d, _nn(DCT + "modified"), ox.Literal(stamp, datatype=XSD_DATETIME)))
    if license_iri:
        triples.append(ox.Triple(d, _nn(DCT + "license"), _nn(license_iri)))
    if doc.pages > 1:
        triples += paging_triples(d.value, lambda k: imap.doc_iri(doc.path, page=k), doc.page, doc.pages)
    return triples


def quads(store, doc: Document) -> list[ox.Quad]:
    """The document's statements, each in the named graph(s) the KB keeps it in; statements found in none
    (the document's own metadata) and those with a blank node (which a query cannot name) in the default
    graph."""
    triples = doc.triples()
    named = [t for t in triples if not any(isinstance(x, ox.BlankNode) for x in (t.subject, t.object))]
    graphs: dict[ox.Triple, list] = {}
    for i in range(0, len(named), 200):
        rows = " ".join(f"({t.subject} {t.predicate} {t.object})" for t in named[i:i + 200])
        for r in store.query(f"SELECT ?s ?p ?o ?g WHERE {{ VALUES (?s ?p ?o) {{ {rows} }} GRAPH ?g {{ ?s ?p ?o }} }}"):
            graphs.setdefault(ox.Triple(r[0], r[1], r[2]), []).append(r[3])
    out = []
    for t in triples:
        for g in sorted(graphs.get(t, [ox.DefaultGraph()]), key=str):
            out.append(ox.Quad(t.subject, t.predicate, t.object, g))
    return out


def paging_triples(collection: str, page_iri, page: int, pages: int) -> list[ox.Triple]:
    """Hydra paging: `<collection> hydra:view <page k>`, a hydra:PartialCollectionView with first, last,
    previous and next; `page_iri(k)` is the IRI of page k."""
    h = lambda name: _nn(HYDRA + name)  # noqa: E731
    view = _nn(page_iri(page))
    triples = [ox.Triple(_nn(collection), h("view"), view),
               ox.Triple(view, RDF_TYPE, h("PartialCollectionView")),
               ox.Triple(view, h("first"), _nn(page_iri(1))),
               ox.Triple(view, h("last"), _nn(page_iri(pages)))]
    if page > 1:
        triples.append(ox.Triple(view, h("previous"), _nn(page_iri(page - 1))))
    if page < pages:
        triples.append(ox.Triple(view, h("next"), _nn(page_iri(page + 1))))
    return triples


_NS_PREFIX = {ns: p for p, ns in DOC_PREFIXES.items()}


def used_prefixes(triples: list[ox.Triple]) -> dict[str, str]:
    """The prefixes of DOC_PREFIXES that the triples use (a short, tidy Turtle header)."""
    iris: set[str] = set()
    add = iris.add
    named, literal = ox.NamedNode, ox.Literal
    for subject, predicate, obj in triples:
        add(predicate.value)
        if type(subject) is named:
            add(subject.value)
        kind = type(obj)
        if kind is named:
            add(obj.value)
        elif kind is literal:
            add(obj.datatype.value)
    used: set[str] = set()
    for iri in iris:
        used.update(_namespaces_of(iri))
    return {p: ns for p, ns in DOC_PREFIXES.items() if ns in used}


@functools.lru_cache(maxsize=65536)
def _namespaces_of(iri: str) -> tuple[str, ...]:
    """The namespaces of DOC_PREFIXES that can abbreviate `iri` (cached: documents share most IRIs)."""
    found = []
    for cut in (iri.rfind("#"), iri.rfind("/")):
        ns = iri[:cut + 1]
        if ns in _NS_PREFIX and _local_ok(iri[cut + 1:]):
            found.append(ns)
    return tuple(found)


def _local_ok(local: str) -> bool:
    return bool(local) and all(c.isalnum() or c in "_-" for c in local)
