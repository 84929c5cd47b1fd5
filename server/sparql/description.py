"""The SPARQL 1.1 Service Description (`sd:`) served at `GET /sparql` without a query when RDF is asked for.

It lists the language, the result formats, the features, the default dataset (the KB, described in full by
the VoID document at `/.well-known/void`) with its named graphs, and the limits this endpoint enforces. The
limits have no standard vocabulary, so they use terms in the namespace `{base}sparql#`, which are defined in
this same document (so the namespace dereferences: `/sparql` with an RDF Accept header is this document).
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import OWL, RDF, RDFS, VOID, XSD

from kb import rdfio

from .results import FORMATS, JSON_MEMBER, LIMIT_HEADER, TRUNCATED_HEADER

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
ENT = Namespace("http://www.w3.org/ns/entailment/")
W3F = Namespace("http://www.w3.org/ns/formats/")

FORMAT_IRIS = {
    "json": W3F.SPARQL_Results_JSON, "xml": W3F.SPARQL_Results_XML, "csv": W3F.SPARQL_Results_CSV,
    "tsv": W3F.SPARQL_Results_TSV, "turtle": W3F.Turtle, "ntriples": W3F["N-Triples"],
    "jsonld": W3F["JSON-LD"], "rdfxml": W3F.RDF_XML, "trig": W3F.TriG, "nquads": W3F["N-Quads"],
}

LIMIT_TERMS = (
    ("maxRows", "maximum rows", "The most rows (SELECT) or triples (CONSTRUCT, DESCRIBE) one answer holds. A cut "
     f"answer is flagged by the response headers `{TRUNCATED_HEADER}: true` and `{LIMIT_HEADER}: N`, and in SPARQL "
     f"JSON results by the top-level member `\"{JSON_MEMBER}\": {{\"truncated\": true, \"limit\": N}}`; neither "
     "appears when nothing was cut. 0: no cap."),
    ("queryTimeout", "query timeout", "Seconds a query may run before it is stopped (503). A client may ask for less "
     "with the `timeout` parameter."),
    ("maxRequestBytes", "maximum request size", "Largest request body accepted, in bytes (413 beyond)."),
    ("rateLimit", "rate limit", "Requests per minute per client address (429 with Retry-After beyond; requests that "
     "end in a client error count more). 0: no limit."),
    ("truncationHeader", "truncation header", "Name of the response header that flags a cut answer."),
    ("truncationJsonMember", "truncation member", "Name of the top-level member of SPARQL JSON results that flags a "
     "cut answer."),
)


def description_graph(*, endpoint: str, root: str, base: str, dataset: str, settings: dict, graphs: list[str],
                      triples: int | None) -> Graph:
    kbsd = Namespace(base + "sparql#")
    g = Graph()
    g.bind("sd", SD)
    g.bind("void", VOID)
    g.bind("kbsd", kbsd)
    g.bind("formats", W3F)
    service = URIRef(base + "sparql#service")
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, URIRef(endpoint)))
    g.add((service, RDFS.label, Literal("thb-kb SPARQL 1.1 endpoint (read-only)", lang="en")))
    g.add((service, RDFS.comment, Literal(
        "SPARQL 1.1 Query over GET, form POST and direct POST. Read-only: SPARQL Update is refused (403). "
        "SERVICE, and FROM/FROM NAMED naming graphs the store does not hold, are refused (400): the endpoint "
        "never fetches anything elsewhere. The default graph is the union of all named graphs.", lang="en")))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    g.add((service, SD.defaultEntailmentRegime, ENT.Simple))
    for f in FORMATS:
        g.add((service, SD.resultFormat, FORMAT_IRIS[f.name]))
    ds = URIRef(dataset)
    g.add((service, SD.defaultDataset, ds))
    g.add((ds, RDF.type, SD.Dataset))
    g.add((ds, RDF.type, VOID.Dataset))
    g.add((ds, VOID.sparqlEndpoint, URIRef(endpoint)))
    g.add((ds, RDFS.seeAlso, URIRef(root + ".well-known/void")))
    default = BNode()
    g.add((ds, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    if triples is not None:
        g.add((default, VOID.triples, Literal(triples, datatype=XSD.integer)))
    for name in graphs:
        node = BNode()
        g.add((ds, SD.namedGraph, node))
        g.add((node, RDF.type, SD.NamedGraph))
        g.add((node, SD.name, URIRef(name)))
    values = {
        "maxRows": Literal(int(settings["max_rows"]), datatype=XSD.integer),
        "queryTimeout": Literal(float(settings["query_timeout"]), datatype=XSD.decimal),
        "maxRequestBytes": Literal(int(settings["max_body"]), datatype=XSD.integer),
        "rateLimit": Literal(int(settings["rate_limit"]), datatype=XSD.integer),
        "truncationHeader": Literal(TRUNCATED_HEADER),
        "truncationJsonMember": Literal(JSON_MEMBER),
    }
    for local, label, comment in LIMIT_TERMS:
        term = kbsd[local]
        g.add((service, term, values[local]))
        g.add((term, RDF.type, RDF.Property))
        g.add((term, RDF.type, OWL.DatatypeProperty))
        g.add((term, RDFS.label, Literal(label, lang="en")))
        g.add((term, RDFS.comment, Literal(comment, lang="en")))
        g.add((term, RDFS.domain, SD.Service))
        g.add((term, RDFS.isDefinedBy, URIRef(base + "sparql")))
    return g


def serialise(graph: Graph, fmt_name: str) -> bytes:
    return rdfio.serialize_graph(graph, rdfio.BY_NAME[fmt_name])
