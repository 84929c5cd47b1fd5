"""Pictures (foaf:depiction, schema:image, logos) are shown as images, as LodView and Pubby do: an <img> with a
text alternative, linked to the picture; only http(s) pictures (a `javascript:` or `data:` IRI stays text)."""

from __future__ import annotations

import re

import pyoxigraph as ox

from conftest import BASE, make_settings

THING = BASE + "id/agency/with-logo"
TTL = f"""<{THING}> a <https://w3id.org/thb-kb/def#Agency> ;
    <http://www.w3.org/2000/01/rdf-schema#label> "Agency with a logo"@en ;
    <https://schema.org/logo> <https://example.org/logo.png> ;
    <http://xmlns.com/foaf/0.1/depiction> <https://example.org/photo%20one.jpg> , <javascript:alert(1)> ,
        <data:image/png;base64,AAAA> ."""


def page() -> str:
    from kb.store import open_store
    from server import create_app

    store = open_store(make_settings())
    store.replace_graph(BASE + "graph/fixture", [q.triple for q in ox.parse(TTL.encode(), format=ox.RdfFormat.TURTLE)])
    c = create_app(make_settings(), store=store, load_if_empty=False).test_client()
    return c.get("/doc/agency/with-logo", headers={"Accept": "text/html"}).get_data(as_text=True)


def test_pictures_are_shown_with_a_text_alternative():
    html = page()
    imgs = re.findall(r"<img [^>]*>", html)
    srcs = sorted(re.search(r'src="([^"]+)"', i).group(1) for i in imgs)
    assert srcs == ["https://example.org/logo.png", "https://example.org/photo%20one.jpg"]
    for tag in imgs:
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and "Agency with a logo" in alt.group(1), tag
    assert 'href="https://example.org/logo.png"' in html


def test_other_schemes_are_not_pictures():
    html = page()
    assert "javascript:alert(1)" in html and 'src="javascript' not in html and 'href="javascript' not in html
    assert 'src="data:' not in html
