"""The shapes cover the ontology: every class of ours has a shape, every object property of ours is checked
with sh:class against its range (a link to the wrong kind of thing is a violation), every date is xsd:date."""

from __future__ import annotations

from domain_support import ontology_graph, shapes_graph
from rdflib.namespace import OWL, RDF, RDFS, SH, XSD

THB = "https://w3id.org/thb-kb/def#"
DATES = ("https://schema.org/startDate", "https://schema.org/endDate", "http://www.w3.org/2006/time#inXSDDate",
         "http://purl.org/dc/terms/issued")


def _ours(kind):
    return {t for t in ontology_graph().subjects(RDF.type, kind) if str(t).startswith(THB)}


def test_every_class_of_ours_is_the_target_of_a_shape():
    targeted = set(shapes_graph().objects(None, SH.targetClass))
    assert sorted(_ours(OWL.Class) - targeted) == []


def test_every_object_property_of_ours_is_checked_against_its_range():
    s, o = shapes_graph(), ontology_graph()
    unchecked = []
    for prop in sorted(_ours(OWL.ObjectProperty)):
        rng = o.value(prop, RDFS.range)
        classes = {s.value(ps, SH["class"]) for ps in s.subjects(SH.path, prop)}
        if rng is not None and rng not in classes:
            unchecked.append((str(prop), str(rng)))
    assert unchecked == []


def test_every_date_is_an_xsd_date():
    s = shapes_graph()
    for path in DATES:
        datatypes = {s.value(ps, SH.datatype) for ps in s.subjects(SH.path, None) if str(s.value(ps, SH.path)) == path}
        assert datatypes == {XSD.date}, path
