"""FAIR Signposting `type` links: the 303 from `/id/` and every document name the thing's classes (the
ontology's, and the schema.org type the entity page's markup uses), so a harvester knows what it is before
it parses anything."""

from __future__ import annotations

import pytest

from ld_sample_data import AGENCY, sample_app

BASE = "https://w3id.org/thb-kb/"
PATH = AGENCY[len(BASE) + 3:]


@pytest.fixture(scope="module")
def c(request, store_kind):
    return sample_app(request).test_client()


@pytest.mark.parametrize("url,accept", [(f"/id/{PATH}", "text/turtle"), (f"/id/{PATH}", "text/html"),
                                        (f"/doc/{PATH}", "text/html"), (f"/doc/{PATH}.ttl", "*/*"),
                                        (f"/doc/{PATH}.jsonld", "*/*")])
def test_type_links(c, url, accept):
    link = c.get(url, headers={"Accept": accept}).headers["Link"]
    assert f'<{BASE}def#Agency>; rel="type"' in link
    assert '<https://schema.org/GovernmentOrganization>; rel="type"' in link


def test_type_links_on_a_revalidation(c):
    first = c.get(f"/doc/{PATH}.ttl")
    again = c.get(f"/doc/{PATH}.ttl", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and 'rel="type"' in again.headers["Link"]
