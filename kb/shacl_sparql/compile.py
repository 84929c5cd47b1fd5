"""Each constraint as one set-based SPARQL query: for every focus node of a set at once, the violating rows.

A query starts from a focus pattern (kb.shacl_sparql.engine.FocusSet: the instances of a class, or a set
materialised as `GRAPH <urn:x-kb-shacl:focus> { <set> <urn:x-kb-shacl:node> ?this }`) that binds ?this to
each focus node once. Its rows bind ?this and, where SHACL reports one, ?v (the value node). Comparisons that
raise a SPARQL error are violations (COALESCE(..., false)), as SHACL defines them.

`ok(constraint, var)` is the condition a single value node must meet for the constraints that look at the
value node alone; the same text serves the constraint's own query (FILTER (!ok)) and nested shapes checked
inline (kb.shacl_sparql.inline).
"""

from __future__ import annotations

from rdflib import Literal, URIRef
from rdflib.namespace import RDF, RDFS, SH, XSD

from .model import Constraint, Shape

GRAPH = "urn:x-kb-shacl:focus"
NODE = "urn:x-kb-shacl:node"
SUBCLASSES = f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS.subClassOf}>* {{cls}} }}"


def in_set(key: str, var: str = "this") -> str:
    return f"GRAPH <{GRAPH}> {{ <{key}> <{NODE}> ?{var} }}"


def n3(term) -> str:
    """SPARQL syntax of an rdflib or a pyoxigraph term (IRIs and literals)."""
    return term.n3() if hasattr(term, "n3") else str(term)


def values(shape: Shape, var: str = "?v", subject: str = "?this") -> str:
    """The pattern binding `var` to the value nodes of `subject` (a node shape: the node itself)."""
    if shape.is_property:
        return f"{subject} {shape.path.sparql()} {var} ."
    return f"BIND ({subject} AS {var})"


_NODE_KINDS = {
    SH.IRI: "isIRI({v})", SH.BlankNode: "isBlank({v})", SH.Literal: "isLiteral({v})",
    SH.BlankNodeOrIRI: "(isBlank({v}) || isIRI({v}))", SH.BlankNodeOrLiteral: "(isBlank({v}) || isLiteral({v}))",
    SH.IRIOrLiteral: "(isIRI({v}) || isLiteral({v}))",
}
VALUE_LOCAL = {"class", "nodeKind", "pattern", "languageIn", "in", "minInclusive"}


def datatype_ok(dt: URIRef, v: str) -> str:
    """rdf:langString and xsd:string: the whole condition; other datatypes: the datatype only (the lexical
    form is then checked by kb.shacl_sparql.literals)."""
    if dt == RDF.langString:
        return f'(isLiteral({v}) && LANG({v}) != "")'
    return f"(isLiteral({v}) && DATATYPE({v}) = {n3(dt)})"


def ok(c: Constraint, v: str, classes=None) -> str | None:
    """The condition on a value node `v` for a value-local constraint, None for the others. `classes`: the
    class and its subclasses, for sh:class."""
    kind, p = c.kind, c.param
    if kind == "class":
        if len(classes) == 1:
            return f"EXISTS {{ {v} <{RDF.type}> {n3(classes[0])} }}"
        return f"EXISTS {{ {v} <{RDF.type}> ?type_ . VALUES ?type_ {{ {' '.join(n3(x) for x in classes)} }} }}"
    if kind == "datatype" and p in (RDF.langString, XSD.string):
        return datatype_ok(p, v)
    if kind == "nodeKind":
        return _NODE_KINDS[p].format(v=v)
    if kind == "pattern":
        return f"(!isBlank({v}) && COALESCE(REGEX(STR({v}), {Literal(p[1]).n3()}), false))"
    if kind == "languageIn":
        if "*" in p:
            return f'(isLiteral({v}) && LANG({v}) != "")'
        listed = ", ".join(Literal(x).n3() for x in p)
        return (f'(isLiteral({v}) && LANG({v}) != "" && (LCASE(LANG({v})) IN ({listed}) || '
                f'LCASE(STRBEFORE(CONCAT(LANG({v}), "-"), "-")) IN ({listed})))')
    if kind == "in":
        return "(" + (" || ".join(f"sameTerm({v}, {n3(m)})" for m in p) or "false") + ")"
    if kind == "minInclusive":
        return f"COALESCE({v} >= {n3(p)}, false)"
    return None


