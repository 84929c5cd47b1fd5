"""No broken link: crawl the curated KB from `/`, following every link of every HTML page and every IRI under
the base that any RDF document mentions; every RDF document must parse with rdflib."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import rdflib

from server.iris import iri_path_to_url

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

BASE = "https://w3id.org/thb-kb/"
HOST = "http://localhost"
RDF_PARSERS = {"text/turtle": "turtle", "application/n-triples": "nt", "application/ld+json": "json-ld",
               "application/rdf+xml": "xml", "application/trig": "trig", "application/n-quads": "nquads"}
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
LD_CLIENT = "text/turtle, application/n-triples;q=0.9, application/ld+json;q=0.8, */*;q=0.1"
MAX_URLS = 20_000
SKIP_PREFIXES = ("/sparql?", "/graphs?")  # query forms: their links are example queries, crawled elsewhere


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "link", "script", "img", "iframe", "source"):
                self.links.append(a[key])


def local(url: str) -> str | None:
    """A URL of this server (path + query), or None for external links."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "mailto", "javascript", "tel"):
        return None
    if parts.scheme and not url.startswith(HOST):
        return None
    path = parts.path or "/"
    return path + (f"?{parts.query}" if parts.query else "")


def iri_to_local(iri: str) -> str:
    rest = iri[len(BASE):].split("#", 1)[0]
    path, _, query = rest.partition("?")
    return "/" + iri_path_to_url(path) + (f"?{query}" if query else "")


def crawl(client) -> tuple[set[str], dict[str, int], int, list[str]]:
    """Crawl from /; fail on any broken link or unparsable RDF, on a link to `#x` where the page has no
    element `id="x"`, and on a hash IRI (`{base}def#Term`, `{base}sparql#service`) that the document at its
    stem does not describe. Returns (URLs, media type counts, RDF parsed, ontology terms `{base}def#x` that
    the data uses and the ontology does not define)."""
    queue: list[tuple[str, str, str]] = [("/", BROWSER, "start")]
    seen: set[tuple[str, str]] = set()
    broken, unparsable, parsed = [], [], 0
    anchors: dict[str, set[str]] = {}        # HTML page -> its element ids
    described: dict[str, set[str]] = {}      # RDF document (as requested) -> the IRIs it has as subjects
    fragment_links: list[tuple[str, str, str]] = []  # (page, fragment, referrer)
    hash_iris: dict[str, str] = {}           # hash IRI under the base -> a document that mentions it
    kinds: dict[str, int] = {}
    while queue:
        url, accept, referrer = queue.pop()
        if (url, accept) in seen or url.startswith(SKIP_PREFIXES):
            continue
        seen.add((url, accept))
        assert len(seen) < MAX_URLS, "the crawl does not end"
        r = client.get(url, headers={"Accept": accept}, follow_redirects=True)
        if r.status_code != 200:
            broken.append(f"{r.status_code} {url} (from {referrer})")
            continue
        mimetype = r.mimetype
        kinds[mimetype] = kinds.get(mimetype, 0) + 1
        body = r.data
        if r.headers.get("Content-Encoding") == "gzip" or url.endswith(".gz"):
            body = gzip.decompress(body)
        if mimetype == "text/html":
            parser = Links()
            parser.feed(body.decode("utf-8"))
            anchors[url] = parser.ids
            for link in parser.links:
                target = local(urljoin(HOST + url, link))
                if target is not None:
                    queue.append((target, BROWSER, url))
                    fragment = urlsplit(urljoin(HOST + url, link)).fragment
                    if fragment:
                        fragment_links.append((target, fragment, url))
        elif mimetype in RDF_PARSERS:
            try:
                g = rdflib.Dataset() if RDF_PARSERS[mimetype] in ("trig", "nquads") else rdflib.Graph()
                g.parse(data=body, format=RDF_PARSERS[mimetype], publicID=BASE)
            except Exception as exc:  # noqa: BLE001 - reported below with the URL
                unparsable.append(f"{url}: {exc}")
                continue
            parsed += 1
            described[url] = {str(s) for s in g.subjects()}
            terms = {t for triple in g.triples((None, None, None)) for t in triple}
            for t in terms:
                if isinstance(t, rdflib.URIRef) and str(t).startswith(BASE):
                    queue.append((iri_to_local(str(t)), LD_CLIENT, url))
                    if "#" in str(t):
                        hash_iris.setdefault(str(t), url)
        # every document this server links from a Link header must exist too
        for m in re.finditer(r"<([^>]+)>", r.headers.get("Link", "")):
            target = local(urljoin(HOST + url, m.group(1)))
            if target is not None:
                queue.append((target, LD_CLIENT, url + " (Link header)"))
    assert not broken, f"{len(broken)} broken of {len(seen)}:\n" + "\n".join(sorted(broken)[:60])
    assert not unparsable, "\n".join(unparsable[:20])
    no_anchor = sorted({f"{page}#{frag} (from {ref})" for page, frag, ref in fragment_links
                        if page in anchors and unquote(frag) not in anchors[page] and frag not in anchors[page]})
    assert not no_anchor, f"{len(no_anchor)} links to a missing anchor:\n" + "\n".join(no_anchor[:40])
    undescribed = sorted(f"{iri} (mentioned in {ref})" for iri, ref in hash_iris.items()
                         if iri not in described.get(iri_to_local(iri), set()))
    undefined_terms = [u for u in undescribed if u.startswith(BASE + "def#")]
    others = [u for u in undescribed if u not in undefined_terms]
    assert not others, f"{len(others)} hash IRIs that their document does not describe:\n" + "\n".join(others[:40])
    return {u for u, _ in seen}, kinds, parsed, undefined_terms


@pytest.mark.oxigraph_only  # links do not depend on the store; on Virtuoso it passes in ~55 s (KB_TEST_IGNORE_OXIGRAPH_ONLY=1), too much of the 10-min suite
def test_crawl_finds_no_broken_link_and_every_rdf_document_parses(client):
    crawled, kinds, parsed, undefined_terms = crawl(client)
    # the crawl really went through the KB: pages, documents in every format, entity pages of each class
    assert kinds.get("text/html", 0) > 50, kinds
    for media in ("text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples"):
        assert kinds.get(media, 0) > 20, kinds
    assert parsed > 100
    for kind in ("agency", "action", "programme", "convention", "event", "report", "document"):
        assert any(u.startswith(f"/doc/{kind}/") for u in crawled), kind
    # the kinds of IRIs the server mints, each reached and dereferenced
    for prefix in ("/.well-known/genid/", "/doc/import/", "/graph/", "/doc/concept/", "/def", "/shapes",
                   "/dataset", "/sparql"):
        assert any(u.startswith(prefix) for u in crawled), prefix
    assert not undefined_terms, "terms of our namespace that the ontology does not define:\n" + "\n".join(undefined_terms)


def test_crawl_of_awkward_iris_finds_no_broken_link():
    """The sample KB: non-ASCII, %-escaped and reserved characters in IRIs, blank nodes, paged documents."""
    from ld_sample_data import sample_app

    crawled, kinds, parsed, undefined_terms = crawl(sample_app().test_client())
    assert not undefined_terms
    assert "/doc/place/s%C3%A3o-tom%C3%A9" in crawled and "/doc/place/a%2Fb%20c.ttl" in crawled
    assert any("?page=2" in u for u in crawled)
