"""Memento (RFC 7089, server/memento.py): TimeMaps, mementos and the documents as their own TimeGates, over a
KB that changed a thing's description three times and then dropped it."""

from __future__ import annotations

import re
import time
from email.utils import format_datetime, parsedate_to_datetime

import pytest
from rdflib import Graph, Literal, URIRef

from conftest import BASE, make_settings

AGENCY = BASE + "id/agency/frontex"
DOC = BASE + "id/document/frontex-note"
P = """@prefix thb: <https://w3id.org/thb-kb/def#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix prov: <http://www.w3.org/ns/prov#> . @prefix org: <http://www.w3.org/ns/org#> .
"""
LINK = re.compile(r'<([^>]+)>\s*;\s*rel="([^"]+)"(?:[^,]*?datetime="([^"]+)")?')


def version(label: str) -> bytes:
    return (P + f"""<{DOC}> a thb:SourceDocument ; rdfs:label "A note"@en ; dct:title "A note"@en ; dct:publisher <{AGENCY}> .
<{AGENCY}> a thb:Agency ; rdfs:label "{label}"@en ; skos:prefLabel "{label}"@en ;
    dct:description "The agency, as {label}."@en ;
    org:classification <{BASE}id/concept/agency-type/police> ; dct:source <{DOC}> ; prov:wasDerivedFrom <{DOC}> .
""").encode()


@pytest.fixture(scope="module")
def history_app():
    """An app whose KB wrote Frontex three times (one second apart) and then dropped its graph."""
    from kb import rdfio
    from kb.importer import Importer, Source
    from server import create_app

    settings = make_settings(validation_timeout=0)
    app = create_app(settings, load_if_empty=True)
    store = app.extensions["kb"].store
    imp = Importer(store, settings)
    writes = []
    for label in ("Frontex v1", "Frontex v2", "Frontex v3"):
        time.sleep(1.1)
        result = imp.import_sources([Source(f"{label}.ttl", version(label), rdfio.format_for("turtle"))],
                                    graph=BASE + "graph/frontex")
        writes.append((result.record.rsplit("/", 1)[1], label, _ended(store, result.record)))
    time.sleep(1.1)
    dropped = imp.drop_graph(BASE + "graph/frontex")
    app.testing = True
    return app, writes, dropped


def _ended(store, record: str):
    rows = store.query(f"SELECT ?e WHERE {{ <{record}> <http://www.w3.org/ns/prov#endedAtTime> ?e }}")
    from server.memento import _when

    return _when(next(iter(rows))["e"].value)


def links(header: str) -> list[tuple[str, str, str | None]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in LINK.finditer(header)]


def test_the_timemap_lists_every_version_oldest_first(history_app):
    app, writes, _ = history_app
    r = app.test_client().get("/timemap/agency/frontex")
    assert r.status_code == 200 and r.mimetype == "application/link-format"
    found = links(r.get_data(as_text=True))
    mementos = [(url, rel, when) for url, rel, when in found if "memento" in rel.split()]
    assert [url.rsplit("/memento/", 1)[1].split("/")[0] for url, _, _ in mementos] == [w[0] for w in writes]
    assert "first" in mementos[0][1].split() and "last" in mementos[-1][1].split()
    stamps = [parsedate_to_datetime(when) for _, _, when in mementos]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3
    assert any(rel == "original" and url.endswith("/doc/agency/frontex") for url, rel, _ in found)
    html = app.test_client().get("/timemap/agency/frontex", headers={"Accept": "text/html"})
    assert html.status_code == 200 and b"Versions of" in html.data and html.data.count(b"/memento/") >= 3


