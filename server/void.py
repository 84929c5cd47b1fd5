"""`/.well-known/void`: the VoID description of the KB, with statistics computed from the store.

The dataset is the union of every named graph (what the dumps and the SPARQL default graph hold), so the
triple counts are of DISTINCT triples across graphs. Statistics are computed once per KB version.
`{base}dataset`, the dataset's IRI, redirects (303) here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Blueprint, redirect, url_for
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, FOAF, OWL, RDF, RDFS, SKOS, VOID, XSD

from kb.namespaces import PREFIXES, SD, THB
from kb.store import Store

from .metadata_common import kb, per_version, rdf_response, select_all, web_root

bp = Blueprint("void", __name__)

LINK_PREDICATES = (str(OWL.sameAs), str(SKOS.exactMatch), str(SKOS.closeMatch))
# External identifier spaces we know by name; any other target is grouped by its scheme and host.
KNOWN_TARGETS = (
    ("http://www.wikidata.org/entity/", "Wikidata"),
    ("http://publications.europa.eu/resource/authority/", "EU Publications Office authority tables"),
    ("http://eurovoc.europa.eu/", "EuroVoc"),
    ("http://data.europa.eu/", "data.europa.eu"),
)
FORMATS_NS = "http://www.w3.org/ns/formats/"
DUMPS = ("kb.nt.gz", "kb.nq.gz", "kb.ttl", "kb.jsonld")


@dataclass
class Statistics:
    triples: int = 0
    entities: int = 0
    distinct_subjects: int = 0
    distinct_objects: int = 0
    classes: dict[str, int] = field(default_factory=dict)      # class IRI -> distinct instances
    properties: dict[str, int] = field(default_factory=dict)   # property IRI -> distinct triples
    linksets: dict[tuple[str, str], int] = field(default_factory=dict)  # (predicate, target space) -> triples
    examples: list[str] = field(default_factory=list)
    modified: dt.datetime | None = None


def _one(store: Store, sparql: str) -> int:
    for row in store.query(sparql):
        return int(row["n"].value)
    return 0


def compute_statistics(store: Store, base: str) -> Statistics:
    """Every number VoID publishes, from SPARQL over the union of the named graphs."""
    st = Statistics(modified=store.last_modified())
    distinct = "{ SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } } }"
    for row in select_all(store, f"SELECT ?p (COUNT(*) AS ?n) WHERE {distinct} GROUP BY ?p", "?p"):
        st.properties[row["p"].value] = int(row["n"].value)
    st.triples = sum(st.properties.values())
    id_space = base + "id/"
    st.entities = _one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
                              f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{id_space}")) }}')
    st.distinct_subjects = _one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    st.distinct_objects = _one(store, "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")
    for row in select_all(store, "SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s a ?c } "
                                 "FILTER(isIRI(?c)) } GROUP BY ?c", "?c"):
        st.classes[row["c"].value] = int(row["n"].value)
    # links to external identifiers, counted per predicate and target identifier space by the store
    # (a few rows, whatever the number of links)
    values = " ".join(f"<{p}>" for p in LINK_PREDICATES)
    space = 'REPLACE(STR(?o), "^([^:/?#]+://[^/?#]*).*$", "$1/")'
    for prefix, _name in reversed(KNOWN_TARGETS):
        space = f'IF(STRSTARTS(STR(?o), "{prefix}"), "{prefix}", {space})'
    q = (f"SELECT ?p ?space (COUNT(*) AS ?n) WHERE {{ {{ SELECT DISTINCT ?s ?p ?o WHERE {{ VALUES ?p {{ {values} }} "
         f"GRAPH ?g {{ ?s ?p ?o }} FILTER(isIRI(?s) && isIRI(?o) && STRSTARTS(STR(?s), \"{base}\") && "
         f"!STRSTARTS(STR(?o), \"{base}\")) }} }} BIND({space} AS ?space) }} GROUP BY ?p ?space")
    for row in select_all(store, q, "?p ?space"):
        st.linksets[(row["p"].value, row["space"].value)] = int(row["n"].value)
    thb_classes = " ".join(f"<{THB[c]}>" for c in ("Agency", "Action", "Programme", "Convention", "Event", "Report"))
    q = (f"SELECT ?c (MIN(STR(?s)) AS ?e) WHERE {{ VALUES ?c {{ {thb_classes} }} GRAPH ?g {{ ?s a ?c }} "
         f'FILTER(STRSTARTS(STR(?s), "{id_space}")) }} GROUP BY ?c ORDER BY ?c LIMIT 12')
    st.examples = [row["e"].value for row in store.query(q)]
    return st


def statistics() -> Statistics:
    return per_version("void-statistics", lambda state: compute_statistics(state.store, state.iris.base))[1]


def vocabularies(st: Statistics, ontology: str) -> list[str]:
    """Vocabularies whose terms the KB uses as properties or classes (known namespaces only)."""
    namespaces = sorted({*PREFIXES.values(), ontology + "#"}, key=len, reverse=True)
    used: set[str] = set()
    for term in (*st.properties, *st.classes):
        for ns in namespaces:
            if term.startswith(ns):
                used.add(ns[:-1] if ns.endswith("#") else ns)
                break
    return sorted(used)


def void_graph(st: Statistics, *, base: str, root: str, settings: dict, ontology: str, dataset: str) -> Graph:
    g = Graph()
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    ds = URIRef(dataset)
    doc = URIRef(root + ".well-known/void")
    g.add((doc, RDF.type, VOID.DatasetDescription))
    g.add((doc, DCTERMS.title, Literal("VoID description of thb-kb", lang="en")))
    g.add((doc, FOAF.primaryTopic, ds))
    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, DCTERMS.title, Literal("thb-kb: international cooperation against trafficking in human beings",
                                      lang="en")))
    g.add((ds, DCTERMS.description, Literal(
        "Actions, programmes, conventions, agencies, events and reports of international cooperation against "
        "trafficking in human beings and the smuggling of migrants.", lang="en")))
    g.add((ds, DCTERMS.license, URIRef(settings["license"])))
    publisher = URIRef(base + "catalog#publisher")
    g.add((ds, DCTERMS.publisher, publisher))
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, Literal(settings["publisher_name"])))
    if st.modified is not None:
        g.add((ds, DCTERMS.modified, Literal(st.modified.isoformat(), datatype=XSD.dateTime)))
    g.add((ds, FOAF.homepage, URIRef(root)))
    g.add((ds, RDFS.seeAlso, URIRef(root + "catalog")))
    g.add((ds, VOID.sparqlEndpoint, URIRef(root + "sparql")))
    for name in DUMPS:
        g.add((ds, VOID.dataDump, URIRef(root + "dumps/" + name)))
    for feature in ("Turtle", "N-Triples", "N-Quads", "JSON-LD", "RDF_XML"):
        g.add((ds, VOID.feature, URIRef(FORMATS_NS + feature)))
    g.add((ds, VOID.uriSpace, Literal(base + "id/")))
    for vocab in vocabularies(st, ontology):
        g.add((ds, VOID.vocabulary, URIRef(vocab)))
    for example in st.examples:
        g.add((ds, VOID.exampleResource, URIRef(example)))
    g.add((ds, VOID.triples, Literal(st.triples)))
    g.add((ds, VOID.entities, Literal(st.entities)))
    g.add((ds, VOID.distinctSubjects, Literal(st.distinct_subjects)))
    g.add((ds, VOID.distinctObjects, Literal(st.distinct_objects)))
    g.add((ds, VOID.classes, Literal(len(st.classes))))
    g.add((ds, VOID.properties, Literal(len(st.properties))))
    for cls, n in sorted(st.classes.items()):
        part = BNode()
        g.add((ds, VOID.classPartition, part))
        g.add((part, VOID["class"], URIRef(cls)))
        g.add((part, VOID.entities, Literal(n)))
    for prop, n in sorted(st.properties.items()):
        part = BNode()
        g.add((ds, VOID.propertyPartition, part))
        g.add((part, VOID.property, URIRef(prop)))
        g.add((part, VOID.triples, Literal(n)))
    names = dict(KNOWN_TARGETS)
    for (pred, space), n in sorted(st.linksets.items()):
        target, linkset = BNode(), BNode()
        g.add((target, RDF.type, VOID.Dataset))
        g.add((target, VOID.uriSpace, Literal(space)))
        g.add((target, DCTERMS.title, Literal(names.get(space, urlsplit(space).netloc))))
        g.add((ds, VOID.subset, linkset))
        g.add((linkset, RDF.type, VOID.Linkset))
        g.add((linkset, VOID.linkPredicate, URIRef(pred)))
        g.add((linkset, VOID.subjectsTarget, ds))
        g.add((linkset, VOID.objectsTarget, target))
        g.add((linkset, VOID.triples, Literal(n)))
    # The SPARQL service, described the SPARQL 1.1 Service Description way, pointing back to this dataset.
    service = URIRef(root + "sparql")
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, service))
    g.add((service, SD.defaultDataset, ds))
    return g


def build_void() -> Graph:
    state = kb()
    return void_graph(statistics(), base=state.iris.base, root=web_root(), settings=state.settings,
                      ontology=state.iris.ontology, dataset=state.iris.dataset)


def _html_context(graph: Graph) -> dict:
    return {"stats": statistics(), "title": "VoID description"}


@bp.get("/.well-known/void")
def void():
    return rdf_response(build_void, cache_name="void-rendered", template="metadata_rdf.html",
                        context=_html_context)


@bp.get("/dataset")
def dataset():
    """The dataset's IRI (`{base}dataset`) is a thing, not a document: 303 to its description."""
    return redirect(url_for("void.void"), code=303)