def value_rows(focus: str, shape: Shape, condition: str) -> str:
    """Rows (?this, ?v) whose value node does not meet `condition`."""
    return f"SELECT ?this ?v WHERE {{ {focus} {values(shape)} FILTER (!{condition}) }}"


def distinct_values(focus: str, shape: Shape) -> str:
    """The distinct value nodes (for sh:datatype other than rdf:langString and xsd:string, checked in Python:
    fewer rows than the value nodes, and one query instead of two)."""
    return f"SELECT DISTINCT ?v WHERE {{ {focus} {values(shape)} }}"


def with_values(focus: str, shape: Shape, bad: list) -> str:
    """Rows (?this, ?v) whose value node is one of `bad`."""
    return f"SELECT ?this ?v WHERE {{ {focus} {values(shape)} VALUES ?v {{ {' '.join(n3(b) for b in bad)} }} }}"


def unique_lang(focus: str, shape: Shape) -> str:
    """One row per focus node and language tag used by two or more value nodes (no sh:value)."""
    return (f"SELECT ?this ?lang WHERE {{ {focus} ?this {shape.path.sparql()} ?v . "
            f'FILTER (isLiteral(?v) && LANG(?v) != "") BIND (LCASE(LANG(?v)) AS ?lang) }} '
            f"GROUP BY ?this ?lang HAVING (COUNT(DISTINCT ?v) > 1)")


def missing(focus: str, shape: Shape, value_filter: str = "", minus: bool = False) -> str:
    """Focus nodes without a value node (meeting `value_filter`). MINUS reads the path's triples once (for a
    focus set about as large as the path), NOT EXISTS looks each focus node up (for a small one)."""
    inner = f"?this {shape.path.sparql()} ?v . {value_filter}"
    if minus:
        return f"SELECT ?this WHERE {{ {focus} MINUS {{ {inner} }} }}"
    return f"SELECT ?this WHERE {{ {focus} FILTER NOT EXISTS {{ {inner} }} }}"


def more_than(focus: str, shape: Shape, high: int) -> str:
    """Focus nodes with more than `high` distinct value nodes (rows bind ?n)."""
    path = shape.path.sparql()
    if high == 1:  # two distinct values: no aggregate needed
        return f"SELECT DISTINCT ?this (2 AS ?n) WHERE {{ {focus} ?this {path} ?v, ?w . FILTER (!sameTerm(?v, ?w)) }}"
    return (f"SELECT ?this ?n WHERE {{ {{ SELECT ?this (COUNT(DISTINCT ?v) AS ?n) WHERE {{ {focus} ?this {path} ?v }} "
            f"GROUP BY ?this }} FILTER (?n > {high}) }}")


def outside(focus: str, shape: Shape, low: int, high: int | None, value_filter: str = "") -> str:
    """Focus nodes with fewer than `low` or more than `high` distinct value nodes (meeting `value_filter`);
    rows bind ?n."""
    counted = (f"SELECT ?this (COUNT(DISTINCT ?v) AS ?found) WHERE {{ {focus} ?this {shape.path.sparql()} ?v . "
               f"{value_filter} }} GROUP BY ?this")
    beyond = f"?n < {low}" + (f" || ?n > {high}" if high is not None else "")
    return (f"SELECT ?this ?n WHERE {{ {focus} OPTIONAL {{ {counted} }} BIND (COALESCE(?found, 0) AS ?n) "
            f"FILTER ({beyond}) }}")


def size(pattern: str) -> str:
    return f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}"


def has_value(focus: str, shape: Shape, value) -> str:
    if shape.is_property:
        return f"SELECT ?this WHERE {{ {focus} FILTER NOT EXISTS {{ ?this {shape.path.sparql()} {n3(value)} }} }}"
    return f"SELECT ?this WHERE {{ {focus} FILTER (!sameTerm(?this, {n3(value)})) }}"


def in_failed(focus: str, shape: Shape, failed_key: str) -> str:
    """Rows (?this, ?v) whose value node is in the set `failed_key` (the nodes that fail a nested shape)."""
    return f"SELECT ?this ?v WHERE {{ {focus} {values(shape)} {in_set(failed_key, 'v')} }}"


def less_than_or_equals(focus: str, shape: Shape, other: URIRef) -> str:
    """One row per pair (value node, value of `other`) where value <= other is not true."""
    return (f"SELECT ?this ?v ?other WHERE {{ {focus} {values(shape)} ?this {n3(other)} ?other . "
            f"FILTER (!COALESCE(?v <= ?other, false)) }}")


def sparql_constraint(focus: str, c: Constraint) -> str:
    return c.query.text(focus)
