"""The ontology (`/def`) and the shapes (`/shapes`) as HTML documentation or RDF, by `Accept` or suffix.

`{base}def#Term` resolves to `/def#Term`: the HTML has an anchor per term (its local name); the RDF is the
whole ontology graph (classes, properties, alignments, concept schemes). `/shapes` lists every node shape
with its targets, property constraints and messages. Both are built once per KB version and cached.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import pyoxigraph as ox
from flask import Blueprint, Response, render_template, request

from kb.namespaces import PREFIXES

from . import negotiation
from .labels import explicit_lang, local_name, pick, reader_languages
from .negotiation import DocFormat
from .http_common import (LRU, abort_with, alternate_links, check_request, ext_state, finish, gzip_bytes, kb_state, kbx,
                          not_acceptable, not_modified, serialize)

bp = Blueprint("vocab", __name__)
bp.before_request(check_request)

RDF, RDFS, OWL, SKOS, SH = (PREFIXES[k] for k in ("rdf", "rdfs", "owl", "skos", "sh"))
CLASS_TYPES = {OWL + "Class", RDFS + "Class"}
PROPERTY_TYPES = {OWL + "ObjectProperty": "object property", OWL + "DatatypeProperty": "datatype property",
                  OWL + "AnnotationProperty": "annotation property", RDF + "Property": "property"}
SHAPE_KEYS = ("minCount", "maxCount", "datatype", "class", "nodeKind", "pattern", "flags", "in", "hasValue",
              "languageIn", "uniqueLang", "minLength", "maxLength", "minInclusive", "maxInclusive", "minExclusive",
              "maxExclusive", "node", "or", "and", "not", "xone", "qualifiedValueShape", "qualifiedMinCount",
              "qualifiedMaxCount", "equals", "disjoint", "lessThan", "closed", "ignoredProperties")


class GraphCache:
    """Subject -> [(predicate, object)] of one named graph, per KB version."""

    def __init__(self):
        self.lock, self.version, self.by_subject, self.triples = threading.Lock(), None, {}, []

    def get(self, store, graph: str, version: str):
        if self.version != version:
            with self.lock:
                if self.version != version:
                    triples = list(store.triples(graph))
                    by_subject: dict = defaultdict(list)
                    for t in triples:
                        by_subject[t.subject].append((t.predicate.value, t.object))
                    self.triples, self.by_subject, self.version = triples, dict(by_subject), version
        return self


def _state(name: str) -> GraphCache:
    st = ext_state()
    return st.setdefault(f"graph:{name}", GraphCache())


def curie(iri: str) -> str:
    base = kbx().iris.base
    for prefix, ns in (("thb", base + "def#"), ("thbsh", base + "shapes#"), *PREFIXES.items()):
        if iri.startswith(ns) and iri[len(ns):] and "/" not in iri[len(ns):]:
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def _href(iri: str) -> str | None:
    url = ext_state()["imap"].local_url(iri, request.script_root)
    if url is not None:
        return url
    return iri if iri.startswith(("http://", "https://")) else None


def _literals(pairs, prop: str, langs: list[str]) -> str | None:
    got = pick([(0, o.language or "", o.value) for p, o in pairs if p == prop and isinstance(o, ox.Literal)], langs)
    return got[0] if got else None


def serve(name: str, graph: str, ext: str | None, render) -> object:
    """A graph as a document: negotiation, validators, caching, alternates; `render(cache, langs)` -> HTML."""
    root = request.script_root
    fmt: DocFormat | None
    if ext is None:
        fmt = negotiation.request_format(request)
        if fmt is None:
            return not_acceptable(lambda f: f"{root}/{name}.{f.suffix}")
    else:
        fmt = negotiation.BY_SUFFIX.get(ext)
        if fmt is None:
            abort_with(404, f"Unknown format suffix .{ext[:20]}; known suffixes: {negotiation.suffix_list()}.")
    version, modified = kb_state()
    langs = reader_languages(request) if fmt.is_html else []
    etag = f"{version}-{name}-{fmt.suffix}" + (f"-{'.'.join(langs)}" if fmt.is_html else "")
    links = alternate_links(lambda f: f"{root}/{name}.{f.suffix}")
    vary = ("Accept, Accept-Language" if ext is None else "Accept-Language") if fmt.is_html else "Accept"
    location = f"{root}/{name}.{fmt.suffix}" if ext is None else None
    if not_modified(etag, modified):
        return finish(None, None, fmt, etag=etag, modified=modified, links=links, content_location=location, vary=vary)
    cache: LRU = ext_state()["cache"]
    key = (version, name, fmt.name, tuple(langs), root, explicit_lang(request))
    hit = cache.get(key)
    if hit is None:
        gc = _state(name).get(kbx().store, graph, version)
        if not gc.triples:
            abort_with(404, f"The knowledge base holds no {name} graph.")
        if fmt.is_html:
            alternates = [(f, f"{root}/{name}.{f.suffix}") for f in negotiation.FORMATS]
            body = render(gc, langs, alternates).encode("utf-8")
        else:
            body = serialize(gc.triples, fmt)
        hit = (body, gzip_bytes(body))
        cache.put(key, hit)
    return finish(hit[0], hit[1], fmt, etag=etag, modified=modified, links=links, content_location=location, vary=vary)


# -- /def ---------------------------------------------------------------------------------------------
def usage_counts(version: str) -> tuple[dict[str, int], dict[str, int]]:
    st = ext_state()
    got = st.get("usage")
    if got and got[0] == version:
        return got[1], got[2]
    iris = kbx().iris
    skip = ", ".join(f"<{g}>" for g in (iris.graph("ontology"), iris.graph("shapes"), iris.meta_graph))
    store = kbx().store
    props = {r["p"].value: int(r["n"].value) for r in store.query(
        f"SELECT ?p (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g NOT IN ({skip})) }} GROUP BY ?p")}
    classes = {r["c"].value: int(r["n"].value) for r in store.query(
        f"SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE {{ GRAPH ?g {{ ?s a ?c }} FILTER(?g NOT IN ({skip})) }} GROUP BY ?c")}
    st["usage"] = (version, props, classes)
    return props, classes


def render_def(gc: GraphCache, langs: list[str], alternates) -> str:
    version, _ = kb_state()
    props_used, classes_used = usage_counts(version)
    onto_iri = kbx().iris.ontology
    ns = onto_iri + "#"
    by_s = gc.by_subject

    def term(subject, kind: str) -> dict:
        pairs = by_s[subject]
        iri = subject.value

        def refs(prop):
            return [{"text": curie(o.value), "href": _href(o.value)} for p, o in pairs
                    if p == prop and isinstance(o, ox.NamedNode)]
        return {
            "iri": iri, "anchor": iri[len(ns):], "kind": kind,
            "label": _literals(pairs, RDFS + "label", langs) or local_name(iri),
            "definition": _literals(pairs, SKOS + "definition", langs) or _literals(pairs, RDFS + "comment", langs),
            "domain": refs(RDFS + "domain"), "range": refs(RDFS + "range"),
            "parents": refs(RDFS + "subClassOf") + refs(RDFS + "subPropertyOf"),
            "inverse": refs(OWL + "inverseOf"),
            "matches": refs(OWL + "equivalentClass") + refs(OWL + "equivalentProperty") + refs(SKOS + "closeMatch")
            + refs(SKOS + "exactMatch"),
            "uses": classes_used.get(iri, 0) if kind == "class" else props_used.get(iri, 0),
        }

    classes, properties = [], []
    for s, pairs in by_s.items():
        if not isinstance(s, ox.NamedNode) or not s.value.startswith(ns):
            continue
        types = {o.value for p, o in pairs if p == RDF + "type" and isinstance(o, ox.NamedNode)}
        if types & CLASS_TYPES:
            classes.append(term(s, "class"))
        else:
            kind = next((PROPERTY_TYPES[t] for t in PROPERTY_TYPES if t in types), None)
            if kind:
                properties.append(term(s, kind))
    classes.sort(key=lambda t: t["label"].casefold())
    properties.sort(key=lambda t: t["label"].casefold())
    onto = by_s.get(ox.NamedNode(onto_iri), [])
    schemes = []
    for s, pairs in by_s.items():
        if any(p == RDF + "type" and o.value == SKOS + "ConceptScheme" for p, o in pairs):
            concepts = [(c, cp) for c, cp in by_s.items()
                        if any(p == SKOS + "inScheme" and o == s for p, o in cp)]
            schemes.append({
                "label": _literals(pairs, SKOS + "prefLabel", langs) or _literals(pairs, RDFS + "label", langs) or local_name(s.value),
                "href": _href(s.value),
                "concepts": sorted(({"label": _literals(cp, SKOS + "prefLabel", langs) or local_name(c.value),
                                     "href": _href(c.value)} for c, cp in concepts), key=lambda c: c["label"].casefold())})
    schemes.sort(key=lambda s: s["label"].casefold())
    return render_template(
        "def.html", lang=langs[0], alternates=alternates, classes=classes, properties=properties, schemes=schemes,
        title=_literals(onto, RDFS + "label", langs) or "Ontology",
        description=_literals(onto, PREFIXES["dct"] + "description", langs),
        version=_literals(onto, OWL + "versionInfo", langs), ontology_iri=onto_iri, namespace=ns)


@bp.get("/def")
@bp.get("/def.<ext>")
def ontology(ext: str | None = None):
    return serve("def", kbx().iris.graph("ontology"), ext, render_def)


@bp.get("/def/<path:name>")
def ontology_part(name: str):
    """IRIs under {base}def/ that the ontology graph names (its version IRI, the alignments ontology):
    303 to the ontology document, which holds them, in the negotiated format."""
    kb = kbx()
    iri = kb.iris.ontology + "/" + name
    graph = kb.iris.graph("ontology")
    try:
        known = bool(kb.store.query(f"ASK {{ GRAPH <{graph}> {{ {{ <{iri}> ?p ?o }} UNION {{ ?s ?p <{iri}> }} }} }}"))
    except (SyntaxError, ValueError):
        known = False
    if not known:
        abort_with(404, "The ontology names no such IRI.")
    fmt = negotiation.request_format(request)
    root = request.script_root
    if fmt is None:
        return not_acceptable(lambda f: f"{root}/def.{f.suffix}")
    location = request.root_url.rstrip("/") + "/def" + ("" if fmt.is_html else f".{fmt.suffix}")
    resp = Response(f"See {location}\n", status=303, content_type="text/plain; charset=utf-8")
    resp.headers["Location"] = location
    resp.headers["Vary"] = "Accept"
    return resp


# -- /shapes ------------------------------------------------------------------------------------------
def _rdf_list(by_s, node) -> list:
    out, seen = [], set()
    while isinstance(node, (ox.BlankNode, ox.NamedNode)) and node.value != RDF + "nil" and node not in seen:
        seen.add(node)
        pairs = by_s.get(node, [])
        first = next((o for p, o in pairs if p == RDF + "first"), None)
        if first is None:
            break
        out.append(first)
        node = next((o for p, o in pairs if p == RDF + "rest"), None)
    return out


def _text(by_s, term, depth: int = 0) -> dict:
    """A SHACL value as display text (IRIs as CURIEs, lists, paths, nested shapes in brackets)."""
    if isinstance(term, ox.Literal):
        return {"text": term.value}
    if isinstance(term, ox.NamedNode):
        return {"text": curie(term.value), "href": _href(term.value)}
    pairs = by_s.get(term, [])
    if any(p == RDF + "first" for p, _ in pairs):
        return {"text": "( " + " ".join(_text(by_s, x, depth + 1)["text"] for x in _rdf_list(by_s, term)) + " )"}
    if depth > 3:
        return {"text": "[…]"}
    inner = "; ".join(f"{curie(p)} {_text(by_s, o, depth + 1)['text']}" for p, o in pairs
                      if p != SH + "message")
    return {"text": f"[ {inner} ]"}


def render_shapes(gc: GraphCache, langs: list[str], alternates) -> str:
    by_s = gc.by_subject
    shapes = []
    for s, pairs in by_s.items():
        types = {o.value for p, o in pairs if p == RDF + "type"}
        if SH + "NodeShape" not in types or not isinstance(s, ox.NamedNode):
            continue
        props = []
        for p, o in pairs:
            if p != SH + "property":
                continue
            pp = by_s.get(o, [])
            path = next((x for q, x in pp if q == SH + "path"), None)
            props.append({
                "path": _text(by_s, path) if path is not None else {"text": "?"},
                "constraints": [(q[len(SH):], _text(by_s, x)) for q, x in pp if q.startswith(SH) and q[len(SH):] in SHAPE_KEYS],
                "severity": next((curie(x.value) for q, x in pp if q == SH + "severity"), None),
                "message": _literals(pp, SH + "message", langs),
                "name": _literals(pp, SH + "name", langs),
            })
        props.sort(key=lambda d: d["path"]["text"])
        sparql = [{"message": _literals(by_s.get(o, []), SH + "message", langs)} for p, o in pairs if p == SH + "sparql"]
        shapes.append({
            "iri": s.value, "anchor": s.value.rpartition("#")[2] if "#" in s.value else local_name(s.value),
            "label": _literals(pairs, RDFS + "label", langs) or curie(s.value),
            "comment": _literals(pairs, RDFS + "comment", langs),
            "targets": [_text(by_s, o) for p, o in pairs if p in (SH + "targetClass", SH + "targetNode",
                                                                    SH + "targetSubjectsOf", SH + "targetObjectsOf")],
            "constraints": [(p[len(SH):], _text(by_s, o)) for p, o in pairs if p.startswith(SH) and p[len(SH):] in SHAPE_KEYS],
            "message": _literals(pairs, SH + "message", langs),
            "severity": next((curie(o.value) for p, o in pairs if p == SH + "severity"), None),
            "properties": props, "sparql": sparql,
        })
    shapes.sort(key=lambda d: d["label"].casefold())
    return render_template("shapes.html", lang=langs[0], alternates=alternates, shapes=shapes,
                           shapes_iri=kbx().iris.shapes)


@bp.get("/shapes")
@bp.get("/shapes.<ext>")
def shapes(ext: str | None = None):
    return serve("shapes", kbx().iris.graph("shapes"), ext, render_shapes)