@pytest.mark.parametrize("index", [0, 1, 2])
def test_each_memento_is_the_description_of_its_time(history_app, index):
    app, writes, _ = history_app
    import_id, label, ended = writes[index]
    r = app.test_client().get(f"/memento/{import_id}/agency/frontex.ttl")
    assert r.status_code == 200, r.data[:300]
    assert parsedate_to_datetime(r.headers["Memento-Datetime"]) == ended.replace(microsecond=0)
    rels = {rel: url for url, rel, _ in links(r.headers["Link"])}
    assert rels["original timegate"].endswith("/doc/agency/frontex")
    assert rels["timemap"].endswith("/timemap/agency/frontex")
    g = Graph().parse(data=r.get_data(as_text=True), format="turtle")
    labels = {str(o) for o in g.objects(URIRef(AGENCY), URIRef("http://www.w3.org/2004/02/skos/core#prefLabel"))}
    assert labels == {label}
    memento = URIRef(f"{BASE}memento/{import_id}/agency/frontex")
    assert (memento, URIRef("http://purl.org/dc/terms/isVersionOf"), URIRef(BASE + "doc/agency/frontex")) in g
    assert (memento, URIRef("http://xmlns.com/foaf/0.1/primaryTopic"), URIRef(AGENCY)) in g


def test_the_document_is_its_own_timegate(history_app):
    app, writes, _ = history_app
    client = app.test_client()
    for target, asked in ((0, writes[0][2]), (1, writes[1][2]), (2, writes[2][2]),
                          (0, writes[0][2].replace(year=2000))):
        r = client.get("/doc/agency/frontex", headers={"Accept-Datetime": format_datetime(asked, usegmt=True),
                                                        "Accept": "text/turtle"})
        assert r.status_code == 302, (target, r.status_code, r.data[:200])
        assert f"/memento/{writes[target][0]}/agency/frontex" in r.headers["Location"]
        assert "Accept-Datetime" in r.headers["Vary"]
    bad = client.get("/doc/agency/frontex", headers={"Accept-Datetime": "yesterday"})
    assert bad.status_code == 400


def test_a_dropped_thing_keeps_its_history(history_app):
    app, writes, _ = history_app
    client = app.test_client()
    assert client.get("/doc/agency/frontex.ttl").status_code == 404
    assert client.get("/timemap/agency/frontex").status_code == 200
    assert client.get(f"/memento/{writes[2][0]}/agency/frontex.nt").status_code == 200


def test_a_current_document_links_to_its_timemap(history_app):
    app, writes, dropped = history_app
    r = app.test_client().get("/doc/agency/tr-coast-guard-command.ttl")
    assert r.status_code == 200
    rels = [rel for _, rel, _ in links(r.headers["Link"])]
    assert "timemap" in rels and "original timegate" in rels
    assert "Accept-Datetime" in r.headers["Vary"]
    page = app.test_client().get("/doc/agency/tr-coast-guard-command", headers={"Accept": "text/html"})
    assert b'rel="timemap"' in page.data
    # the curated build made the curated things (and the ontology's concepts), hence their first version;
    # the police concept changed when Frontex began to point at it and when Frontex's graph went
    def mementos(path):
        tm = app.test_client().get(f"/timemap/{path}").get_data(as_text=True)
        return [url.split("/memento/")[1].split("/")[0] for url, rel, _ in links(tm) if "memento" in rel.split()]

    assert len(mementos("agency/tr-coast-guard-command")) == 1
    police = mementos("concept/agency-type/police")
    assert police[1:] == [writes[0][0], dropped.record.rsplit("/", 1)[1]] and len(police) == 3


def test_memento_html_says_it_is_an_earlier_version(history_app):
    app, writes, _ = history_app
    r = app.test_client().get(f"/memento/{writes[0][0]}/agency/frontex", headers={"Accept": "text/html"})
    assert r.status_code == 200
    text = r.get_data(as_text=True)
    assert "earlier version" in text and "Frontex v1" in text and "Frontex v2" not in text
    assert f'/memento/{writes[0][0]}/agency/frontex.ttl' in text  # its alternates are the memento's own


def test_bad_memento_requests(history_app):
    app, writes, _ = history_app
    client = app.test_client()
    assert client.get("/memento/20000101t000000-00000000/agency/frontex").status_code == 404
    assert client.get("/timemap/agency/no-such-agency").status_code == 404
    assert client.get("/timemap/agency/%2e%2e/x").status_code in (400, 404)
    assert client.get(f"/memento/{writes[0][0]}/agency/frontex.xyz").status_code == 404
