"""The home page: counts per class from the store, the latest events linked to their pages, a server-rendered
SVG chart of events per year, and the entry points."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pyoxigraph as ox

from conftest import BASE
from kb.stats import class_counts

RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")


class Page(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []
        self.svg: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def get_home(client) -> str:
    resp = client.get("/", headers={"Accept": "text/html"})
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    return resp.get_data(as_text=True)


def test_home_counts_come_from_the_store(metadata_app, metadata_store):
    text = get_home(metadata_app.test_client())
    counts = {re.sub(r"<[^>]+>", "", dt): dd for dt, dd in re.findall(r"<dt>(.*?)</dt><dd>([\d,]+)</dd>", text)}
    want = class_counts(metadata_store)
    assert int(counts["Agencies"]) == want["Agency"] == 4
    assert int(counts["Events"]) == want["Event"] == 4
    assert int(counts["Conventions"]) == want["Convention"]
    assert int(counts["Triples"].replace(",", "")) == metadata_store.count()


def test_latest_events_link_to_their_pages_newest_first(metadata_app):
    page = Page(get_home(metadata_app.test_client()))
    events = [(href, text) for href, text in page.links if href.startswith("/doc/event/")]
    assert [href for href, _ in events] == [
        "/doc/event/2021-06-08-roundtable-smuggling",
        "/doc/event/2019-10-01-study-visit",
        "/doc/event/2019-03-05-training-ankara",
        "/doc/event/2016-11-28-workshop-lisbon",
    ]
    assert events[0][1] == "Roundtable on the smuggling of migrants"
    assert events[1][1] == "Study visit"  # no rdfs:label: dct:title is used


def test_events_per_year_chart_is_svg_without_script(metadata_app):
    text = get_home(metadata_app.test_client())
    match = re.search(r"<svg.*?</svg>", text, re.S)
    assert match, "no SVG chart"
    svg = ET.fromstring(match.group(0))  # well-formed SVG
    assert svg.get("role") == "img" and svg.get("aria-labelledby")
    bars = {}
    for group in svg.iter("{http://www.w3.org/2000/svg}g"):
        title = group.findtext("{http://www.w3.org/2000/svg}title")
        year, count = re.match(r"(\d{4}): (\d+)", title).groups()
        bars[int(year)] = int(count)
    assert bars == {2016: 1, 2017: 0, 2018: 0, 2019: 2, 2020: 0, 2021: 1}
    # no JavaScript on the page: the only script element is the JSON-LD data block
    assert re.findall(r"<script\b[^>]*>", text) == ['<script type="application/ld+json">']


def test_entry_points(metadata_app):
    client = metadata_app.test_client()
    hrefs = {href for href, _ in Page(get_home(client)).links}
    assert {"/sparql", "/dumps/", "/.well-known/void", "/catalog", "/def", "/shapes"} <= hrefs
    for own in ("/dumps/", "/.well-known/void", "/catalog", "/sitemap.xml"):
        assert client.get(own).status_code == 200, own


def test_labels_are_text_not_markup(metadata_app, metadata_store):
    ev = ox.NamedNode(BASE + "id/event/2022-01-01-x")
    metadata_store.add_to_graph(BASE + "graph/fixture", [
        ox.Triple(ev, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), ox.NamedNode(BASE + "def#Event")),
        ox.Triple(ev, ox.NamedNode("https://schema.org/startDate"),
                  ox.Literal("2022-01-01", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#date"))),
        ox.Triple(ev, RDFS_LABEL, ox.Literal("<script>alert(1)</script>", language="en")),
    ])
    text = get_home(metadata_app.test_client())
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert(1)" not in text


def dataset_markup(text: str) -> dict:
    import json

    scripts = re.findall(r'<script type="application/ld\+json">(.*?)</script>', text, re.S)
    assert len(scripts) == 1
    return json.loads(scripts[0])


def test_home_carries_schema_org_dataset_markup(metadata_app, metadata_store):
    client = metadata_app.test_client()
    doc = dataset_markup(get_home(client))
    assert doc["@type"] == "Dataset" and doc["@id"] == BASE + "dataset"
    assert doc["license"] == metadata_app.extensions["kb"].settings["license"]
    assert doc["dateModified"] == metadata_store.last_modified().isoformat()
    urls = [d["contentUrl"] for d in doc["distribution"]]
    assert "http://localhost/dumps/kb.nt.gz" in urls
    for url in urls:  # every advertised download answers
        assert client.head(url[len("http://localhost"):]).status_code == 200


def test_dataset_markup_cannot_close_its_script(metadata_store):
    from conftest import make_settings
    from server import create_app

    evil = "</script><script>alert(1)</script> & co"
    app = create_app(make_settings(publisher_name=evil), store=metadata_store, load_if_empty=False)
    text = get_home(app.test_client())
    assert "<script>alert(1)" not in text
    assert dataset_markup(text)["publisher"]["name"] == evil  # still the same text for a JSON reader


def test_latest_events_are_named_as_their_pages_name_them():
    """The home page and the entity page pick a label by the same rule (server.labels): the reader's language
    first (English here), then the label property. An event whose rdfs:label is French and whose dct:title is
    English is listed under its English title, as its own page is headed."""
    from conftest import make_settings
    from kb.store import open_store
    from server import create_app

    event = BASE + "id/event/2020-01-01-atelier"
    ttl = f"""<{event}> a <https://w3id.org/thb-kb/def#Event> ;
        <http://www.w3.org/2000/01/rdf-schema#label> "Atelier de Lisbonne"@fr ;
        <http://purl.org/dc/terms/title> "Lisbon workshop"@en ;
        <https://schema.org/startDate> "2020-01-01"^^<http://www.w3.org/2001/XMLSchema#date> ."""
    store = open_store(make_settings())
    store.replace_graph(BASE + "graph/fixture", [q.triple for q in ox.parse(ttl.encode(), format=ox.RdfFormat.TURTLE)])
    client = create_app(make_settings(), store=store, load_if_empty=False).test_client()
    listed = dict(Page(get_home(client)).links)["/doc/event/2020-01-01-atelier"]
    page = client.get("/doc/event/2020-01-01-atelier", headers={"Accept": "text/html", "Accept-Language": "en"})
    heading = re.search(r"<h1[^>]*>(.*?)</h1>", page.get_data(as_text=True), re.S).group(1)
    assert listed == "Lisbon workshop" and "Lisbon workshop" in heading
