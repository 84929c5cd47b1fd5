"""Bad input: a 4xx with a clear message in the negotiated format, never a traceback; data never becomes
markup (a label holding <script>, a javascript: IRI)."""

from __future__ import annotations

import html as html_lib
import json
import re

import pytest
import rdflib

from ld_sample_data import AGENCY, EVIL, sample_app

BASE = "https://w3id.org/thb-kb/"
EVIL_PATH = "/doc/" + EVIL[len(BASE) + 3:]


@pytest.fixture(scope="module")
def c(request, store_kind):
    return sample_app(request, page_size=100).test_client()


def assert_clean_error(r, status_range=(400, 499), text=None):
    assert status_range[0] <= r.status_code <= status_range[1], r.status_code
    body = r.get_data(as_text=True)
    assert "Traceback" not in body and 'File "' not in body
    if text:
        assert text in html_lib.unescape(body), body[:500]
    return body


@pytest.mark.parametrize("url,status,text", [
    ("/doc/" + "x" * 3000, 414, "too long"),
    ("/id/agency/" + "a%C3%A9" * 600, 414, "too long"),
    ("/doc/agency/../../etc/passwd", None, None),
    ("/doc/agency/%2e%2e/%2e%2e/etc/passwd", 400, "'..'"),
    ("/id/agency/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", 400, "'..'"),
    ("/doc/agency/..%2f..%2fsecret.ttl", 400, "'..'"),
    ("/doc/agency/%00evil", 400, "control characters"),
    ("/doc/agency/%FF%FE", 404, "does not describe"),
    ("/doc/agency/ankara-police.exe", 404, "Unknown format suffix .exe"),
    ("/doc/agency/ankara-police.ttl.gz", 404, None),
    ("/doc/agency/ankara-police?page=0", 400, "page must be"),
    ("/doc/agency/ankara-police?page=-1", 400, "page must be"),
    ("/doc/agency/ankara-police?page=abc", 400, "page must be"),
    ("/doc/agency/ankara-police?page=99999999999999999999", 400, "page must be"),
    ("/doc/agency/ankara-police?x=" + "a" * 5000, 414, "query string is too long"),
    ("/search?q=" + "a" * 5000, 414, "query string is too long"),
    ("/search?q=" + "a" * 500, 400, "too long"),
    ("/search?q=x&class=nonsense", 400, "Unknown class"),
    ("/class/nonsense", 404, "no class index"),
    ("/class/agency?sort=evil", 400, "sort must be"),
    ("/class/agency?page=9999", 404, "page"),
    ("/def.exe", 404, "Unknown format suffix"),
    ("/doc/", 404, None),
    ("/doc/agency/", 404, None),
    ("/id/<script>alert(1)</script>", 404, None),
    ("/no/such/route", 404, None),
])
def test_bad_paths_get_a_clear_4xx(c, url, status, text):
    for accept in ("text/html", "text/turtle"):
        r = c.get(url, headers={"Accept": accept})
        body = assert_clean_error(r, text=text if accept == "text/html" else None)
        if status:
            assert r.status_code == status, (url, r.status_code, body[:300])
        if accept == "text/turtle" and r.status_code != 406:
            assert r.mimetype == "text/turtle"
            g = rdflib.Graph().parse(data=r.data, format="turtle")
            descriptions = [str(o) for o in g.objects(None, rdflib.URIRef("http://www.w3.org/ns/hydra/core#description"))]
            assert descriptions and (text is None or any(text in d for d in descriptions)), descriptions


@pytest.mark.parametrize("accept", [
    ";;;,,,q=x",
    "text/turtle;q=abc",
    "*/*;q=0",
    "text/html;q=0, */*;q=0",
    "application/" + "x" * 3000,
    "text/html, " * 2000,
    "\x7f\x01",
    "image/png, video/*;q=0.9",
])
def test_absurd_accept_headers(c, accept):
    r = c.get("/doc/agency/ankara-police", headers={"Accept": accept})
    assert r.status_code in (200, 406, 431), r.status_code
    body = assert_clean_error(r, (200, 499))
    if r.status_code == 406:
        assert "text/turtle" in body
    if r.status_code == 431:
        assert "Accept header is too long" in html_lib.unescape(body)


def test_unsupported_method(c):
    r = c.post("/doc/agency/ankara-police", data="x")
    body = assert_clean_error(r)
    assert r.status_code == 405 and "GET" in r.headers.get("Allow", "")
    assert body


def test_markup_in_data_is_shown_as_text(c):
    r = c.get(EVIL_PATH, headers={"Accept": "text/html"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    # nothing from the data becomes an element or an attribute
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt; Evil &amp; Co" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # javascript: IRIs are never links
    assert not re.search(r'href\s*=\s*["\']?\s*javascript:', page, re.I)
    assert "javascript:alert(1)" in page, "shown as text"
    # the only script elements are the JSON-LD block, and it cannot be closed by data
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and 'type="application/ld+json"' in scripts[0][0]
    data = json.loads(scripts[0][1])
    assert data["name"] == "<script>alert('label')</script> Evil & Co"
    assert "</script" not in scripts[0][1]


def test_markup_in_data_in_search_and_indexes(c):
    for url in ("/search?q=evil", "/class/agency", "/search?q=%3Cscript%3E"):
        page = c.get(url).get_data(as_text=True)
        assert "<script>alert" not in page, url
    page = c.get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_rdf_documents_keep_the_data_exactly(c):
    g = rdflib.Graph().parse(data=c.get(EVIL_PATH + ".ttl").data, format="turtle")
    assert (rdflib.URIRef(EVIL), rdflib.OWL.sameAs, rdflib.URIRef("javascript:alert(1)")) in g


def test_store_failure_is_a_503_not_a_traceback():
    app = sample_app()
    store = app.extensions["kb"].store
    from kb.store.base import StoreUnavailable

    def down(*args, **kwargs):
        raise StoreUnavailable("the store went away")

    store.query = down  # the store object of this test only: every query now fails as a dead remote would
    r = app.test_client().get("/doc/agency/ankara-police", headers={"Accept": "text/turtle"})
    assert r.status_code == 503 and r.headers.get("Retry-After")
    assert "Traceback" not in r.get_data(as_text=True)
    assert AGENCY not in r.get_data(as_text=True)
