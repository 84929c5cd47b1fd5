"""Severities are deliberate: sh:Violation for what breaks consumers, sh:Warning only for what is merely
incomplete (shapes/common.ttl says so). A warning passes `kb validate` and imports by default, so a warning
that also checks a value's class, datatype or count would let a broken link or a wrong literal in."""

from __future__ import annotations

from domain_support import shapes_graph
from rdflib import Literal
from rdflib.namespace import SH

# constraint parameters that only say "something is missing" (sh:sparql: a hand-written "should" rule, whose
# wording the message test checks)
INCOMPLETENESS = {SH.minCount, SH.qualifiedMinCount, SH.qualifiedValueShape, SH.qualifiedValueShapesDisjoint,
                  SH.sparql}
# the non-validating parts of a shape
NOT_CONSTRAINTS = {SH.path, SH.severity, SH.message, SH.name, SH.description, SH.order, SH.group,
                   SH.deactivated, SH.defaultValue}


def _constraints(g, shape) -> set:
    return {p for p in g.predicates(shape, None) if str(p).startswith(str(SH)) and p not in NOT_CONSTRAINTS}


def _english_messages(g, shape) -> list[str]:
    return [str(m) for m in g.objects(shape, SH.message) if isinstance(m, Literal) and m.language == "en"]


def test_property_warnings_check_only_that_something_is_missing():
    g = shapes_graph()
    wrong = {}
    for shape in g.subjects(SH.severity, SH.Warning):
        if (shape, SH.path, None) in g:
            extra = _constraints(g, shape) - INCOMPLETENESS
            if extra:
                wrong[str(g.value(shape, SH.path))] = sorted(str(p).removeprefix(str(SH)) for p in extra)
    assert wrong == {}, f"warnings that also check values (split them, the value check a violation): {wrong}"


def test_no_warning_on_sparql_constraints():
    """SHACL takes a result's severity from the shape, never from a sh:SPARQLConstraint node: a severity there
    is silently ignored (the "should" rule becomes a violation). Put such a rule in its own property shape."""
    g = shapes_graph()
    ignored = [str(g.value(c, SH.message)) for c in g.objects(None, SH.sparql)
               if g.value(c, SH.severity, default=SH.Violation) != SH.Violation]
    assert ignored == []


def test_there_are_warnings_and_violations():
    g = shapes_graph()
    assert set(g.subjects(SH.severity, SH.Warning)), "no warnings at all: nothing is merely incomplete?"
    assert set(g.subjects(SH.severity, SH.Violation))


def test_messages_say_should_for_warnings_and_must_for_violations():
    g = shapes_graph()
    shapes = {s for s in g.subjects(SH.message, None) if (None, SH.property, s) in g or (None, SH.sparql, s) in g
              or (s, SH.targetClass, None) in g or (s, SH.target, None) in g}
    mismatched = []
    for shape in shapes:
        owner = next(iter(g.subjects(SH.sparql, shape)), shape)  # a SPARQL constraint has its shape's severity
        severity = g.value(owner, SH.severity) or SH.Violation
        for message in _english_messages(g, shape):
            if (" should " in f" {message} ") != (severity == SH.Warning):
                mismatched.append((severity.removeprefix(str(SH)), message))
    assert mismatched == []


def test_an_action_pointing_at_an_agency_as_its_programme_is_a_violation():
    """Regression: the 'should name its programme' warning also held sh:class, so a wrong link only warned."""
    from domain_support import EXAMPLES_DIR, load, validate
    from rdflib import Namespace, URIRef

    thb = Namespace("https://w3id.org/thb-kb/def#")
    data = load(EXAMPLES_DIR / "context.ttl", EXAMPLES_DIR / "action-ActionShape-valid.ttl")
    action = next(data.subjects(thb.partOfProgramme, None))
    assert validate(data) == []
    data.set((action, thb.partOfProgramme, URIRef("https://w3id.org/thb-kb/id/agency/example-agency")))
    assert {(r.path, r.severity) for r in validate(data)} == {(thb.partOfProgramme, SH.Violation)}


def test_a_portuguese_agency_without_a_portuguese_name_is_a_warning():
    """Regression: the rule's sh:Warning sat on its sh:SPARQLConstraint node, where SHACL ignores it."""
    from domain_support import EXAMPLES_DIR, load, validate
    from rdflib import URIRef
    from rdflib.namespace import SKOS

    data = load(EXAMPLES_DIR / "context.ttl", EXAMPLES_DIR / "agency-AgencyShape-valid.ttl")
    country = URIRef("http://publications.europa.eu/resource/authority/country/PRT")
    agency = next(a for a in data.subjects(URIRef("http://purl.org/dc/terms/spatial"), country)
                  if any(n.language == "pt" for n in data.objects(a, SKOS.prefLabel)))
    assert validate(data) == []
    for p in (SKOS.prefLabel, SKOS.altLabel):
        for name in [n for n in data.objects(agency, p) if n.language == "pt"]:
            data.remove((agency, p, name))
    assert {(r.focus, r.path, r.severity) for r in validate(data)} == {(agency, SKOS.prefLabel, SH.Warning)}
