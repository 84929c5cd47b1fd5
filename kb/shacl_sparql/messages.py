"""pySHACL's own wording for a result whose shape has no sh:message (every trusted shape has one; this is for
other shapes graphs). Nodes are written as pySHACL writes them (pyshacl.rdfutil.stringify_node: prefixed
names of the shapes graph for shape terms, of rdflib's core prefixes for data terms)."""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import Graph, Literal
from rdflib.namespace import SH


def _text(graph: Graph, node) -> str:
    try:
        from pyshacl.rdfutil import stringify_node
    except ImportError:  # pragma: no cover - pySHACL is a dependency of the package
        return str(node)
    try:
        return stringify_node(graph, node)
    except (LookupError, ValueError):
        return str(node)


def _data_text(store: ox.Store, term) -> str:
    """A data node as pySHACL writes it: with rdflib's core prefixes; a blank node by its description."""
    from .report import to_rdf

    g = Graph(bind_namespaces="core")
    todo, seen = [term], set()
    while todo and len(seen) < 100:
        t = todo.pop()
        if not isinstance(t, ox.BlankNode) or t in seen:
            continue
        seen.add(t)
        for q in store.quads_for_pattern(t, None, None, ox.DefaultGraph()):
            g.add((to_rdf(q.subject), to_rdf(q.predicate), to_rdf(q.object)))
            todo.append(q.object)
    return _text(g, to_rdf(term))


def generic(sg: Graph, raw, store: ox.Store) -> list[Literal]:
    shape, c = raw.shape, raw.constraint
    kind = c.kind
    focus = _data_text(store, raw.focus)
    value = _data_text(store, raw.value) if raw.value is not None else "None"
    path = _text(sg, shape.path.node) if shape.is_property else None
    s = lambda n: _text(sg, n)  # noqa: E731
    if kind == "class":
        rules = list(sg.objects(shape.node, SH["class"]))
        m = (f"Value does not have class {s(rules[0])}" if len(rules) < 2
             else f"Value class is not in classes ({', '.join(s(r) for r in rules)})")
    elif kind == "datatype":
        m = f"Value is not Literal with datatype {s(c.param)}"
    elif kind == "nodeKind":
        m = f"Value is not of Node Kind {s(c.param)}"
    elif kind in ("minCount", "maxCount"):
        word = "Less" if kind == "minCount" else "More"
        m = f"{word} than {c.param} values on {focus}->{path}"
    elif kind == "pattern":
        rules = [str(p) for p in sg.objects(shape.node, SH.pattern)]
        m = (f"Value does not match pattern '{rules[0]}'" if len(rules) < 2
             else "Value does not match every pattern in ('{}')".format("', '".join(rules)))
    elif kind == "languageIn":
        m = f"String language is not in {s(sg.value(shape.node, SH.languageIn))}"
    elif kind == "uniqueLang":
        m = "More than one String shares the same Language"
    elif kind == "node":
        rules = list(sg.objects(shape.node, SH.node))
        m = (f"Value does not conform to Shape {s(rules[0])}." if len(rules) < 2
             else "Value must conform to every Shape in ('{}')".format("', '".join(s(r) for r in rules)))
        m += " See details for more information."
    elif kind == "hasValue":
        the_set = [s(v) for v in sg.objects(shape.node, SH.hasValue)]
        m = (f"Node {focus}->{path} does not contain a value in the set: {the_set}" if path
             else f"Node {focus} value is not a in the set of values: {the_set}")
    elif kind == "in":
        members = set()  # built as pySHACL builds it, so that it lists the members in the same order
        for item in sg.items(sg.value(shape.node, SH["in"])):
            members.add(item)
        m = f"Value {value} not in list {[s(v) for v in members]}"
    elif kind == "or":
        lists = list(sg.objects(shape.node, SH["or"]))
        parts = [" , ".join(s(x) for x in sg.items(lst)) for lst in lists]
        m = f"Node {value} must conform to one or more shapes in " + (
            parts[0] if len(parts) < 2 else " and ".join(f"({p})" for p in parts))
    elif kind == "lessThanOrEquals":
        others = list(sg.objects(shape.node, SH.lessThanOrEquals))
        m = f"Value of {focus}->{', '.join(s(o) for o in others)} < {value}"
    elif kind == "minInclusive":
        mins = list(sg.objects(shape.node, SH.minInclusive))
        m = (f"Value is not >= {s(mins[0])}" if len(mins) < 2
             else f"Value is not >= in ({', '.join(s(x) for x in mins)})")
    elif kind == "qualified":
        m = f"Focus node does not conform to shape MinCount {c.param}: {s(c.shapes[0].node)}"
    else:
        return []
    return [Literal(m)]
