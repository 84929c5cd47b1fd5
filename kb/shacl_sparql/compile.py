"""Each constraint as one set-based SPARQL query: for every focus node of a set at once, the violating rows.

A focus set is a named graph pattern `GRAPH <urn:x-kb-shacl:focus> { <set> <urn:x-kb-shacl:node> ?this }`
(kb.shacl_sparql.engine materialises the sets: targets, value nodes of a property shape, the nodes that fail
a nested shape). A query's rows bind ?this (the focus node) and, where SHACL reports one, ?v (the value node).
Comparisons that raise a SPARQL error are violations (COALESCE(..., false)), as SHACL defines them.
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


def _values(shape: Shape) -> str:
    """The pattern binding ?v to the value nodes of the focus node ?this (a node shape: ?this itself)."""
    if shape.is_property:
        return f"?this {shape.path.sparql()} ?v ."
    return "BIND (?this AS ?v)"


def _select(key: str, shape: Shape, condition: str) -> str:
    return f"SELECT ?this ?v WHERE {{ {in_set(key)} {_values(shape)} FILTER ({condition}) }}"


_DATATYPE_CHECKS = {
    RDF.langString: 'isLiteral(?v) && LANG(?v) != ""',
    XSD.string: "isLiteral(?v) && DATATYPE(?v) = <http://www.w3.org/2001/XMLSchema#string>",
}
_NODE_KINDS = {
    SH.IRI: "isIRI(?v)", SH.BlankNode: "isBlank(?v)", SH.Literal: "isLiteral(?v)",
    SH.BlankNodeOrIRI: "isBlank(?v) || isIRI(?v)", SH.BlankNodeOrLiteral: "isBlank(?v) || isLiteral(?v)",
    SH.IRIOrLiteral: "isIRI(?v) || isLiteral(?v)",
}


def node_kind(key: str, shape: Shape, kind: URIRef) -> str:
    return _select(key, shape, f"!({_NODE_KINDS[kind]})")


def datatype_mismatch(key: str, shape: Shape, dt: URIRef) -> str:
    """Value nodes that are not literals of datatype `dt` (for rdf:langString and xsd:string: that do not
    match at all; for other datatypes the literals of `dt` are then checked for being well-typed)."""
    ok = _DATATYPE_CHECKS.get(dt, f"isLiteral(?v) && DATATYPE(?v) = {n3(dt)}")
    return _select(key, shape, f"!({ok})")


def datatype_literals(key: str, shape: Shape, dt: URIRef) -> str:
    """The distinct literals of datatype `dt` among the value nodes (checked for being well-typed)."""
    return (f"SELECT DISTINCT ?v WHERE {{ {in_set(key)} {_values(shape)} "
            f"FILTER (isLiteral(?v) && DATATYPE(?v) = {n3(dt)}) }}")


def with_values(key: str, shape: Shape, bad: list) -> str:
    """Rows (?this, ?v) whose value node is one of `bad`."""
    return (f"SELECT ?this ?v WHERE {{ {in_set(key)} {_values(shape)} "
            f"VALUES ?v {{ {' '.join(n3(b) for b in bad)} }} }}")


def class_check(key: str, shape: Shape, classes: list) -> str:
    """Value nodes that are not a SHACL instance of the class: no rdf:type among the class and its
    subclasses (`classes`, computed on the data graph first). Literals are never instances."""
    listed = " ".join(n3(c) for c in classes)
    return (f"SELECT ?this ?v WHERE {{ {in_set(key)} {_values(shape)} "
            f"FILTER NOT EXISTS {{ ?v <{RDF.type}> ?type . VALUES ?type {{ {listed} }} }} }}")


def pattern_check(key: str, shape: Shape, pattern: tuple) -> str:
    rx = Literal(pattern[1]).n3()  # (the sh:pattern literal, its translation for SPARQL REGEX)
    return _select(key, shape, f"isBlank(?v) || !COALESCE(REGEX(STR(?v), {rx}), false)")


def language_in(key: str, shape: Shape, langs: tuple) -> str:
    """pySHACL's languageIn: the lower-cased tag, or its part before the first '-', is listed ('*': any)."""
    if "*" in langs:
        ok = 'isLiteral(?v) && LANG(?v) != ""'
    else:
        listed = ", ".join(Literal(x).n3() for x in langs)
        ok = (f'isLiteral(?v) && LANG(?v) != "" && (LCASE(LANG(?v)) IN ({listed}) || '
              f'LCASE(STRBEFORE(CONCAT(LANG(?v), "-"), "-")) IN ({listed}))')
    return _select(key, shape, f"!({ok})")


