"""The metadata documents (VoID, DCAT) and the entity documents negotiate by the same rules (server.negotiation):
the same format names, suffixes, media types and aliases in `?format=`/`?output=` and in `Accept`; only a
client that accepts anything gets Turtle from the metadata and HTML from the entity pages."""

from __future__ import annotations

import pytest

from server import negotiation


@pytest.mark.parametrize("query,media", [("format=ttl", "text/turtle"), ("format=nt", "application/n-triples"),
                                         ("format=jsonld", "application/ld+json"), ("format=rdf", "application/rdf+xml"),
                                         ("format=json-ld", "application/ld+json"), ("output=text/turtle", "text/turtle"),
                                         ("format=RDFXML", "application/rdf+xml")])
def test_metadata_takes_the_format_names_of_the_documents(metadata_app, query, media):
    r = metadata_app.test_client().get(f"/.well-known/void?{query}")
    assert r.status_code == 200 and r.mimetype == media


@pytest.mark.parametrize("accept", ["application/json", "application/x-turtle", "text/plain", "text/xml",
                                    "application/xhtml+xml", "*/*", None])
def test_the_same_aliases_in_accept(metadata_app, accept):
    r = metadata_app.test_client().get("/catalog", headers={"Accept": accept} if accept else {})
    want = negotiation.negotiate(r.request.accept_mimetypes, rdf_first=True)
    assert r.status_code == 200 and r.mimetype == want.media_type
    if accept in ("*/*", None):
        assert r.mimetype == "text/turtle"


def test_unknown_or_html_where_not_offered_is_406(metadata_app):
    c = metadata_app.test_client()
    assert c.get("/.well-known/void?format=xlsx").status_code == 406
    assert c.get("/catalog", headers={"Accept": "image/png"}).status_code == 406
