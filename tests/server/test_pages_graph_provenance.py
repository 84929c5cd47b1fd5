"""Entity pages say where their statements come from: each named graph that holds statements about the
thing, with how many, linked to the graph's page (its import history). A thing described in two graphs
lists both."""

from __future__ import annotations

import re

import pyoxigraph as ox

from ld_sample_data import AGENCY, sample_app

BASE = "https://w3id.org/thb-kb/"


def test_the_page_lists_the_graphs_of_its_statements():
    app = sample_app()
    store = app.extensions["kb"].store
    extra = ox.NamedNode(BASE + "graph/extra")
    store.apply(insert=[ox.Quad(ox.NamedNode(AGENCY), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#comment"),
                                ox.Literal("from another source", language="en"), extra)])
    page = app.test_client().get("/doc/agency/ankara-police", headers={"Accept": "text/html"}).get_data(as_text=True)
    section = re.search(r'<section[^>]*aria-labelledby="h-graphs".*?</section>', page, re.S)
    assert section, "a section on the graphs"
    found = dict(re.findall(r'<a href="/graph/([^"]+)">[^<]*</a>\D*(\d+)', section.group(0)))
    want = {r["g"].value[len(BASE) + 6:]: r["n"].value for r in store.query(
        f"SELECT ?g (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ <{AGENCY}> ?p ?o }} }} GROUP BY ?g")}
    assert found == want and set(found) == {"ld-sample", "extra"}
