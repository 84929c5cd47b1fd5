"""/catalog conforms to the official DCAT-AP 3.0.1 shapes (read from ../shared/dcat-ap at test time) with zero
violations, in every RDF format it is served in, before and after the dumps exist (byte sizes appear)."""

from __future__ import annotations

import pyshacl
import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF, RDF, SH

from conftest import BASE

DCAT = Namespace("http://www.w3.org/ns/dcat#")  # a plain Namespace: pytest's collection probes module attributes
FORMATS = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml",
           "application/n-triples": "nt"}


@pytest.fixture(scope="module")
def dcat_ap_shapes(shared_dir) -> Graph:
    """DCAT-AP 3.0.1: the shapes file and the range file, loaded together as published.

    The range file's node shapes reference the property shapes of the shapes file (the two agree wherever
    both define one). Five `sh:property` references in the release point to property shapes that are
    defined nowhere; pySHACL refuses such a shapes graph, so those dangling references (which carry no
    constraint at all) are removed. Every defined constraint stays."""
    folder = shared_dir / "dcat-ap"
    g = Graph()
    g.parse(folder / "dcat-ap-3.0.1-SHACL.ttl")
    g.parse(folder / "dcat-ap-3.0.1-ranges.ttl")
    dangling = [(n, p) for n, p in g.subject_objects(SH.property) if (p, None, None) not in g]
    assert len(dangling) <= 5, f"the DCAT-AP release changed: {len(dangling)} dangling property references"
    for n, p in dangling:
        g.remove((n, SH.property, p))
    return g


def validate(data: Graph, shapes: Graph) -> tuple[bool, str, int]:
    conforms, report, text = pyshacl.validate(data, shacl_graph=shapes, inference="none", allow_warnings=False,
                                              allow_infos=False)
    violations = len(list(report.subjects(RDF.type, SH.ValidationResult)))
    return conforms, text, violations


def fetch(client, accept="text/turtle") -> Graph:
    resp = client.get("/catalog", headers={"Accept": accept})
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == accept
    return Graph().parse(data=resp.data, format=FORMATS[accept])


@pytest.mark.parametrize("accept", list(FORMATS))
def test_catalog_conforms_to_dcat_ap_3(metadata_app, dcat_ap_shapes, accept):
    g = fetch(metadata_app.test_client(), accept)
    conforms, text, violations = validate(g, dcat_ap_shapes)
    assert violations == 0 and conforms, text


def test_catalog_conforms_with_byte_sizes_once_dumps_exist(metadata_app, dcat_ap_shapes):
    client = metadata_app.test_client()
    before = fetch(client)
    assert not list(before.objects(None, DCAT.byteSize))
    for name in ("kb.nt.gz", "kb.ttl"):
        assert client.get(f"/dumps/{name}").status_code == 200
    after_resp = client.get("/catalog", headers={"Accept": "text/turtle"})
    after = Graph().parse(data=after_resp.data, format="turtle")
    sizes = {str(after.value(d, DCAT.downloadURL)).rsplit("/", 1)[-1]: int(after.value(d, DCAT.byteSize))
             for d in after.subjects(DCAT.byteSize, None)}
    for name, size in sizes.items():
        assert size == len(client.get(f"/dumps/{name}").data)
    assert set(sizes) == {"kb.nt.gz", "kb.ttl"}
    conforms, text, violations = validate(after, dcat_ap_shapes)
    assert violations == 0 and conforms, text


def test_a_broken_record_is_caught(metadata_app, dcat_ap_shapes):
    """The validation is real: the same record without the dataset's title, or with a wrongly typed
    licence, fails."""
    g = fetch(metadata_app.test_client())
    ds = URIRef(BASE + "dataset")
    broken = Graph() + g
    broken.remove((ds, DCTERMS.title, None))
    assert validate(broken, dcat_ap_shapes)[2] >= 1
    broken = Graph() + g
    for lic in set(broken.objects(None, DCTERMS.license)):
        broken.remove((lic, RDF.type, DCTERMS.LicenseDocument))
    assert validate(broken, dcat_ap_shapes)[2] >= 1


def test_catalog_content(metadata_app):
    client = metadata_app.test_client()
    g = fetch(client)
    root = "http://localhost/"
    cat, ds = URIRef(BASE + "catalog"), URIRef(BASE + "dataset")
    assert (cat, RDF.type, DCAT.Catalog) in g and (cat, DCAT.dataset, ds) in g
    assert (ds, RDF.type, DCAT.Dataset) in g
    downloads = {str(g.value(d, DCAT.downloadURL)) for d in g.objects(ds, DCAT.distribution)} - {"None"}
    assert downloads == {root + f"dumps/{n}" for n in ("kb.nt.gz", "kb.nq.gz", "kb.ttl", "kb.jsonld")}
    service = g.value(cat, DCAT.service)
    assert (service, RDF.type, DCAT.DataService) in g
    assert (service, DCAT.endpointURL, URIRef(root + "sparql")) in g
    assert (service, DCAT.servesDataset, ds) in g
    assert (service, DCTERMS.conformsTo, URIRef("https://www.w3.org/TR/sparql11-protocol/")) in g
    themes = {str(t) for t in g.objects(ds, DCAT.theme)}
    assert "http://publications.europa.eu/resource/authority/data-theme/JUST" in themes
    publisher = g.value(ds, DCTERMS.publisher)
    assert (publisher, RDF.type, FOAF.Agent) in g and g.value(publisher, FOAF.name) is not None
    contact = g.value(ds, DCAT.contactPoint)
    assert str(g.value(contact, URIRef("http://www.w3.org/2006/vcard/ns#hasEmail"))).startswith("mailto:")
    assert g.value(ds, DCTERMS.modified) is not None and g.value(ds, DCTERMS.issued) is not None
    # the same record in every format
    for accept in FORMATS:
        assert isomorphic(fetch(client, accept), g), accept
    for url in downloads:  # every download URL answers
        assert client.head(url[len(root) - 1:]).status_code == 200
    # and the HTML view for people
    html = client.get("/catalog", headers={"Accept": "text/html"})
    assert html.status_code == 200 and b"DCAT-AP" in html.data


def test_modified_since_for_incremental_harvesting(metadata_app, dcat_ap_shapes):
    """`?modified_since=` (ckanext-dcat's parameter): the dataset is listed when it changed after that moment,
    left out otherwise; `hydra:totalItems` says how many datasets the answer holds (the whole catalogue is one
    page). Both answers conform to DCAT-AP 3; a date that is not one is a 400."""
    client = metadata_app.test_client()
    cat, ds = URIRef(BASE + "catalog"), URIRef(BASE + "dataset")
    total = URIRef("http://www.w3.org/ns/hydra/core#totalItems")
    full = fetch(client)
    modified = str(full.value(ds, DCTERMS.modified))
    assert int(full.value(cat, total)) == 1
    for since, listed in (("2000-01-01", True), ("2000-01-01T00:00:00Z", True), (modified, False),
                          ("2999-12-31", False)):
        resp = client.get("/catalog", query_string={"modified_since": since}, headers={"Accept": "text/turtle"})
        assert resp.status_code == 200, since
        g = Graph().parse(data=resp.data, format="turtle")
        assert ((cat, DCAT.dataset, ds) in g) is listed and ((ds, RDF.type, DCAT.Dataset) in g) is listed, since
        assert int(g.value(cat, total)) == (1 if listed else 0)
        conforms, text, violations = validate(g, dcat_ap_shapes)
        assert violations == 0 and conforms, text
    for bad in ("yesterday", "2024-02-30"):
        assert client.get("/catalog", query_string={"modified_since": bad}).status_code == 400
