"""kb.shacl_sparql on the tricky parts of SHACL, each against pySHACL on small shapes graphs written for the
case (any shapes graph the engine accepts, not only the trusted one): ill-typed literals, blank-node focus
nodes, literal values of sh:class, duplicate results, $this in UNION/OPTIONAL/EXISTS, Python's `$`, pySHACL's
own wording when a shape has no sh:message; the features it refuses; and the two places where it follows
SHACL rather than pySHACL 0.40 (comparisons SPARQL cannot make; focus lists and nested shapes)."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from rdflib import Graph
from shacl_differential import difference, result_keys

from kb import shacl_runner, shacl_sparql
from kb.pyshacl_speedups import install

PREFIXES = """@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
"""


def _store(data: str) -> ox.Store:
    store = ox.Store()
    store.bulk_extend(ox.Quad(q.subject, q.predicate, q.object) for q in
                      ox.parse((PREFIXES + data).encode(), ox.RdfFormat.TURTLE))
    return store


def pyshacl_report(shapes: str, data: str, focus=None) -> bytes:
    import pyshacl
    from rdflib import URIRef

    install()
    kwargs = {"focus_nodes": [URIRef(f) for f in focus]} if focus else {}
    _, report, _ = pyshacl.validate(_store(data), shacl_graph=Graph().parse(data=PREFIXES + shapes, format="turtle"),
                                    inference="none", advanced=True, inplace=True, **kwargs)
    return report.serialize(format="nt", encoding="utf-8")


def sparql_report(shapes: str, data: str, focus=None) -> bytes:
    model = shacl_sparql.load_shapes(Graph().parse(data=PREFIXES + shapes, format="turtle"))
    return shacl_sparql.validate(_store(data), model, focus).serialize(format="nt", encoding="utf-8")


def same(shapes: str, data: str, focus=None):
    a, b = result_keys(pyshacl_report(shapes, data, focus)), result_keys(sparql_report(shapes, data, focus))
    assert a == b, difference(a, b)
    return b


def components(results) -> list[str]:
    return sorted(k[5].rsplit("#", 1)[1].rstrip(">") for k in results.elements())


DATES = """ex:S a sh:NodeShape ; sh:targetClass ex:C ;
    sh:property [ sh:path ex:d ; sh:datatype xsd:date ; sh:message "d" ] ,
                [ sh:path ex:n ; sh:datatype xsd:integer ; sh:message "n" ] ."""


def test_ill_typed_literals_are_judged_as_pyshacl_judges_them():
    """rdflib's lexical rules decide: "2021-13-45" and year 0000 are ill-typed dates, "1_000" is a valid
    integer (rdflib parses it with int()); a string or a dateTime is the wrong datatype."""
    data = """ex:a a ex:C ; ex:d "2021-13-45"^^xsd:date , "0000-01-01"^^xsd:date , "2021-01-01"^^xsd:date ,
                   "2021-01-01" , "2021-01-01T00:00:00"^^xsd:dateTime ; ex:n "1_000"^^xsd:integer , "x"^^xsd:integer ."""
    results = same(DATES, data)
    values = sorted(k[2] for k in results)
    assert len(values) == 5 and not any("1_000" in v or v == '"2021-01-01"^^<http://www.w3.org/2001/XMLSchema#date>'
                                        for v in values)


def test_blank_node_focus_nodes_and_literal_values_of_sh_class():
    shapes = """ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:message "m" ;
        sh:property [ sh:path ex:link ; sh:class ex:D ; sh:minCount 1 ] ."""
    data = """[ a ex:C ; ex:link "a literal" , [ a ex:E ] ] . [ a ex:C ] .
              ex:E rdfs:subClassOf ex:D . ex:ok a ex:C ; ex:link [ a ex:E ] ."""
    results = same(shapes, data)
    assert components(results) == ["ClassConstraintComponent", "MinCountConstraintComponent"]


def test_one_result_per_duplicated_language_and_per_compared_pair():
    shapes = """ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:message "m" ;
        sh:property [ sh:path ex:t ; sh:uniqueLang true ] , [ sh:path ex:start ; sh:lessThanOrEquals ex:end ] ."""
    data = """ex:a a ex:C ; ex:t "a"@en , "b"@EN , "c"@fr , "d"@fr , "e"@de ;
              ex:start "2020-05-01"^^xsd:date ; ex:end "2020-01-01"^^xsd:date , "2020-02-01"^^xsd:date ,
                                                       "2021-01-01"^^xsd:date ."""
    results = same(shapes, data)
    assert components(results) == ["LessThanOrEqualsConstraintComponent"] * 2 + ["UniqueLangConstraintComponent"] * 2


def test_this_in_union_optional_and_exists_is_substituted():
    """pySHACL substitutes $this into the query, whose FILTERs and EXISTS sit in UNION branches and in
    OPTIONAL: joining with the focus set gives the same solutions."""
    shapes = """ex:S a sh:NodeShape ; sh:targetClass ex:C ;
        sh:sparql [ sh:message "{$this} {?path} {?value} {?extra}" ; sh:select \"\"\"
            SELECT $this ?path ?value ?extra WHERE {
              { FILTER NOT EXISTS { $this <http://example.org/p> ?x } BIND (<http://example.org/p> AS ?path) }
              UNION
              { ?value <http://example.org/q> ?y . FILTER (?y = $this) BIND ("u" AS ?extra) }
              UNION
              { OPTIONAL { $this <http://example.org/r> ?value } BIND (<http://example.org/r> AS ?path)
                FILTER (!BOUND(?value)) }
            }\"\"\" ] ."""
    data = """ex:a a ex:C ; ex:p 1 ; ex:r 2 . ex:b a ex:C . ex:z ex:q ex:b . ex:c a ex:C ; ex:p 1 ."""
    results = same(shapes, data)
    assert len(results) == 4  # ex:b: all three branches; ex:c: the OPTIONAL one


def test_python_dollar_matches_before_a_final_newline():
    shapes = """ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:message "m" ;
        sh:property [ sh:path ex:code ; sh:pattern "^[A-Z]{3}$" ] ."""
    results = same(shapes, 'ex:a a ex:C ; ex:code "TUR\\n" , "TURK" , "tur" , "ABC" , ex:IRI .')
    assert len(results) == 3


@pytest.mark.parametrize("constraint", [
    'sh:property [ sh:path ex:v ; sh:class ex:D ]', 'sh:property [ sh:path ex:v ; sh:datatype xsd:string ]',
    'sh:property [ sh:path ex:v ; sh:nodeKind sh:IRI ]', 'sh:property [ sh:path ex:v ; sh:minCount 5 ]',
    'sh:property [ sh:path ex:v ; sh:maxCount 1 ]', 'sh:property [ sh:path ex:v ; sh:pattern "^z" ]',
    'sh:property [ sh:path ex:v ; sh:languageIn ( "en" ) ]', 'sh:property [ sh:path ex:v ; sh:uniqueLang true ]',
    'sh:property [ sh:path ex:u ; sh:node [ sh:property [ sh:path ex:w ; sh:minCount 1 ] ] ]',
    'sh:property [ sh:path ex:v ; sh:hasValue ex:nothing ]', 'sh:property [ sh:path ex:v ; sh:in ( ex:k 1 ) ]',
    'sh:property [ sh:path ex:v ; sh:or ( [ sh:datatype xsd:integer ] [ sh:nodeKind sh:BlankNode ] ) ]',
    'sh:property [ sh:path ex:v ; sh:lessThanOrEquals ex:w ]', 'sh:property [ sh:path ex:v ; sh:minInclusive 5 ]',
    'sh:property [ sh:path ex:v ; sh:qualifiedValueShape [ sh:datatype xsd:integer ] ; sh:qualifiedMinCount 3 ]',
    'sh:property [ sh:path [ sh:inversePath ex:v ] ; sh:minCount 1 ]', 'sh:pattern "^http://example.org/x"',
    'sh:hasValue ex:other',
])
def test_pyshacl_wording_when_a_shape_has_no_message(constraint):
    shapes = f"ex:S a sh:NodeShape ; sh:targetClass ex:C ; {constraint} ."
    data = 'ex:a a ex:C ; ex:v "x"@en , "y"@en , 2 , ex:b ; ex:w 1 ; ex:u ex:b , ex:d . ex:b ex:w 0 .'
    results = same(shapes, data)
    assert results and all(k[6] for k in results)  # every result has a message


def test_deactivated_shapes_and_constraints_and_severities():
    shapes = """ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:severity sh:Warning ;
        sh:property [ sh:path ex:v ; sh:minCount 1 ; sh:severity sh:Info ] ,
                    [ sh:path ex:w ; sh:minCount 1 ; sh:deactivated true ] ;
        sh:sparql [ sh:deactivated true ; sh:select "SELECT $this WHERE { }" ] ,
                  [ sh:select "SELECT $this WHERE { FILTER NOT EXISTS { $this <http://example.org/z> ?z } }" ] .
        ex:T a sh:NodeShape ; sh:targetClass ex:C ; sh:deactivated true ; sh:property [ sh:path ex:v ; sh:minCount 1 ] ."""
    results = same(shapes, "ex:a a ex:C .")
    assert sorted(k[3] for k in results.elements()) == ["<http://www.w3.org/ns/shacl#Info>",
                                                         "<http://www.w3.org/ns/shacl#Warning>"]


@pytest.mark.parametrize("feature", [
    "sh:closed true", "sh:property [ sh:path ex:v ; sh:minLength 2 ]", "sh:xone ( [ sh:class ex:D ] )",
    "sh:property [ sh:path ( ex:v ex:w ) ; sh:minCount 1 ]", 'sh:pattern "a" ; sh:flags "i"',
    "sh:property [ sh:path ex:v ; sh:qualifiedValueShape [ sh:class ex:D ] ; sh:qualifiedMaxCount 1 ]",
    'sh:sparql [ sh:select "SELECT $this WHERE { $this ?p ?o MINUS { $this ex:v ?o } }" ]',
    'sh:sparql [ sh:select "SELECT $this WHERE { $this $PATH ?o }" ]',
    'sh:sparql [ sh:select "SELECT $this (COUNT(*) AS ?n) WHERE { $this ?p ?o }" ]',
    'sh:pattern "\\\\d+"', "sh:targetNode ex:a", "sh:property [ sh:path ex:v ; sh:uniqueLang false ]",
    "sh:node ex:S",
])
def test_unsupported_features_are_refused_when_the_shapes_are_loaded(feature):
    shapes = PREFIXES + f"ex:S a sh:NodeShape ; sh:targetClass ex:C ; {feature} ."
    with pytest.raises(shacl_sparql.Unsupported) as info:
        shacl_sparql.load_shapes(Graph().parse(data=shapes, format="turtle"))
    assert str(info.value)


def test_the_runner_falls_back_to_pyshacl_when_the_engine_refuses(monkeypatch):
    data = b"<https://w3id.org/thb-kb/id/agency/x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> " \
           b"<https://w3id.org/thb-kb/def#Agency> .\n"
    monkeypatch.setattr(shacl_runner, "_sparql_model_memo", [(None, "sh:closed is not supported")])
    called = []
    monkeypatch.setattr(shacl_runner, "_pyshacl", lambda nt, focus, engine: called.append(engine) or b"")
    shacl_runner._shacl(data, None)
    assert called == ["pyshacl"] and shacl_runner.sparql_engine_refusal() == "sh:closed is not supported"


# --- where SHACL and pySHACL 0.40 differ ----------------------------------------------------------------------

ORDER = """ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:message "m" ;
    sh:property [ sh:path ex:start ; sh:lessThanOrEquals ex:end ] , [ sh:path ex:n ; sh:minInclusive 1 ] ."""


def test_values_sparql_cannot_compare_are_violations():
    """SHACL: a pair that `<=` cannot compare is a violation (so is a value `>=` cannot compare with the
    minimum). pySHACL compares rdflib literals instead, whose order puts any xsd:date before any integer
    and a valid date before an ill-typed one: no result there."""
    data = """ex:a a ex:C ; ex:start "2020-01-01"^^xsd:date ; ex:end 5 ; ex:n "2020-01-01"^^xsd:date .
              ex:b a ex:C ; ex:start "2020-01-01"^^xsd:date ; ex:end "2020-13-45"^^xsd:date ."""
    ours = result_keys(sparql_report(ORDER, data))
    assert components(ours) == ["LessThanOrEqualsConstraintComponent"] * 2 + ["MinInclusiveConstraintComponent"]
    assert components(result_keys(pyshacl_report(ORDER, data))) == ["MinInclusiveConstraintComponent"]


def test_an_ill_typed_value_compared_with_a_date_is_a_violation_not_a_crash():
    data = 'ex:a a ex:C ; ex:start "2020-13-45"^^xsd:date ; ex:end "2020-01-01"^^xsd:date .'
    assert components(result_keys(sparql_report(ORDER, data))) == ["LessThanOrEqualsConstraintComponent"]
    with pytest.raises(TypeError):
        pyshacl_report(ORDER, data)  # rdflib cannot order the ill-typed literal; pySHACL does not catch it


def test_a_focus_list_restricts_the_targets_not_the_values_of_nested_shapes():
    """Without kb.pyshacl_speedups' correction, pySHACL 0.40 skips the nested shape of a value that is not in
    the focus list (every literal): the missing English label went unnoticed."""
    shapes = """ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:message "m" ;
        sh:property [ sh:path rdfs:label ; sh:qualifiedValueShape [ sh:languageIn ( "en" ) ] ; sh:qualifiedMinCount 1 ] ."""
    data = 'ex:a a ex:C ; rdfs:label "A"@fr .'
    assert len(same(shapes, data, focus=["http://example.org/a"])) == 1


def test_a_literal_value_checked_against_a_nested_shape_with_a_property():
    """An event whose dct:type is a literal: the nested shape (sh:node [ sh:property [ skos:inScheme ... ] ])
    is checked on the literal. pySHACL over rdflib reports it; pySHACL's Oxigraph backend (the engine of
    imports before kb.shacl_sparql) fails with a TypeError, as Oxigraph has no triples with a literal subject
    to look up."""
    event = "<https://w3id.org/thb-kb/id/event/x>"
    data = (f'{event} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/thb-kb/def#Event> .\n'
            f'{event} <http://purl.org/dc/terms/type> "workshop" .\n').encode()
    ours = result_keys(shacl_runner._shacl(data, None, engine="sparql"))
    reference = result_keys(shacl_runner._shacl(data, None, engine="rdflib"))
    assert ours == reference, difference(reference, ours)
    assert "NodeConstraintComponent" in components(ours)
    with pytest.raises(TypeError):
        shacl_runner._shacl(data, None, engine="pyshacl")


def test_counts_below_the_minimum_and_above_the_maximum_of_one_property():
    shapes = """ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:message "m" ;
        sh:property [ sh:path ex:v ; sh:minCount 3 ; sh:maxCount 1 ] , [ sh:path ex:w ; sh:minCount 2 ] ,
                    [ sh:path ex:u ; sh:maxCount 0 ] , [ sh:path ex:x ; sh:minCount 1 ; sh:maxCount 1 ] ,
                    [ sh:path ex:y ; sh:maxCount 1 ] ."""
    data = """ex:a a ex:C ; ex:v 1 , 2 ; ex:w 1 ; ex:u 1 ; ex:x 1 , 2 , 3 ; ex:y 1 , 2 .
              ex:b a ex:C ; ex:v 1 ; ex:x 1 ; ex:y 1 ."""
    results = same(shapes, data)
    assert components(results) == ["MaxCountConstraintComponent"] * 4 + ["MinCountConstraintComponent"] * 4
