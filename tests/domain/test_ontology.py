"""The ontology: header, quality rules (ontology/checks/*.rq), and the shapes graph against SHACL-SHACL."""

from __future__ import annotations

from pathlib import Path

import pyshacl
import pytest
from domain_support import ONTOLOGY_DIR, data_graph, load, ontology_graph, shapes_graph
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SH, SKOS, XSD

THB = Namespace("https://w3id.org/thb-kb/def#")
ONTOLOGY = URIRef("https://w3id.org/thb-kb/def")
CHECKS = sorted((ONTOLOGY_DIR / "checks").glob("*.rq"))


def union() -> Graph:
    g = Graph()
    g += ontology_graph()
    g += shapes_graph()
    g += data_graph()
    return g


def test_there_are_checks():
    names = {c.name for c in CHECKS}
    assert {"labels-definitions.rq", "undefined-terms.rq", "subclass-cycle.rq", "concept-one-scheme.rq"} <= names


@pytest.mark.parametrize("check", CHECKS, ids=lambda p: p.name)
def test_check_returns_no_rows(check: Path):
    rows = list(union().query(check.read_text(encoding="utf-8")))
    assert rows == [], f"{check.name} found problems: {rows[:10]}"


@pytest.mark.parametrize("check,defect", [
    ("labels-definitions.rq", lambda g: g.remove((THB.goal, RDFS.label, Literal("objectif", lang="fr")))),
    ("undefined-terms.rq", lambda g: g.add((URIRef("https://w3id.org/thb-kb/id/event/x"), THB.notDefined, Literal(1)))),
    ("misused-terms.rq", lambda g: g.add((URIRef("https://w3id.org/thb-kb/id/event/x"), RDF.type, THB.partOfAction))),
    ("subclass-cycle.rq", lambda g: g.add((THB.Action, RDFS.subClassOf, THB.Action))),
    ("concept-one-scheme.rq", lambda g: g.add((URIRef("https://w3id.org/thb-kb/id/concept/role/host"), SKOS.inScheme,
                                               URIRef("https://w3id.org/thb-kb/id/concept/theme")))),
    ("concept-defined.rq", lambda g: g.add((URIRef("https://w3id.org/thb-kb/id/event/x"), DCTERMS.type,
                                            URIRef("https://w3id.org/thb-kb/id/concept/event-type/nothing")))),
    ("concept-labels.rq", lambda g: g.remove((URIRef("https://w3id.org/thb-kb/id/concept/role/host"), SKOS.prefLabel, None))),
])
def test_check_catches_its_defect(check, defect):
    """Each rule really fires: one planted defect gives at least one row."""
    g = union()
    defect(g)
    rows = list(g.query((ONTOLOGY_DIR / "checks" / check).read_text(encoding="utf-8")))
    assert rows, f"{check} missed the planted defect"


def test_ontology_header():
    g = load(ONTOLOGY_DIR / "thb.ttl")
    assert (ONTOLOGY, RDF.type, OWL.Ontology) in g
    assert g.value(ONTOLOGY, OWL.versionIRI) is not None
    assert g.value(ONTOLOGY, OWL.versionInfo) is not None
    for p in (DCTERMS.title, DCTERMS.description):
        langs = {o.language for o in g.objects(ONTOLOGY, p)}
        assert {"en", "fr"} <= langs, p
    assert g.value(ONTOLOGY, DCTERMS.license) is not None
    for p in (DCTERMS.created, DCTERMS.modified):
        assert g.value(ONTOLOGY, p).datatype == XSD.date


def test_core_classes_and_properties_are_defined():
    g = ontology_graph()
    for c in ("Action", "Programme", "Convention", "Agency", "Event", "Report", "SourceDocument",
              "Participation", "Place", "Person"):
        assert (THB[c], RDF.type, OWL.Class) in g, c
        assert list(g.objects(THB[c], RDFS.subClassOf)), f"{c} reuses no class"
    for p in ("partOfAction", "partOfProgramme", "appliesConvention", "organiser"):
        assert (THB[p], RDF.type, OWL.ObjectProperty) in g, p
    assert (THB.organiser, RDFS.subPropertyOf, URIRef("https://schema.org/organizer")) in g


def test_the_five_concept_schemes_exist_with_concepts_labelled_in_en_and_fr():
    g = ontology_graph()
    schemes = {str(s).rsplit("/", 1)[1] for s in g.subjects(RDF.type, SKOS.ConceptScheme)}
    assert {"event-type", "agency-type", "theme", "role", "attendance-mode"} <= schemes
    for scheme in g.subjects(RDF.type, SKOS.ConceptScheme):
        concepts = set(g.subjects(SKOS.inScheme, scheme))
        assert concepts, scheme
        for c in concepts | {scheme}:
            assert {"en", "fr"} <= {label.language for label in g.objects(c, SKOS.prefLabel)}, c


def test_alignments_are_separate_from_the_core():
    core = load(ONTOLOGY_DIR / "thb.ttl")
    assert not list(core.triples((None, SKOS.closeMatch, None)))
    assert not list(core.triples((None, OWL.equivalentClass, None)))
    assert list(load(ONTOLOGY_DIR / "alignments.ttl").triples((None, SKOS.closeMatch, None)))


def test_shapes_conform_to_shacl_shacl():
    shacl_shacl = Path(pyshacl.__file__).parent / "assets" / "shacl-shacl.ttl"
    conforms, _, text = pyshacl.validate(shapes_graph(), shacl_graph=load(shacl_shacl), inference="none")
    assert conforms, text


def test_every_constraint_has_an_english_message():
    """Every node that holds a constraint (node and property shapes, nested sh:node / sh:or /
    sh:qualifiedValueShape shapes, SPARQL constraints) has an English sh:message; SPARQL targets need none."""
    g = shapes_graph()
    parameters = {SH["class"], SH.datatype, SH.minCount, SH.maxCount, SH.pattern, SH.nodeKind, SH["in"],
                  SH.hasValue, SH.languageIn, SH.uniqueLang, SH.node, SH["or"], SH["and"], SH["not"], SH.xone,
                  SH.qualifiedValueShape, SH.sparql, SH.select, SH.minInclusive, SH.maxInclusive,
                  SH.minExclusive, SH.maxExclusive, SH.minLength, SH.maxLength, SH.equals, SH.disjoint,
                  SH.lessThan, SH.lessThanOrEquals, SH.closed, SH.property}
    shapes = {s for p in parameters for s in g.subjects(p, None)} | set(g.subjects(RDF.type, SH.NodeShape))
    shapes -= set(g.subjects(RDF.type, SH.SPARQLTarget))
    assert len(shapes) > 100  # the nested shapes are counted too
    missing = [s for s in shapes if not any(m.language == "en" for m in g.objects(s, SH.message))]
    assert missing == []
