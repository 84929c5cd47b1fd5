"""KB_CACHE_MB bounds the memory of the response caches: entity documents and SPARQL answers."""

import pytest

from conftest import make_settings

MIB = 1024 * 1024


def make(curated_store, cache_mb):
    from server import create_app

    app = create_app(make_settings(cache_mb=cache_mb), store=curated_store, load_if_empty=False)
    app.testing = True
    return app


@pytest.mark.oxigraph_only
@pytest.mark.parametrize("cache_mb", [3, 0])
def test_the_budget_splits_between_documents_and_sparql(curated_store, cache_mb):
    app = make(curated_store, cache_mb)
    client = app.test_client()
    assert client.get("/doc/convention/cets-197.ttl").status_code == 200
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert client.get("/sparql", query_string={"query": query},
                      headers={"Accept": "application/sparql-results+json"}).status_code == 200
    docs = app.extensions["kb.ld"]["cache"]
    answers = app.extensions["sparql"].cache.responses
    assert docs.max_bytes == cache_mb * 2 * MIB // 3
    assert answers.max_bytes == cache_mb * MIB // 3
    if cache_mb == 0:  # nothing is kept
        assert docs.bytes == 0 and len(answers) == 0
    else:
        assert 0 < docs.bytes <= docs.max_bytes and len(answers) == 1
