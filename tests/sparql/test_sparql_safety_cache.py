"""The safety check's parse verdict is cached by exact query text and base IRI (bounded LRU); the store is
still asked about FROM graphs on every request."""

import pytest

from server.sparql import safety

Q = "SELECT * FROM <https://w3id.org/thb-kb/graph/a> WHERE { ?s ?p ?o }"


def test_a_cached_verdict_still_asks_the_store_about_from_graphs():
    graphs = {"https://w3id.org/thb-kb/graph/a"}
    first = safety.check(Q, graphs.__contains__, strict=True)
    assert first.from_graphs == ["https://w3id.org/thb-kb/graph/a"]
    first.from_graphs.append("mutated")  # callers get a copy: the cache is not changed through them
    assert safety.check(Q, graphs.__contains__, strict=True).from_graphs == ["https://w3id.org/thb-kb/graph/a"]
    graphs.clear()  # the graph is dropped: the same query text is now refused
    with pytest.raises(safety.QueryRefused, match="no such graph"):
        safety.check(Q, graphs.__contains__, strict=True)


def test_refusals_are_cached_and_raised_fresh_each_time():
    bad = "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }"
    errors = []
    for _ in range(2):
        with pytest.raises(safety.QueryRefused) as info:
            safety.check(bad, lambda g: True, strict=True)
        errors.append(info.value)
    assert errors[0] is not errors[1] and errors[0].message == errors[1].message
    with pytest.raises(safety.QuerySyntaxError) as info:
        safety.check("SELECT * WHERE { ?s ?p }", lambda g: True, strict=True)
    assert info.value.line == 1 and "syntax error" in info.value.message


def test_the_base_iri_is_part_of_the_key():
    q = "SELECT * FROM <graph/a> WHERE { ?s ?p ?o }"
    a = safety.check(q, lambda g: True, "https://a.example/", strict=True)
    b = safety.check(q, lambda g: True, "https://b.example/", strict=True)
    assert a.from_graphs == ["https://a.example/graph/a"] and b.from_graphs == ["https://b.example/graph/a"]


def test_the_cache_is_bounded():
    for i in range(safety.PARSE_CACHE + 50):
        safety.check(f"SELECT * WHERE {{ ?s ?p {i} }}", lambda g: True, strict=True)
    assert len(safety._verdicts) == safety.PARSE_CACHE
