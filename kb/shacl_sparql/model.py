"""The shapes graph read into shape objects, refusing every SHACL feature the SPARQL engine does not implement.

Supported (what shapes/*.ttl use): node and property shapes; targets sh:targetClass (instances through
rdf:type/rdfs:subClassOf*) and SPARQL-based targets (sh:target [ a sh:SPARQLTarget ; sh:select ... ]); paths
that are an IRI or [ sh:inversePath IRI ]; sh:class, sh:datatype, sh:nodeKind, sh:minCount, sh:maxCount,
sh:pattern (without sh:flags), sh:languageIn, sh:uniqueLang true, sh:node, sh:property, sh:hasValue, sh:in,
sh:or, sh:lessThanOrEquals, sh:minInclusive, sh:qualifiedValueShape with sh:qualifiedMinCount, SPARQL-based
constraints (sh:sparql with sh:select, sh:prefixes, sh:message, sh:deactivated); sh:severity, sh:message,
sh:deactivated. Anything else in the sh: namespace raises Unsupported while the shapes are loaded, so that the
caller can use pySHACL instead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD
from rdflib.term import Node

from .regex import python_to_rust_regex
from .sparql_text import TargetQuery, Unsupported, constraint_query, target_query  # noqa: F401

# constraint parameter -> (kind, constraint component)
COMPONENTS = {
    SH["class"]: ("class", SH.ClassConstraintComponent),
    SH.datatype: ("datatype", SH.DatatypeConstraintComponent),
    SH.nodeKind: ("nodeKind", SH.NodeKindConstraintComponent),
    SH.minCount: ("minCount", SH.MinCountConstraintComponent),
    SH.maxCount: ("maxCount", SH.MaxCountConstraintComponent),
    SH.pattern: ("pattern", SH.PatternConstraintComponent),
    SH.languageIn: ("languageIn", SH.LanguageInConstraintComponent),
    SH.uniqueLang: ("uniqueLang", SH.UniqueLangConstraintComponent),
    SH.node: ("node", SH.NodeConstraintComponent),
    SH.hasValue: ("hasValue", SH.HasValueConstraintComponent),
    SH["in"]: ("in", SH.InConstraintComponent),
    SH["or"]: ("or", SH.OrConstraintComponent),
    SH.lessThanOrEquals: ("lessThanOrEquals", SH.LessThanOrEqualsConstraintComponent),
    SH.minInclusive: ("minInclusive", SH.MinInclusiveConstraintComponent),
    SH.qualifiedValueShape: ("qualified", SH.QualifiedMinCountConstraintComponent),
    SH.sparql: ("sparql", SH.SPARQLConstraintComponent),
}
SHAPE_PREDICATES = set(COMPONENTS) | {SH.property, SH.path, SH.targetClass, SH.target, SH.severity, SH.message,
                                      SH.deactivated, SH.qualifiedMinCount}
IGNORED = {SH.name, SH.description, SH.order, SH.group, SH.defaultValue}  # non-validating
OTHER_PREDICATES = {SH.select, SH.prefixes, SH.declare, SH.prefix, SH.namespace, SH.inversePath}
ALLOWED_TYPES = {SH.NodeShape, SH.PropertyShape, SH.SPARQLConstraint, SH.SPARQLTarget, SH.PrefixDeclaration}
NODE_KINDS = {SH.IRI, SH.BlankNode, SH.Literal, SH.BlankNodeOrIRI, SH.BlankNodeOrLiteral, SH.IRIOrLiteral}


@dataclass(frozen=True)
class Path:
    iri: URIRef
    inverse: bool = False
    node: Node | None = None  # the shapes-graph node of sh:path (the IRI, or the sh:inversePath blank node)

    def sparql(self) -> str:
        return ("^" if self.inverse else "") + f"<{self.iri}>"


@dataclass(eq=False)
class Constraint:
    kind: str
    component: URIRef
    param: object = None                              # kind-specific value
    shapes: tuple = ()                                # nested shapes (sh:node, sh:or, sh:qualifiedValueShape)
    node: Node | None = None                          # sh:sparql: the constraint node (sh:sourceConstraint)
    query: object = None                              # sh:sparql: sparql_text.ConstraintQuery
    messages: tuple = ()                              # sh:sparql: the constraint's own messages


@dataclass(eq=False)
class Shape:
    node: Node
    key: int
    path: Path | None = None
    severity: URIRef = SH.Violation
    messages: tuple = ()
    deactivated: bool = False
    target_classes: tuple = ()
    sparql_targets: tuple = ()                       # target SELECT texts with their PREFIX lines
    constraints: list = field(default_factory=list)
    properties: list = field(default_factory=list)   # sh:property shapes

    @property
    def is_property(self) -> bool:
        return self.path is not None

    @property
    def has_targets(self) -> bool:
        return bool(self.target_classes or self.sparql_targets)


@dataclass
class ShapesModel:
    graph: Graph
    shapes: list           # every shape, top-level or nested
    top: list              # shapes with targets, in a stable order


def _one(g: Graph, node: Node, pred: URIRef, what: str):
    values = list(g.objects(node, pred))
    if len(values) > 1:
        raise Unsupported(f"{node}: more than one {what}")
    return values[0] if values else None


def _int(g: Graph, node: Node, pred: URIRef, what: str) -> int:
    value = _one(g, node, pred, what)
    if not isinstance(value, Literal) or value.datatype != XSD.integer or not isinstance(value.value, int):
        raise Unsupported(f"{node}: {what} must be one xsd:integer")
    return value.value


def _list(g: Graph, head: Node, what: str) -> list:
    if head == RDF.nil:
        return []
    if not isinstance(head, BNode) or (head, RDF.first, None) not in g:
        raise Unsupported(f"{what} must be an RDF list")
    return list(Collection(g, head))


def _check_vocabulary(g: Graph) -> None:
    allowed = SHAPE_PREDICATES | IGNORED | OTHER_PREDICATES
    for s, p, o in g:
        if isinstance(p, URIRef) and str(p).startswith(str(SH)) and p not in allowed:
            raise Unsupported(f"{p} is not supported by the SPARQL engine (on {s})")
        if p == RDF.type and isinstance(o, URIRef) and str(o).startswith(str(SH)) and o not in ALLOWED_TYPES:
            raise Unsupported(f"{s} a {o}: not supported by the SPARQL engine")


class _Reader:
    def __init__(self, g: Graph):
        self.g = g
        self.made: dict = {}
        self.building: set = set()
        self.keys = itertools.count(1)

    def shape(self, node: Node) -> Shape:
        if node in self.made:
            return self.made[node]
        if node in self.building:
            raise Unsupported(f"recursive shapes are not supported ({node})")
        self.building.add(node)
        g = self.g
        if isinstance(node, Literal):
            raise Unsupported(f"a literal cannot be a shape: {node!r}")
        if {RDFS.Class, OWL.Class} & set(g.objects(node, RDF.type)):
            raise Unsupported(f"{node}: implicit class targets are not supported")
        shape = Shape(node=node, key=next(self.keys))
        path = _one(g, node, SH.path, "sh:path")
        if path is not None:
            shape.path = self.path(node, path)
        severity = _one(g, node, SH.severity, "sh:severity")
        if severity is not None:
            if not isinstance(severity, URIRef):
                raise Unsupported(f"{node}: sh:severity must be an IRI")
            shape.severity = severity
        messages = list(g.objects(node, SH.message))
        if any(not isinstance(m, Literal) for m in messages):
            raise Unsupported(f"{node}: sh:message must be literals")
        shape.messages = tuple(messages)
        deactivated = _one(g, node, SH.deactivated, "sh:deactivated")
        if deactivated is not None:
            if not isinstance(deactivated, Literal) or not isinstance(deactivated.value, bool):
                raise Unsupported(f"{node}: sh:deactivated must be an xsd:boolean")
            shape.deactivated = deactivated.value
        shape.target_classes = tuple(sorted(set(g.objects(node, SH.targetClass)), key=str))
        shape.sparql_targets = tuple(self.target(node, t) for t in sorted(g.objects(node, SH.target), key=str))
        for prop in sorted(g.objects(node, SH.property), key=str):
            child = self.shape(prop)
            if not child.is_property:
                raise Unsupported(f"{prop}: the value of sh:property must be a property shape with sh:path")
            shape.properties.append(child)
        for pred in sorted(set(g.predicates(node)), key=str):
            if pred in COMPONENTS:
                shape.constraints.extend(self.constraints(shape, pred))
        if g.value(node, SH.qualifiedMinCount) is not None and g.value(node, SH.qualifiedValueShape) is None:
            raise Unsupported(f"{node}: sh:qualifiedMinCount without sh:qualifiedValueShape")
        self.building.discard(node)
        self.made[node] = shape
        return shape

    def path(self, node: Node, path: Node) -> Path:
        if isinstance(path, URIRef):
            return Path(path, node=path)
        if isinstance(path, BNode):
            preds = set(self.g.predicates(path))
            inverse = list(self.g.objects(path, SH.inversePath))
            if preds == {SH.inversePath} and len(inverse) == 1 and isinstance(inverse[0], URIRef):
                return Path(inverse[0], inverse=True, node=path)
        raise Unsupported(f"{node}: only IRI and sh:inversePath IRI paths are supported")

    def target(self, node: Node, target: Node) -> str:
        g = self.g
        selects = list(g.objects(target, SH.select))
        if len(selects) != 1 or not isinstance(selects[0], Literal):
            raise Unsupported(f"{node}: sh:target must be a SPARQL-based target with one sh:select")
        return target_query(str(selects[0]), prefixes(g, target))

    def constraints(self, shape: Shape, pred: URIRef) -> list[Constraint]:
        g, node = self.g, shape.node
        kind, component = COMPONENTS[pred]
        values = sorted(g.objects(node, pred), key=lambda v: (type(v).__name__, str(v)))
        one = {"datatype", "nodeKind", "minCount", "maxCount", "languageIn", "uniqueLang", "in", "qualified"}
        if kind in one and len(values) > 1:
            raise Unsupported(f"{node}: more than one {pred}")
        if kind == "class":
            return [Constraint(kind, component, v) for v in values]
        if kind == "datatype":
            if not isinstance(values[0], URIRef) or values[0] in (RDFS.Literal, RDFS.Datatype):
                raise Unsupported(f"{node}: sh:datatype must be an IRI other than rdfs:Literal and rdfs:Datatype")
            return [Constraint(kind, component, values[0])]
        if kind == "nodeKind":
            if values[0] not in NODE_KINDS:
                raise Unsupported(f"{node}: unknown sh:nodeKind {values[0]}")
            return [Constraint(kind, component, values[0])]
        if kind in ("minCount", "maxCount"):
            if not shape.is_property:
                raise Unsupported(f"{node}: {pred} on a node shape is not supported")
            n = _int(g, node, pred, str(pred))
            if n < 0:
                raise Unsupported(f"{node}: {pred} must not be negative")
            return [] if kind == "minCount" and n == 0 else [Constraint(kind, component, n)]
        if kind == "pattern":
            if (node, SH.flags, None) in g:
                raise Unsupported(f"{node}: sh:flags is not supported")
            if any(not isinstance(v, Literal) for v in values):
                raise Unsupported(f"{node}: sh:pattern must be a literal")
            return [Constraint(kind, component, (v, python_to_rust_regex(str(v)))) for v in values]
        if kind == "languageIn":
            langs = _list(g, values[0], "sh:languageIn")
            if any(not isinstance(x, Literal) or not isinstance(x.value, str) for x in langs):
                raise Unsupported(f"{node}: sh:languageIn members must be strings")
            return [Constraint(kind, component, tuple(sorted({str(x).lower() for x in langs})))]
        if kind == "uniqueLang":
            if not shape.is_property or not isinstance(values[0], Literal) or values[0].value is not True:
                raise Unsupported(f"{node}: only sh:uniqueLang true on a property shape is supported")
            return [Constraint(kind, component, True)]
        if kind == "node":
            return [Constraint(kind, component, v, shapes=(self.node_shape(v),)) for v in values]
        if kind == "hasValue":
            return [Constraint(kind, component, v) for v in values]
        if kind == "in":
            return [Constraint(kind, component, tuple(_list(g, values[0], "sh:in")))]
        if kind == "or":
            out = []
            for v in values:
                members = _list(g, v, "sh:or")
                if not members:
                    raise Unsupported(f"{node}: empty sh:or list")
                out.append(Constraint(kind, component, v, shapes=tuple(self.shape(m) for m in members)))
            return out
        if kind == "lessThanOrEquals":
            if any(not isinstance(v, URIRef) for v in values):
                raise Unsupported(f"{node}: sh:lessThanOrEquals must be an IRI")
            return [Constraint(kind, component, v) for v in values]
        if kind == "minInclusive":
            if any(not isinstance(v, Literal) for v in values):
                raise Unsupported(f"{node}: sh:minInclusive must be a literal")
            return [Constraint(kind, component, v) for v in values]
        if kind == "qualified":
            if not shape.is_property:
                raise Unsupported(f"{node}: sh:qualifiedValueShape on a node shape")
            if g.value(node, SH.qualifiedMinCount) is None:
                raise Unsupported(f"{node}: sh:qualifiedValueShape needs sh:qualifiedMinCount")
            n = _int(g, node, SH.qualifiedMinCount, "sh:qualifiedMinCount")
            return [Constraint(kind, component, n, shapes=(self.shape(values[0]),))]
        return [self.sparql(shape, v) for v in values]  # kind == "sparql"

    def node_shape(self, v: Node) -> Shape:
        nested = self.shape(v)
        if nested.is_property:
            raise Unsupported(f"{v}: the value of sh:node must be a node shape")
        return nested

    def sparql(self, shape: Shape, c: Node) -> Constraint:
        g = self.g
        selects = list(g.objects(c, SH.select))
        if len(selects) != 1 or not isinstance(selects[0], Literal) or not isinstance(selects[0].value, str):
            raise Unsupported(f"{shape.node}: sh:sparql needs exactly one sh:select string")
        messages = list(g.objects(c, SH.message))
        if any(not isinstance(m, Literal) or not isinstance(m.value, str) for m in messages):
            raise Unsupported(f"{c}: sh:message of a SPARQL constraint must be strings")
        deactivated = _one(g, c, SH.deactivated, "sh:deactivated")
        if deactivated is not None and (not isinstance(deactivated, Literal) or not isinstance(deactivated.value, bool)):
            raise Unsupported(f"{c}: sh:deactivated must be an xsd:boolean")
        query = constraint_query(str(selects[0]), prefixes(g, c))
        return Constraint("sparql", SH.SPARQLConstraintComponent, bool(deactivated and deactivated.value),
                          node=c, query=query, messages=tuple(messages))


def prefixes(g: Graph, node: Node) -> dict[str, str]:
    """The PREFIX declarations of a SPARQL-based target or constraint, as pySHACL collects them: rdf, rdfs
    and owl, then the sh:declare of its sh:prefixes (an owl:Ontology with declarations gives its own; any
    other value adds the declarations of every owl:Ontology of the shapes graph)."""
    out = {"rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL)}
    ontologies = set(g.subjects(RDF.type, OWL.Ontology))
    every = {d for o in ontologies for d in g.objects(o, SH.declare)}
    declared: dict[str, str] = {}
    for value in g.objects(node, SH.prefixes):
        own = set(g.objects(value, SH.declare))
        for d in (own if own and value in ontologies else every | own):
            names = list(g.objects(d, SH.prefix))
            spaces = list(g.objects(d, SH.namespace))
            if len(names) != 1 or len(spaces) != 1 or not isinstance(names[0], Literal) \
                    or not isinstance(spaces[0], Literal):
                raise Unsupported(f"{d}: a prefix declaration needs one sh:prefix and one sh:namespace literal")
            name, space = str(names[0]), str(spaces[0])
            if declared.get(name, space) != space:
                raise Unsupported(f"prefix {name!r} is declared with two namespaces")
            declared[name] = space
    out.update(declared)
    return out


def load(g: Graph) -> ShapesModel:
    """Read every shape of `g`; raise Unsupported (at loading time) for any feature the engine lacks."""
    _check_vocabulary(g)
    found = set(g.subjects(RDF.type, SH.NodeShape)) | set(g.subjects(RDF.type, SH.PropertyShape))
    for pred in (SH.targetClass, SH.target, SH.property, SH.node):
        found |= {s for s in g.subjects(pred, None)}
    for pred in (SH.property, SH.node, SH.qualifiedValueShape):
        found |= set(g.objects(None, pred))
    for head in g.objects(None, SH["or"]):
        found |= set(_list(g, head, "sh:or"))
    reader = _Reader(g)
    shapes = [reader.shape(n) for n in sorted(found, key=lambda n: (isinstance(n, BNode), str(n)))]
    top = [s for s in shapes if s.has_targets]
    return ShapesModel(graph=g, shapes=list(reader.made.values()), top=top)
