"""Helpers of the differential test of kb.shacl_sparql against pySHACL: both engines run through
kb.shacl_runner._shacl (N-Triples in, report N-Triples out), and their reports are compared as multisets of
result tuples (focus, path, value, severity, source shape, constraint component, messages). Blank nodes
(shapes, inverse paths, blank-node focus nodes) have other labels in each report: they are compared by their
description, which both reports carry."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal
from rdflib.namespace import SH
from rdflib.namespace import XSD as XSD_NS

from kb import shacl_runner

THB = "https://w3id.org/thb-kb/def#"
ID = "https://w3id.org/thb-kb/id/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCT = "http://purl.org/dc/terms/"
SCHEMA = "https://schema.org/"
M8G = "http://data.europa.eu/m8g/"
PROV = "http://www.w3.org/ns/prov#"
TIME = "http://www.w3.org/2006/time#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD_STRING = XSD_NS.string


def _canon(g: Graph, node, depth: int = 0) -> str:
    if isinstance(node, Literal) and node.datatype == XSD_STRING:  # RDF 1.1: "x" and "x"^^xsd:string are one term
        return Literal(str(node)).n3()
    if not isinstance(node, BNode):
        return node.n3()
    if depth > 6:
        return "[...]"
    return "[" + " ; ".join(sorted(f"{p.n3()} {_canon(g, o, depth + 1)}" for p, o in g.predicate_objects(node))) + "]"


def result_keys(report_nt: bytes) -> Counter:
    g = Graph().parse(data=report_nt.decode("utf-8"), format="nt")
    keys = Counter()
    for r in g.objects(None, SH.result):
        def one(p):
            v = g.value(r, p)
            return None if v is None else _canon(g, v)

        messages = frozenset((str(m), m.language) for m in g.objects(r, SH.resultMessage) if isinstance(m, Literal))
        keys[(one(SH.focusNode), one(SH.resultPath), one(SH.value), one(SH.resultSeverity), one(SH.sourceShape),
              one(SH.sourceConstraintComponent), messages)] += 1
    return keys


def both(data_nt: bytes, focus: list[str] | None = None) -> tuple[Counter, Counter]:
    """(pySHACL's results, the SPARQL engine's results) for the same data and focus list."""
    return (result_keys(shacl_runner._shacl(data_nt, focus, engine="pyshacl")),
            result_keys(shacl_runner._shacl(data_nt, focus, engine="sparql")))


def difference(a: Counter, b: Counter) -> str:
    lines = [f"only pySHACL: {k}" for k in (a - b)] + [f"only SPARQL:  {k}" for k in (b - a)]
    return "\n".join(lines[:20])


# --- the generated world and its mutations -------------------------------------------------------------------

class World:
    """The triples of a generated world, with look-ups by type, subject and predicate, that mutations edit."""

    def __init__(self, triples: list[ox.Triple], rng: random.Random):
        self._triples = list(triples)
        self._by_subject: dict | None = None
        self.rng = rng
        self.used: set = set()  # subjects a mutation already changed: each mutation gets fresh ones

    @property
    def triples(self) -> list[ox.Triple]:
        return self._triples

    @triples.setter
    def triples(self, value: list[ox.Triple]) -> None:
        self._triples = value
        self._by_subject = None

    def _index(self) -> dict:
        if self._by_subject is None:
            self._by_subject = defaultdict(list)
            for t in self._triples:
                self._by_subject[t.subject].append(t)
        return self._by_subject

    def nt(self) -> bytes:
        return ox.serialize(self.triples, format=ox.RdfFormat.N_TRIPLES)

    def of_type(self, cls: str) -> list:
        wanted = ox.NamedNode(cls if "://" in cls else THB + cls)
        return sorted({t.subject for t in self.triples if t.predicate.value == RDF_TYPE and t.object == wanted},
                      key=str)

    def pick(self, cls: str, having: str | None = None):
        candidates = [s for s in self.of_type(cls) if s not in self.used
                      and (having is None or self.values(s, having))]
        s = self.rng.choice(candidates)
        self.used.add(s)
        return s

    def values(self, s, p: str) -> list:
        return [t.object for t in self._index().get(s, ()) if t.predicate.value == p]

    def drop(self, s, p: str, o=None) -> None:
        self.triples = [t for t in self.triples
                        if not (t.subject == s and t.predicate.value == p and (o is None or t.object == o))]

    def add(self, s, p: str, o) -> None:
        self.triples = self._triples + [ox.Triple(s, ox.NamedNode(p), o)]

    def set(self, s, p: str, o) -> None:
        self.drop(s, p)
        self.add(s, p, o)

    def rename(self, old, new) -> None:
        def r(x):
            return new if x == old else x
        self.triples = [ox.Triple(r(t.subject), t.predicate, r(t.object)) for t in self.triples]


def _date(text: str, dt: str = "date") -> ox.Literal:
    return ox.Literal(text, datatype=ox.NamedNode(XSD + dt))


def _m(w: World, fn) -> tuple[set, set]:
    touched, components = fn(w)
    return {str(x.value) if hasattr(x, "value") else str(x) for x in touched}, set(components)


def m_drop_required(w):
    e = w.pick("Event")
    w.drop(e, DCT + "title")
    return {e}, {"MinCountConstraintComponent"}


def m_duplicate_value(w):
    e = w.pick("Event")
    w.add(e, M8G + "format", ox.NamedNode(ID + "concept/attendance-mode/hybrid"))
    w.add(e, DCT + "type", ox.NamedNode(ID + "concept/event-type/workshop"))
    return {e}, {"MaxCountConstraintComponent"}


def m_change_datatype(w):
    r = w.pick("Report", having=DCT + "issued")
    issued = w.values(r, DCT + "issued")[0]
    w.set(r, DCT + "issued", ox.Literal(issued.value))  # an xsd:string
    e = w.pick("Event")
    w.set(e, DCT + "title", ox.Literal("Untagged title"))  # not language-tagged
    return {r, e}, {"DatatypeConstraintComponent"}


def m_ill_typed_literal(w):
    r = w.pick("Report", having=DCT + "issued")
    w.set(r, DCT + "issued", _date("2021-13-45"))
    i = w.pick(TIME + "Instant")
    w.set(i, TIME + "inXSDDate", _date("2021-02-30"))
    return {r, i}, {"DatatypeConstraintComponent"}


def m_wrong_type_link(w):
    e = w.pick("Event")
    place = w.of_type("Place")[0]
    w.set(e, THB + "organiser", place)
    return {e}, {"ClassConstraintComponent"}


def m_literal_as_class_value(w):
    e = w.pick("Event")
    w.set(e, THB + "partOfAction", ox.Literal("not an action"))
    return {e}, {"ClassConstraintComponent"}


def m_broken_iri(w):
    a = w.pick("Agency")
    bad = ox.NamedNode(ID + "agency/Bad_Slug-" + str(w.rng.randrange(1000)))
    w.rename(a, bad)
    w.used.add(bad)
    return {bad}, {"PatternConstraintComponent"}


def m_second_english_title(w):
    e = w.pick("Event")
    w.add(e, DCT + "title", ox.Literal("Another English title", language="en"))
    w.add(e, RDFS_LABEL, ox.Literal("Another English label", language="en"))
    return {e}, {"UniqueLangConstraintComponent"}


def m_no_english_name(w):
    a = w.pick("Agency")
    for lit in w.values(a, SKOS + "prefLabel"):
        if lit.language == "en":
            w.drop(a, SKOS + "prefLabel", lit)
            w.add(a, SKOS + "prefLabel", ox.Literal(lit.value, language="de"))
    return {a}, {"QualifiedMinCountConstraintComponent"}


def m_wrong_scheme(w):
    e = w.pick("Event")
    w.set(e, DCT + "type", ox.NamedNode(ID + "concept/attendance-mode/online"))
    return {e}, {"NodeConstraintComponent"}


def m_bad_participant(w):
    p = w.pick("Participation")
    w.set(p, M8G + "hasParticipant", w.of_type("Report")[0])
    return {p}, {"OrConstraintComponent"}


def m_bad_country(w):
    a = w.pick("Agency")
    w.set(a, DCT + "spatial", ox.NamedNode("http://publications.europa.eu/resource/authority/country/tur"))
    pl = w.pick("Place")
    w.set(pl, DCT + "spatial", ox.Literal("http://publications.europa.eu/resource/authority/country/TUR\n"))
    return {a, pl}, {"PatternConstraintComponent", "NodeKindConstraintComponent"}


def m_mode_not_in_list(w):
    e = w.pick("Event")
    w.set(e, SCHEMA + "eventAttendanceMode", ox.NamedNode(SCHEMA + "UnknownEventAttendanceMode"))
    return {e}, {"InConstraintComponent", "SPARQLConstraintComponent"}


def m_end_before_start(w):
    e = w.pick("Event")
    w.set(e, SCHEMA + "endDate", _date("1999-01-01"))
    w.add(e, SCHEMA + "endDate", _date("1998-01-01"))  # two end dates: one result per pair
    return {e}, {"LessThanOrEqualsConstraintComponent"}


def m_min_inclusive(w):
    p = w.pick("Participation")
    w.add(p, THB + "numberOfRepresentatives", ox.Literal("0", datatype=ox.NamedNode(XSD + "integer")))
    q = w.pick("Participation")
    w.add(q, THB + "numberOfRepresentatives", ox.Literal("three"))  # a string: incomparable with 1
    return {p, q}, {"MinInclusiveConstraintComponent"}


def m_orphan_participation(w):
    e = w.pick("Event", having=M8G + "hasParticipation")
    part = w.values(e, M8G + "hasParticipation")[0]
    w.drop(e, M8G + "hasParticipation", part)
    w.used.add(part)
    return {part}, {"MinCountConstraintComponent"}


def m_blank_node_focus(w):
    p = w.pick("Participation")
    b = ox.BlankNode("mutated" + str(w.rng.randrange(10**6)))
    w.rename(p, b)
    w.drop(b, M8G + "role")
    return {b}, {"MinCountConstraintComponent"}


def m_sparql_cited(w):
    a = w.pick("Agency")
    w.drop(a, PROV + "wasDerivedFrom")
    return {a}, {"SPARQLConstraintComponent"}


def m_sparql_dates(w):
    e = w.pick("Event")
    w.set(e, SCHEMA + "startDate", _date("1990-01-01"))
    w.drop(e, SCHEMA + "endDate")
    return {e}, {"SPARQLConstraintComponent"}


def m_sparql_attendance(w):
    e = w.pick("Event")
    modes = [SCHEMA + m for m in ("OnlineEventAttendanceMode", "OfflineEventAttendanceMode",
                                  "MixedEventAttendanceMode")]
    current = w.values(e, SCHEMA + "eventAttendanceMode")[0].value
    w.set(e, SCHEMA + "eventAttendanceMode", ox.NamedNode(next(m for m in modes if m != current)))
    return {e}, {"SPARQLConstraintComponent"}


def m_sparql_no_date(w):
    e = w.pick("Event")
    w.drop(e, TIME + "hasTime")
    return {e}, {"SPARQLConstraintComponent"}


def m_sparql_beneficiary(w):
    a = w.pick("Action", having=PROV + "qualifiedAssociation")
    w.drop(a, PROV + "qualifiedAssociation")
    return {a}, {"SPARQLConstraintComponent"}


def m_sparql_undefined_terms(w):
    e = w.pick("Event")
    w.add(e, THB + "undefinedProperty", ox.Literal("x"))
    w.add(e, RDF_TYPE, ox.NamedNode(THB + "UndefinedClass"))
    return {e}, {"SPARQLConstraintComponent"}


def m_sparql_interval(w):
    i = w.pick(TIME + "ProperInterval")
    end = w.values(i, TIME + "hasEnd")[0]
    w.set(end, TIME + "inXSDDate", _date("1900-01-01"))
    return {i}, {"SPARQLConstraintComponent"}


MUTATIONS = {name[2:].replace("_", "-"): fn for name, fn in sorted(globals().items()) if name.startswith("m_")}


def mutate(triples: list[ox.Triple], seed: int) -> tuple[World, dict]:
    """Every mutation once, each on entities no other mutation touched; returns the world and, per mutation,
    (focus nodes it touched, constraint components it must produce results for)."""
    w = World(triples, random.Random(seed))
    expected = {name: _m(w, fn) for name, fn in MUTATIONS.items()}
    return w, expected


def unmet(results: Counter, expected: dict) -> list[str]:
    """The mutations that produced no result on a node they touched with a component they expect."""
    found = defaultdict(set)
    for (focus, *_rest, component, _messages), _n in results.items():
        found[focus].add(component.rsplit("#", 1)[-1].rstrip(">"))
    missing = []
    for name, (touched, components) in expected.items():
        keys = {f"<{t}>" for t in touched} | {t for t in touched}
        if not any(found[k] & components for k in keys) and not (
                any(t.startswith("mutated") for t in touched)
                and any(f.startswith("[") and c & components for f, c in found.items())):
            missing.append(name)
    return missing
