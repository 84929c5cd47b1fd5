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
        safety.check("SELECT * FROM <http://example.org/g> WHERE { ?s ?p }", lambda g: True, strict=True)
    assert info.value.line == 1 and "syntax error" in info.value.message


def test_the_base_iri_is_part_of_the_key():
    q = "SELECT * FROM <graph/a> WHERE { ?s ?p ?o }"
    a = safety.check(q, lambda g: True, "https://a.example/", strict=True)
    b = safety.check(q, lambda g: True, "https://b.example/", strict=True)
    assert a.from_graphs == ["https://a.example/graph/a"] and b.from_graphs == ["https://b.example/graph/a"]


def test_the_cache_is_bounded():
    for i in range(safety.PARSE_CACHE + 50):
        safety.check(f"SELECT * FROM <http://example.org/g{i}> WHERE {{ ?s ?p ?o }}", lambda g: True)
    assert len(safety._verdicts) == safety.PARSE_CACHE


# -- remote stores: extension functions (Virtuoso runs a function IRI as its own procedure) ---------------
CALLS = [
    'PREFIX b: <bif:> SELECT (b:http_get("http://127.0.0.1:9/") AS ?x) WHERE {}',
    'SELECT (<bif:http_get>("http://127.0.0.1:9/") AS ?x) WHERE {}',
    'SELECT ?x WHERE { BIND(<bif:http_get> # a comment between\n ("http://127.0.0.1:9/") AS ?x) }',
    'BASE <bif:> SELECT (<http_get>("http://127.0.0.1:9/") AS ?x) WHERE {}',
    'PREFIX s: <sql:> SELECT ?x WHERE { FILTER(s:anything(1)) }',
    'SELECT ?x WHERE { ?x ?p ?o FILTER(<http://example.org/f>(?o)) }',
]


@pytest.mark.parametrize("query", CALLS)
def test_a_remote_store_gets_no_extension_function_calls(query):
    with pytest.raises(safety.QueryRefused, match="function <.*> is not allowed"):
        safety.check(query, lambda g: True, strict=True)
    assert safety.check(query, lambda g: True, strict=False) is not None  # the embedded store: its own rules


@pytest.mark.parametrize("query", [
    'SELECT (xsd:integer("1") AS ?n) (STR(?s) AS ?t) WHERE { ?s ?p ?o FILTER(?o > (1 + 2)) }',
    'PREFIX x: <http://www.w3.org/2001/XMLSchema#> SELECT (x:date("2020-01-01") AS ?d) WHERE {}',
    'SELECT * WHERE { ?s <http://example.org/list> (1 2) }',  # an RDF collection, not a call
])
def test_xsd_casts_and_collections_pass_on_a_remote_store(query):
    assert safety.check(query, lambda g: True, strict=True).parsed


def test_a_remote_store_query_without_anything_to_look_for_skips_the_parse():
    q = 'PREFIX dct: <http://purl.org/dc/terms/> SELECT ?s WHERE { ?s dct:title ?t FILTER(LANG(?t) = "en") } LIMIT 5'
    assert safety.check(q, lambda g: True, strict=True).parsed is False
    with pytest.raises(safety.QuerySyntaxError):  # DEFINE (a Virtuoso pragma) is always parsed, and refused
        safety.check('DEFINE input:grab-all "yes" SELECT * WHERE { ?s ?p ?o }', lambda g: True, strict=True)


# -- the shortcut reads the query's code: words inside IRIs, strings and comments are no reason to parse ---
@pytest.mark.parametrize("query", [
    # the bench's 06 query: an agency type IRI ending in "service"
    "SELECT ?c (COUNT(?a) AS ?n) WHERE { ?a <http://www.w3.org/ns/org#classification> "
    "<https://w3id.org/thb-kb/id/concept/agency-type/border-immigration-service> ; ?p ?c } GROUP BY ?c",
    'SELECT ?s WHERE { ?s ?p ?t FILTER(CONTAINS(?t, "data from the service")) }',
    "# events from 2020, defined by the service\nSELECT ?s WHERE { ?s ?p ?o } # from here",
    "SELECT ?s WHERE { ?s ?p '''a long 'string' from \"the\" service''' }",
])
def test_keywords_outside_the_code_skip_the_parse(query):
    for strict in (True, False):
        assert safety.check(query, lambda g: True, strict=strict).parsed is False


@pytest.mark.parametrize("query", [
    'SELECT * WHERE { ?s ?p "x#y" . SERVICE <http://127.0.0.1:9/> { ?a ?b ?c } }',
    "SELECT * WHERE { ?s ?p ?o FILTER(1<2)SERVICE<http://127.0.0.1:9/>{?a ?b ?c} }",
    'SELECT * WHERE { ?s ?p """a "quoted" # not a comment <x>""" . SERVICE <http://127.0.0.1:9/> { ?a ?b ?c } }',
    "SELECT * WHERE { ?s <http://x/a#b> ?o . SERVICE SILENT ?where { ?a ?b ?c } }",
])
def test_service_in_the_code_is_still_found(query):
    """Refused before any engine sees it: by the SERVICE rule, or by the grammar (rdflib's parser does not
    read every one of these): either way the query was parsed, not let through by the shortcut."""
    with pytest.raises(safety.QueryRefused, match="SERVICE is not allowed|syntax error"):
        safety.check(query, lambda g: True, strict=True)


def test_from_in_the_code_is_still_found_next_to_iris_and_comments():
    q = "SELECT * # a comment <x>\nFROM<http://example.org/elsewhere> WHERE { ?s ?p '#' }"
    with pytest.raises(safety.QueryRefused, match="no such graph"):
        safety.check(q, lambda g: False, strict=True)


@pytest.mark.parametrize("query", [
    'SELECT ?s WHERE { ?s ?p "\\u0022" }',            # \\u escapes: where strings end is not certain
    'SELECT ?s WHERE { ?s ?p "unterminated }',        # a stray quote
])
def test_queries_the_shortcut_cannot_read_are_parsed(query):
    try:
        assert safety.check(query, lambda g: True, strict=True).parsed is True
    except safety.QuerySyntaxError:
        pass  # parsed, and refused by the grammar
