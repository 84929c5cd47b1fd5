"""Moved and merged things (as Trifid and Wikibase redirect them): when the KB says `<old> dct:isReplacedBy
<new>`, `/id/old` answers `301 Moved Permanently` to `/id/new` (or to the new IRI when it is elsewhere), and
the old document still shows the statement, so nothing is lost."""

from __future__ import annotations

import pyoxigraph as ox

from conftest import BASE, make_settings

OLD, NEW, GONE = BASE + "id/agency/old-name", BASE + "id/agency/new-name", BASE + "id/agency/now-elsewhere"
TTL = f"""@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix dct: <http://purl.org/dc/terms/> .
<{OLD}> rdfs:label "Old name"@en ; dct:isReplacedBy <{NEW}> .
<{NEW}> a <https://w3id.org/thb-kb/def#Agency> ; rdfs:label "New name"@en .
<{GONE}> rdfs:label "Moved away"@en ; dct:isReplacedBy <https://example.org/agency/1> .
"""


def client():
    from kb.store import open_store
    from server import create_app

    store = open_store(make_settings())
    store.replace_graph(BASE + "graph/fixture", [q.triple for q in ox.parse(TTL.encode(), format=ox.RdfFormat.TURTLE)])
    return create_app(make_settings(), store=store, load_if_empty=False).test_client()


def test_a_replaced_thing_redirects_permanently_to_its_successor():
    c = client()
    for accept in ("text/html", "text/turtle"):
        r = c.get("/id/agency/old-name?lang=fr", headers={"Accept": accept})
        assert r.status_code == 301
        assert r.headers["Location"] == "http://localhost/id/agency/new-name?lang=fr"
        assert "new-name" in r.get_data(as_text=True)
    r = c.get("/id/agency/old-name", headers={"Accept": "text/turtle"}, follow_redirects=True)
    assert r.status_code == 200 and "New name" in r.get_data(as_text=True)
    assert c.head("/id/agency/old-name").status_code == 301
    r = c.get("/id/agency/now-elsewhere")
    assert r.status_code == 301 and r.headers["Location"] == "https://example.org/agency/1"


def test_the_old_document_still_says_where_the_thing_went():
    c = client()
    page = c.get("/doc/agency/old-name", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "replaced by" in page and 'href="/doc/agency/new-name"' in page
    assert f"<{NEW}>" in c.get("/doc/agency/old-name.nt").get_data(as_text=True)
