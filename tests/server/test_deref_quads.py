"""Entity documents with their named graphs (LodView serves TriG and N-Quads; nobody says which graph each
statement comes from): `/doc/x.trig` and `/doc/x.nq`, also by `Accept`, hold the same statements as the
Turtle document, each in the named graph the KB keeps it in (one statement kept in two graphs is in both);
the document's own metadata is in the default graph."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import URIRef
from rdflib.compare import isomorphic

from ld_sample_data import AGENCY, sample_app

BASE = "https://w3id.org/thb-kb/"
PATH = AGENCY[len(BASE) + 3:]
COMMENT = "http://www.w3.org/2000/01/rdf-schema#comment"


@pytest.fixture(scope="module")
def c():
    app = sample_app()
    store = app.extensions["kb"].store
    extra = ox.NamedNode(BASE + "graph/extra")
    label = next(iter(store.query(f'SELECT ?l WHERE {{ <{AGENCY}> <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(lang(?l) = "en") }}')))["l"]
    store.apply(insert=[ox.Quad(ox.NamedNode(AGENCY), ox.NamedNode(COMMENT), ox.Literal("from elsewhere", language="en"), extra),
                        ox.Quad(ox.NamedNode(AGENCY), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), label, extra)])
    return app.test_client()


@pytest.mark.parametrize("suffix,parser", [("trig", "trig"), ("nq", "nquads")])
def test_quad_documents_name_the_graph_of_each_statement(c, suffix, parser):
    r = c.get(f"/doc/{PATH}.{suffix}")
    assert r.status_code == 200
    ds = rdflib.Dataset()
    ds.parse(data=r.data, format=parser)
    graph_of = {}
    for s, p, o, g in ds.quads((None, None, None, None)):
        graph_of.setdefault((s, p, o), set()).add(str(g) if g is not None else "")
    turtle = rdflib.Graph().parse(data=c.get(f"/doc/{PATH}.ttl").data, format="turtle")
    union = rdflib.Graph()
    for triple in graph_of:
        union.add(triple)
    assert isomorphic(union, turtle), "the same statements as the Turtle document"
    agency = URIRef(AGENCY)
    assert graph_of[(agency, URIRef(COMMENT), rdflib.Literal("from elsewhere", lang="en"))] == {BASE + "graph/extra"}
    label = (agency, rdflib.RDFS.label, rdflib.Literal("Ankara Police Department", lang="en"))
    assert graph_of[label] == {BASE + "graph/ld-sample", BASE + "graph/extra"}
    primary = (URIRef(BASE + f"doc/{PATH}"), rdflib.FOAF.primaryTopic, agency)
    assert graph_of[primary] not in ({BASE + "graph/ld-sample"}, {BASE + "graph/extra"}), "metadata: default graph"


def test_quad_formats_by_accept_and_in_the_links(c):
    r = c.get(f"/id/{PATH}", headers={"Accept": "application/n-quads"})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/doc/{PATH}.nq")
    r = c.get(f"/doc/{PATH}", headers={"Accept": "application/trig"})
    assert r.status_code == 200 and r.mimetype == "application/trig"
    link = c.get(f"/doc/{PATH}.ttl").headers["Link"]
    assert f'</doc/{PATH}.trig>; rel="alternate"; type="application/trig"' in link
    assert f'href="/doc/{PATH}.nq"' in c.get(f"/doc/{PATH}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert c.get(f"/doc/{PATH}?format=trig").headers["Location"].endswith(f"/doc/{PATH}.trig")