def unique_lang(key: str, shape: Shape) -> str:
    """One row per focus node and language tag used by two or more value nodes (no sh:value)."""
    return (f"SELECT ?this ?lang WHERE {{ {in_set(key)} ?this {shape.path.sparql()} ?v . "
            f'FILTER (isLiteral(?v) && LANG(?v) != "") BIND (LCASE(LANG(?v)) AS ?lang) }} '
            f"GROUP BY ?this ?lang HAVING (COUNT(DISTINCT ?v) > 1)")


def count_check(key: str, shape: Shape, op: str, n: int, value_filter: str = "") -> str:
    """Focus nodes whose number of (distinct) value nodes, optionally filtered, is `op` n."""
    path = shape.path.sparql()
    if op == "<" and n == 1:
        return (f"SELECT ?this WHERE {{ {in_set(key)} "
                f"FILTER NOT EXISTS {{ ?this {path} ?v . {value_filter} }} }}")
    counted = (f"SELECT ?this (COUNT(DISTINCT ?v) AS ?n) WHERE {{ {in_set(key)} ?this {path} ?v . "
               f"{value_filter} }} GROUP BY ?this")
    if op == ">":
        return f"SELECT ?this WHERE {{ {{ {counted} }} FILTER (?n > {n}) }}"
    return f"SELECT ?this WHERE {{ {in_set(key)} OPTIONAL {{ {counted} }} FILTER (COALESCE(?n, 0) < {n}) }}"


def has_value(key: str, shape: Shape, value) -> str:
    if shape.is_property:
        return (f"SELECT ?this WHERE {{ {in_set(key)} "
                f"FILTER NOT EXISTS {{ ?this {shape.path.sparql()} {n3(value)} }} }}")
    return f"SELECT ?this WHERE {{ {in_set(key)} FILTER (!sameTerm(?this, {n3(value)})) }}"


def in_list(key: str, shape: Shape, members: tuple) -> str:
    listed = " || ".join(f"sameTerm(?v, {n3(m)})" for m in members) or "false"
    return _select(key, shape, f"!({listed})")


def in_failed(key: str, shape: Shape, failed_key: str) -> str:
    """Rows (?this, ?v) whose value node is in the set `failed_key` (the nodes that fail a nested shape)."""
    return f"SELECT ?this ?v WHERE {{ {in_set(key)} {_values(shape)} {in_set(failed_key, 'v')} }}"


def qualified_min(key: str, shape: Shape, failed_key: str, n: int) -> str:
    """Focus nodes with fewer than n value nodes that conform to the qualified value shape."""
    conforming = f"FILTER NOT EXISTS {{ {in_set(failed_key, 'v')} }}"
    return count_check(key, shape, "<", n, conforming)


def less_than_or_equals(key: str, shape: Shape, other: URIRef) -> str:
    """One row per pair (value node, value of `other`) where value <= other is not true."""
    return (f"SELECT ?this ?v ?other WHERE {{ {in_set(key)} {_values(shape)} ?this {n3(other)} ?other . "
            f"FILTER (!COALESCE(?v <= ?other, false)) }}")


def min_inclusive(key: str, shape: Shape, minimum: Literal) -> str:
    return _select(key, shape, f"!COALESCE(?v >= {n3(minimum)}, false)")


def sparql_constraint(key: str, c: Constraint) -> str:
    return c.query.text(in_set(key))
