"""Real SPARQL clients against the endpoint on loopback: SPARQLWrapper (every result format), rdflib's
SPARQLStore, and Comunica's `comunica-sparql` command (Node.js)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF

from conftest import ROOT, require

THB = "https://w3id.org/thb-kb/def#"
AGENCIES = (f"PREFIX thb: <{THB}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
            "SELECT ?agency ?label WHERE { ?agency a thb:Agency ; rdfs:label ?label "
            "FILTER(langMatches(lang(?label), 'en')) } ORDER BY ?agency")
CONSTRUCT = (f"PREFIX thb: <{THB}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
             "CONSTRUCT { ?agency a thb:Agency ; rdfs:label ?label } WHERE { ?agency a thb:Agency ; rdfs:label ?label }")


@pytest.fixture(scope="module")
def expected(curated_store):
    rows = list(curated_store.query(AGENCIES))
    assert rows
    agencies = [(r["agency"].value, r["label"].value) for r in rows]
    triples = {(t.subject.value, t.predicate.value, t.object.value) for t in curated_store.query(CONSTRUCT)}
    return agencies, triples


@pytest.fixture(scope="module")
def endpoint(live_server):
    return live_server.url + "/sparql"


# -- SPARQLWrapper -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("fmt", ["JSON", "XML", "CSV", "TSV"])
def test_sparqlwrapper_select_every_format(endpoint, expected, fmt, method):
    import SPARQLWrapper as sw

    client = sw.SPARQLWrapper(endpoint)
    client.setQuery(AGENCIES)
    client.setMethod(getattr(sw, method))
    client.setReturnFormat(getattr(sw, fmt))
    result = client.query()
    converted = result.convert()
    agencies, _ = expected
    if fmt == "JSON":
        got = [(b["agency"]["value"], b["label"]["value"]) for b in converted["results"]["bindings"]]
    elif fmt == "XML":
        ns = "{http://www.w3.org/2005/sparql-results#}"
        got = []
        for res in converted.getElementsByTagName("result"):
            values = {b.getAttribute("name"): b.firstChild.firstChild.nodeValue for b in res.getElementsByTagName("binding")}
            got.append((values["agency"], values["label"]))
        assert ns
    elif fmt == "CSV":
        rows = list(csv.reader(io.StringIO(converted.decode("utf-8"))))
        assert rows[0] == ["agency", "label"]
        got = [tuple(r) for r in rows[1:]]
    else:
        lines = converted.decode("utf-8").splitlines()
        assert lines[0].split("\t") == ["?agency", "?label"]
        got = []
        for line in lines[1:]:
            agency, label = line.split("\t")
            got.append((agency.strip("<>"), label.rsplit("@", 1)[0].strip('"')))
    assert got == agencies


def test_sparqlwrapper_ask(endpoint):
    import SPARQLWrapper as sw

    client = sw.SPARQLWrapper(endpoint)
    client.setQuery(f"ASK {{ ?s a <{THB}Agency> }}")
    client.setReturnFormat(sw.JSON)
    assert client.query().convert()["boolean"] is True


@pytest.mark.parametrize("fmt", ["TURTLE", "RDFXML", "JSONLD", "N3"])
def test_sparqlwrapper_construct_every_format(endpoint, expected, fmt):
    import SPARQLWrapper as sw

    client = sw.SPARQLWrapper(endpoint)
    client.setQuery(CONSTRUCT)
    client.setReturnFormat(getattr(sw, fmt))
    result = client.query()
    content_type = result.info()["content-type"]
    converted = result.convert()
    if isinstance(converted, Graph):
        graph = converted
    else:
        syntax = {"TURTLE": "turtle", "N3": "nt" if "n-triples" in content_type else "n3"}[fmt]
        graph = Graph().parse(data=converted, format=syntax)
    if fmt == "N3":
        assert content_type.startswith(("application/n-triples", "text/turtle", "text/n3"))
    _, triples = expected
    assert {(str(s), str(p), str(o)) for s, p, o in graph} == triples


# -- rdflib SPARQLStore ------------------------------------------------------------------------------------
def test_rdflib_sparqlstore_select_and_construct(endpoint, expected):
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    store = SPARQLStore(endpoint)  # default: SPARQL XML results, RDF/XML graphs
    graph = Graph(store=store)
    agencies, triples = expected
    rows = [(str(r.agency), str(r.label)) for r in graph.query(AGENCIES)]
    assert rows == agencies
    result = graph.query(CONSTRUCT)
    assert {(str(s), str(p), str(o)) for s, p, o in result.graph} == triples
    assert (URIRef(agencies[0][0]), RDF.type, URIRef(THB + "Agency")) in result.graph
    assert isinstance(next(iter(result.graph.objects(URIRef(agencies[0][0]), URIRef(
        "http://www.w3.org/2000/01/rdf-schema#label")))), Literal)


# -- Comunica ----------------------------------------------------------------------------------------------
def comunica() -> list[str]:
    node = shutil.which("node")
    require(node is not None, "Node.js (`node`)")
    script = ROOT / "tests" / "js" / "node_modules" / "@comunica" / "query-sparql" / "bin" / "query.js"
    binary = ROOT / "tests" / "js" / "node_modules" / ".bin" / "comunica-sparql"
    require(binary.exists(), "Comunica (`npm ci` in tests/js, run by scripts/install-system.sh)")
    return [node, str(script if script.exists() else binary)]


def run_comunica(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(comunica() + args, capture_output=True, text=True, timeout=180,
                          cwd=Path(ROOT, "tests", "js"))


@pytest.mark.node
def test_comunica_select(endpoint, expected):
    agencies, _ = expected
    proc = run_comunica([endpoint, AGENCIES])
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)
    got = sorted((row["agency"], row["label"]) for row in rows)
    assert got == sorted((a, json.dumps(label, ensure_ascii=False) + "@en") for a, label in agencies)


@pytest.mark.node
def test_comunica_construct_and_ask(endpoint, expected):
    _, triples = expected
    proc = run_comunica([endpoint, CONSTRUCT, "-t", "application/n-triples"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    graph = Graph().parse(data=proc.stdout, format="nt")
    assert {(str(s), str(p), str(o)) for s, p, o in graph} == triples
    proc = run_comunica([endpoint, f"ASK {{ ?s a <{THB}Agency> }}"])
    assert proc.returncode == 0 and "true" in proc.stdout
