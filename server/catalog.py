"""`/catalog`: a DCAT-AP 3.0.1 record of the catalogue, the dataset, its distributions (the dumps and the
SPARQL endpoint) and the SPARQL data service, for the data portals that harvest DCAT-AP.

Controlled values come from the EU Publications Office authority tables that DCAT-AP names (data-theme,
file-type, language) and from IANA media types; each value is typed and labelled in the record so that the
DCAT-AP range shapes are met without fetching anything. Identifiers: the catalogue is `{base}catalog`, the
dataset `{base}dataset`, the parts of the record `{base}catalog#...`.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, request
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS, XSD

from kb.namespaces import PREFIXES

from . import dumps
from .http_common import abort_with
from .metadata_common import kb, rdf_response, web_root

bp = Blueprint("catalog", __name__)

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
AUTHORITY = "http://publications.europa.eu/resource/authority/"
DATA_THEME = AUTHORITY + "data-theme"
# Codes checked against the data-theme table (labels as published there, English).
THEMES = {
    "JUST": "Justice, legal system and public safety",
    "SOCI": "Population and society",
    "GOVE": "Government and public sector",
    "INTR": "International issues",
}
LANGUAGE_ENG = AUTHORITY + "language/ENG"
SPARQL_PROTOCOL = "https://www.w3.org/TR/sparql11-protocol/"
SPARQL_QUERY = "https://www.w3.org/TR/sparql11-query/"
KEYWORDS = ("trafficking in human beings", "smuggling of migrants", "international cooperation",
            "linked open data", "Council of Europe", "European Union")
ISSUED = dt.date(2026, 11, 24)  # first publication of this catalogue


def _date_time(value: dt.datetime) -> Literal:
    return Literal(value.astimezone(dt.timezone.utc).replace(microsecond=0).isoformat(), datatype=XSD.dateTime)


def catalog_graph(*, base: str, root: str, settings: dict, dataset: str, modified: dt.datetime,
                  sizes: dict[str, int], with_dataset: bool = True) -> Graph:
    """The record; without the dataset (and what only it needs) when `with_dataset` is false: the answer to a
    harvester whose `modified_since` is later than the last change."""
    g = Graph()
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    g.bind("vcard", VCARD)
    cat, ds = URIRef(base + "catalog"), URIRef(dataset)
    part = lambda name: URIRef(f"{base}catalog#{name}")  # noqa: E731
    publisher, contact, service = part("publisher"), part("contact-point"), part("sparql-service")
    licence, lang = URIRef(settings["license"]), URIRef(LANGUAGE_ENG)
    issued, mod = Literal(ISSUED.isoformat(), datatype=XSD.date), _date_time(modified)
    title = "thb-kb: international cooperation against trafficking in human beings"
    description = ("Linked Open Data on international cooperation against trafficking in human beings and the "
                   "smuggling of migrants: funded actions, programmes, conventions, agencies, events and reports, "
                   "with an OWL ontology and SHACL shapes.")

    # the catalogue
    g.add((cat, RDF.type, DCAT.Catalog))
    g.add((cat, DCTERMS.title, Literal("thb-kb catalogue", lang="en")))
    g.add((cat, DCTERMS.description, Literal("The datasets and data services published by thb-kb.", lang="en")))
    g.add((cat, DCTERMS.publisher, publisher))
    g.add((cat, DCTERMS.license, licence))
    g.add((cat, DCTERMS.language, lang))
    g.add((cat, DCTERMS.issued, issued))
    g.add((cat, DCTERMS.modified, mod))
    g.add((cat, FOAF.homepage, URIRef(root)))
    g.add((cat, DCAT.themeTaxonomy, URIRef(DATA_THEME)))
    g.add((cat, DCAT.service, service))
    # hydra: how many datasets this answer lists (the whole catalogue is one page, so no next page)
    g.add((cat, HYDRA.totalItems, Literal(1 if with_dataset else 0, datatype=XSD.integer)))
    if with_dataset:
        g.add((cat, DCAT.dataset, ds))
        _dataset(g, ds, base=base, root=root, settings=settings, dataset=dataset, sizes=sizes, mod=mod,
                 issued=issued, title=title, description=description, publisher=publisher, contact=contact,
                 licence=licence, lang=lang, service=service)
        g.add((service, DCAT.servesDataset, ds))
    _service_and_ranges(g, root=root, settings=settings, publisher=publisher, contact=contact, licence=licence,
                        lang=lang, service=service)
    return g


def _dataset(g: Graph, ds: URIRef, *, base: str, root: str, settings: dict, dataset: str, sizes: dict[str, int],
             mod: Literal, issued: Literal, title: str, description: str, publisher: URIRef, contact: URIRef,
             licence: URIRef, lang: URIRef, service: URIRef) -> None:
    part = lambda name: URIRef(f"{base}catalog#{name}")  # noqa: E731

    # the dataset
    g.add((ds, RDF.type, DCAT.Dataset))
    g.add((ds, DCTERMS.title, Literal(title, lang="en")))
    g.add((ds, DCTERMS.description, Literal(description, lang="en")))
    g.add((ds, DCTERMS.identifier, Literal(dataset)))
    g.add((ds, DCTERMS.publisher, publisher))
    g.add((ds, DCAT.contactPoint, contact))
    g.add((ds, DCTERMS.language, lang))
    g.add((ds, DCTERMS.issued, issued))
    g.add((ds, DCTERMS.modified, mod))
    g.add((ds, DCAT.landingPage, URIRef(root)))
    for code in THEMES:
        g.add((ds, DCAT.theme, URIRef(f"{DATA_THEME}/{code}")))
    for word in KEYWORDS:
        g.add((ds, DCAT.keyword, Literal(word, lang="en")))
    g.add((ds, RDFS.seeAlso, URIRef(root + ".well-known/void")))

    # one distribution per dump file, and the SPARQL endpoint as a distribution served by the data service
    for d in dumps.DUMP_FILES:
        dist = part("dump-" + d.name.replace(".", "-"))
        g.add((ds, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, Literal(f"Dump of the whole KB: {d.title}", lang="en")))
        g.add((dist, DCAT.accessURL, URIRef(root + "dumps/")))
        g.add((dist, DCAT.downloadURL, URIRef(root + "dumps/" + d.name)))
        g.add((dist, DCTERMS.format, URIRef(dumps.FILE_TYPE + d.file_type)))
        g.add((dist, DCAT.mediaType, URIRef(dumps.IANA + d.media_type)))
        if d.gzip:
            g.add((dist, DCAT.compressFormat, URIRef(dumps.IANA + "application/gzip")))
        if d.name in sizes:
            g.add((dist, DCAT.byteSize, Literal(sizes[d.name], datatype=XSD.nonNegativeInteger)))
        g.add((dist, DCTERMS.license, licence))
        g.add((dist, DCTERMS.modified, mod))
    endpoint_dist = part("sparql-endpoint")
    g.add((ds, DCAT.distribution, endpoint_dist))
    g.add((endpoint_dist, RDF.type, DCAT.Distribution))
    g.add((endpoint_dist, DCTERMS.title, Literal("SPARQL 1.1 endpoint", lang="en")))
    g.add((endpoint_dist, DCAT.accessURL, URIRef(root + "sparql")))
    g.add((endpoint_dist, DCAT.accessService, service))
    g.add((endpoint_dist, DCTERMS.license, licence))


def _service_and_ranges(g: Graph, *, root: str, settings: dict, publisher: URIRef, contact: URIRef,
                        licence: URIRef, lang: URIRef, service: URIRef) -> None:
    # the SPARQL data service
    g.add((service, RDF.type, DCAT.DataService))
    g.add((service, DCTERMS.title, Literal("thb-kb SPARQL endpoint", lang="en")))
    g.add((service, DCTERMS.description, Literal(
        "SPARQL 1.1 Query over the whole KB (the default graph is the union of the named graphs); results in "
        "JSON, XML, CSV, TSV and every RDF format.", lang="en")))
    g.add((service, DCAT.endpointURL, URIRef(root + "sparql")))
    g.add((service, DCAT.endpointDescription, URIRef(root + "sparql")))
    g.add((service, DCTERMS.conformsTo, URIRef(SPARQL_PROTOCOL)))
    g.add((service, DCTERMS.conformsTo, URIRef(SPARQL_QUERY)))
    g.add((service, DCTERMS.publisher, publisher))
    g.add((service, DCAT.contactPoint, contact))
    g.add((service, DCTERMS.license, licence))
    for code in ("JUST", "SOCI"):
        g.add((service, DCAT.theme, URIRef(f"{DATA_THEME}/{code}")))

    # the things the record points to, typed and labelled as the DCAT-AP ranges expect
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, Literal(settings["publisher_name"])))
    g.add((contact, RDF.type, VCARD.Kind))
    g.add((contact, VCARD.fn, Literal(settings["publisher_name"])))
    g.add((contact, VCARD.hasEmail, URIRef("mailto:" + settings["contact_email"])))
    g.add((licence, RDF.type, DCTERMS.LicenseDocument))
    g.add((lang, RDF.type, DCTERMS.LinguisticSystem))
    g.add((URIRef(root), RDF.type, FOAF.Document))
    g.add((URIRef(root), DCTERMS.title, Literal("thb-kb home page", lang="en")))
    g.add((URIRef(root + "sparql"), RDF.type, RDFS.Resource))  # the DCAT-AP range of endpointURL
    g.add((URIRef(DATA_THEME), RDF.type, SKOS.ConceptScheme))
    g.add((URIRef(DATA_THEME), DCTERMS.title, Literal("Data theme", lang="en")))
    for code, label in THEMES.items():
        theme = URIRef(f"{DATA_THEME}/{code}")
        g.add((theme, RDF.type, SKOS.Concept))
        g.add((theme, SKOS.prefLabel, Literal(label, lang="en")))
        g.add((theme, SKOS.inScheme, URIRef(DATA_THEME)))
    for d in dumps.DUMP_FILES:
        g.add((URIRef(dumps.FILE_TYPE + d.file_type), RDF.type, DCTERMS.MediaTypeOrExtent))
        g.add((URIRef(dumps.IANA + d.media_type), RDF.type, DCTERMS.MediaType))
    g.add((URIRef(dumps.IANA + "application/gzip"), RDF.type, DCTERMS.MediaType))
    for standard, label in ((SPARQL_PROTOCOL, "SPARQL 1.1 Protocol"), (SPARQL_QUERY, "SPARQL 1.1 Query Language")):
        g.add((URIRef(standard), RDF.type, DCTERMS.Standard))
        g.add((URIRef(standard), RDFS.label, Literal(label, lang="en")))


def build_catalog(with_dataset: bool = True) -> Graph:
    state = kb()
    version = state.store.version()
    sizes = {}
    for d in dumps.DUMP_FILES:
        path = dumps.existing(version, d)
        if path is not None:
            sizes[d.name] = path.stat().st_size
    return catalog_graph(base=state.iris.base, root=web_root(), settings=state.settings,
                         dataset=state.iris.dataset, modified=state.store.last_modified(), sizes=sizes,
                         with_dataset=with_dataset)


def _sizes_key() -> str:
    version = kb().store.version()
    return "".join("1" if dumps.existing(version, d) else "0" for d in dumps.DUMP_FILES)


def _modified_since() -> dt.datetime | None:
    """`?modified_since=` (a date or a date and time; UTC unless it says otherwise), or None."""
    value = request.args.get("modified_since")
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        abort_with(400, f"modified_since must be a date or a date and time (2024-05-01, 2024-05-01T12:00:00Z), "
                        f"not {value[:40]!r}.")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


@bp.get("/catalog")
def catalog():
    since = _modified_since()
    # seconds, as the record states dct:modified: a harvester that sends back that value gets nothing new
    with_dataset = since is None or kb().store.last_modified().replace(microsecond=0) > since
    # byte sizes appear once a dump has been written: the cache entry is per set of written dumps
    return rdf_response(lambda: build_catalog(with_dataset),
                        cache_name="catalog-rendered-" + _sizes_key() + ("" if with_dataset else "-empty"),
                        template="metadata_rdf.html",
                        context=lambda g: {"title": "DCAT-AP catalogue record",
                                           "intro": "The catalogue, the dataset, its distributions and the "
                                                    "SPARQL data service, in DCAT-AP 3.0.1."})
