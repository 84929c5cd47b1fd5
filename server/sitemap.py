"""`/sitemap.xml` (every entity page, with lastmod) and `/robots.txt`.

A sitemap file holds at most 50,000 URLs (sitemaps.org): up to that `/sitemap.xml` is the urlset itself;
beyond, it is a sitemap index of `/sitemap-N.xml` pages. The entity list is computed once per KB version.
"""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, request

from .iris import IriMap
from .metadata_common import kb, per_version, select_all, web_root

bp = Blueprint("sitemap", __name__)

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
MAX_URLS = 50_000


def entity_iris(store, base: str) -> list[str]:
    """Every IRI under `{base}id/` that the KB describes (is the subject of a triple), sorted (in Python:
    faster than the store's ORDER BY on long IRI strings)."""
    q = f'SELECT DISTINCT ?s WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{base}id/")) }}'
    return sorted(row["s"].value for row in select_all(store, q, "?s"))


def entity_pages(base: str, iris: list[str]) -> list[str]:
    """Server-relative paths of the HTML pages of the entities; hash IRIs (`...#part`) are described in the
    page of the IRI before the '#', listed once."""
    imap = IriMap(base)
    pages = dict.fromkeys(imap.local_url(iri.split("#", 1)[0]) + ".html" for iri in iris)
    return list(pages)


def _pages() -> list[str]:
    return per_version("sitemap-pages", lambda state: entity_pages(state.iris.base, entity_iris(state.store, state.iris.base)))[1]


def _xml(body: str) -> Response:
    resp = Response('<?xml version="1.0" encoding="UTF-8"?>\n' + body, mimetype="application/xml")
    resp.last_modified = kb().store.last_modified()
    where = hashlib.sha1((web_root() + request.path).encode()).hexdigest()[:12]
    resp.set_etag(f"{kb().store.version()}-{where}")
    resp.headers["Cache-Control"] = kb().settings["cache_control"]
    return resp.make_conditional(request)


def _urlset(paths: list[str], root: str, lastmod: str) -> str:
    lines = [f'<urlset xmlns="{NS}">']
    for path in paths:
        lines.append(f"<url><loc>{escape(root + path.lstrip('/'))}</loc><lastmod>{lastmod}</lastmod></url>")
    lines.append("</urlset>\n")
    return "\n".join(lines)


def _lastmod() -> str:
    return kb().store.last_modified().replace(microsecond=0).isoformat()


@bp.get("/sitemap.xml")
def sitemap():
    pages, root, lastmod = _pages(), web_root(), _lastmod()
    if len(pages) <= MAX_URLS:
        return _xml(_urlset(pages, root, lastmod))
    lines = [f'<sitemapindex xmlns="{NS}">']
    for n in range(1, (len(pages) - 1) // MAX_URLS + 2):
        lines.append(f"<sitemap><loc>{escape(root)}sitemap-{n}.xml</loc><lastmod>{lastmod}</lastmod></sitemap>")
    lines.append("</sitemapindex>\n")
    return _xml("\n".join(lines))


@bp.get("/sitemap-<int:n>.xml")
def sitemap_page(n: int):
    pages = _pages()
    chunk = pages[(n - 1) * MAX_URLS: n * MAX_URLS] if n >= 1 else []
    if not chunk or len(pages) <= MAX_URLS:
        abort(404, description=f"no sitemap page {n}")
    return _xml(_urlset(chunk, web_root(), _lastmod()))


@bp.get("/robots.txt")
def robots():
    root = web_root()
    text = (
        "# thb-kb: crawl the entity pages (listed in the sitemap). The query endpoints (an endless URL space)\n"
        "# and the Graph Store (whole graphs) are for programs; the dumps stay open for data portals.\n"
        "User-agent: *\n"
        "Disallow: /sparql\n"
        "Disallow: /search\n"
        "Disallow: /graphs\n"
        "Disallow: /graph/\n"
        "Allow: /\n"
        f"\nSitemap: {root}sitemap.xml\n"
    )
    resp = Response(text, mimetype="text/plain")
    resp.headers["Cache-Control"] = kb().settings["cache_control"]
    return resp
