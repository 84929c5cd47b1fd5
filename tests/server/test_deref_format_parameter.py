"""A format parameter, as Trifid (`?format=ttl`), LodView (`?output=text/turtle`) and Wikibase (`format=`) take
it: on `/id/` it chooses the 303 target whatever `Accept` says; on `/doc/` it answers 301 to the canonical
document URL (the suffix form), keeping the other parameters. An unknown format is a 400 that lists them."""

from __future__ import annotations

import pytest

from ld_sample_data import AGENCY, sample_app

BASE = "https://w3id.org/thb-kb/"
PATH = AGENCY[len(BASE) + 3:]


@pytest.fixture(scope="module")
def c(request, store_kind):
    return sample_app(request).test_client()


@pytest.mark.parametrize("param,suffix", [("format=ttl", "ttl"), ("format=turtle", "ttl"),
                                          ("format=text/turtle", "ttl"), ("output=application/ld%2Bjson", "jsonld"),
                                          ("format=nt", "nt"), ("format=rdf", "rdf"), ("format=html", "html"),
                                          ("format=JSONLD", "jsonld")])
def test_format_parameter_on_id_and_doc(c, param, suffix):
    r = c.get(f"/id/{PATH}?{param}", headers={"Accept": "text/html"})
    assert r.status_code == 303
    want = f"http://localhost/doc/{PATH}" + ("" if suffix == "html" else f".{suffix}")
    assert r.headers["Location"] == want
    r = c.get(f"/doc/{PATH}?{param}&page=1&lang=fr", headers={"Accept": "text/html"})
    assert r.status_code == 301
    assert r.headers["Location"] == f"http://localhost/doc/{PATH}.{suffix}?page=1&lang=fr"
    assert c.get(r.headers["Location"]).status_code == 200


def test_unknown_format_parameter_is_a_400_listing_the_formats(c):
    for url in (f"/id/{PATH}?format=xlsx", f"/doc/{PATH}?format=xlsx", f"/doc/{PATH}.ttl?output=image/png"):
        r = c.get(url, headers={"Accept": "text/plain, text/html;q=0.5"})
        assert r.status_code == 400, url
        text = r.get_data(as_text=True)
        assert "xlsx" in text or "image/png" in text
        assert ".ttl" in text and "text/turtle" in text


def test_format_parameter_on_an_undescribed_iri_is_still_a_404(c):
    assert c.get("/id/agency/nobody?format=ttl").status_code == 404
    assert c.get("/doc/agency/nobody?format=ttl").status_code == 404
