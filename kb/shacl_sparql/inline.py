"""Nested shapes (sh:node, sh:or, sh:qualifiedValueShape) as one SPARQL condition on the value node, when the
shape is simple enough: a node shape whose constraints look at the node alone (compile.ok, sh:hasValue),
with property shapes that only require a value (sh:hasValue, sh:minCount 1) or constrain each value
(compile.ok). That is every nested shape of shapes/*.ttl; the engine evaluates any other nested shape on
the set of value nodes instead (the same semantics, one more pass).

`conforms(shape, "?v", classes)` is true exactly when the node bound to ?v has no validation result against
the shape (pySHACL's conformance: any result, of any severity, fails).
"""

from __future__ import annotations

import itertools

from .compile import VALUE_LOCAL, n3, ok
from .model import Shape

_names = itertools.count(1)


def _local(c, v: str, classes) -> str | None:
    if c.kind in VALUE_LOCAL or c.kind == "datatype":
        return ok(c, v, classes(c.param) if c.kind == "class" else None)
    return None


def conforms(shape: Shape, v: str, classes) -> str | None:
    """The condition, or None when the shape is not simple enough. `classes(cls)`: the class and its
    subclasses in the data graph."""
    if shape.deactivated:
        return "true"
    if shape.is_property:
        return None
    parts = []
    for c in shape.constraints:
        cond = f"sameTerm({v}, {n3(c.param)})" if c.kind == "hasValue" else _local(c, v, classes)
        if cond is None:
            return None
        parts.append(cond)
    for prop in shape.properties:
        cond = _property(prop, v, classes)
        if cond is None:
            return None
        parts.append(cond)
    return "(" + " && ".join(parts) + ")" if parts else "true"


def _property(prop: Shape, v: str, classes) -> str | None:
    if prop.deactivated:
        return "true"
    if prop.properties:
        return None
    path = prop.path.sparql()
    parts = []
    for c in prop.constraints:
        x = f"?inline{next(_names)}"
        if c.kind == "hasValue":
            parts.append(f"EXISTS {{ {v} {path} {n3(c.param)} }}")
        elif c.kind == "minCount" and c.param == 1:
            parts.append(f"EXISTS {{ {v} {path} {x} }}")
        else:
            cond = _local(c, x, classes)
            if cond is None:
                return None
            parts.append(f"NOT EXISTS {{ {v} {path} {x} . FILTER (!{cond}) }}")
    return "(" + " && ".join(parts) + ")" if parts else "true"
