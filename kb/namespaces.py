"""Namespaces and the IRIs the KB mints, derived from the configured base IRI."""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import DCAT, DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SH, SKOS, TIME, VOID, XSD

DEFAULT_BASE = "https://w3id.org/thb-kb/"
THB = Namespace(DEFAULT_BASE + "def#")
THBSH = Namespace(DEFAULT_BASE + "shapes#")
SCHEMA = Namespace("https://schema.org/")
M8G = Namespace("http://data.europa.eu/m8g/")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
ADMS = Namespace("http://www.w3.org/ns/adms#")

PREFIXES: dict[str, str] = {
    "thb": str(THB),
    "thbsh": str(THBSH),
    "schema": str(SCHEMA),
    "m8g": str(M8G),
    "eli": str(ELI),
    "org": str(ORG),
    "prov": str(PROV),
    "time": str(TIME),
    "skos": str(SKOS),
    "dct": str(DCTERMS),
    "dcat": str(DCAT),
    "foaf": str(FOAF),
    "owl": str(OWL),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "xsd": str(XSD),
    "sh": str(SH),
    "void": str(VOID),
    "sd": str(SD),
    "locn": str(LOCN),
    "adms": str(ADMS),
}

THING_TYPES = ("action", "programme", "convention", "agency", "event", "report", "document", "place", "person")


class Iris:
    """IRIs under one base: things, documents, graphs, the vocabulary."""

    def __init__(self, base: str = DEFAULT_BASE):
        self.base = base if base.endswith("/") else base + "/"

    def graph(self, source_id: str) -> str:
        return f"{self.base}graph/{source_id}"

    @property
    def meta_graph(self) -> str:
        return self.graph("meta")

    @property
    def ontology(self) -> str:
        return self.base + "def"

    @property
    def shapes(self) -> str:
        return self.base + "shapes"

    @property
    def dataset(self) -> str:
        return self.base + "dataset"
