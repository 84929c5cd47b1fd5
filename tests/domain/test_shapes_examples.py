"""shapes/examples: a valid and an invalid example for every node shape, described by manifest.ttl.

Each example is validated together with shapes/examples/context.ttl and the ontology. A valid example
gives no result of any severity; an invalid one gives results, all of them on exactly the expected node
shape and path (thbx:path; none = no sh:resultPath)."""

from __future__ import annotations

import pytest
from domain_support import EXAMPLES_DIR, load, shapes_graph, validate
from rdflib import Graph, Namespace
from rdflib.namespace import RDF, SH

THBX = Namespace("https://w3id.org/thb-kb/shapes/examples#")
MANIFEST = load(EXAMPLES_DIR / "manifest.ttl")
CONTEXT = load(EXAMPLES_DIR / str(MANIFEST.value(THBX.manifest, THBX.context)))
CASES = sorted(
    (str(MANIFEST.value(e, THBX.file)), MANIFEST.value(e, THBX.shape),
     MANIFEST.value(e, THBX.conforms).toPython(), MANIFEST.value(e, THBX.path))
    for e in MANIFEST.subjects(RDF.type, THBX.Example)
)


def test_context_alone_conforms():
    assert validate(CONTEXT) == []


def test_every_named_node_shape_has_a_valid_and_an_invalid_example():
    named = {s for s in shapes_graph().subjects(RDF.type, SH.NodeShape)
             if str(s).startswith("https://w3id.org/thb-kb/shapes#")}
    covered = {(shape, conforms) for _, shape, conforms, _ in CASES}
    missing = [(s, c) for s in named for c in (True, False) if (s, c) not in covered]
    assert missing == []
    for file, *_ in CASES:
        assert (EXAMPLES_DIR / file).is_file(), file


@pytest.mark.parametrize("file,shape,conforms,path", CASES, ids=[c[0] for c in CASES])
def test_example(file, shape, conforms, path):
    data = Graph()
    data += CONTEXT
    data += load(EXAMPLES_DIR / file)
    results = validate(data)
    if conforms:
        assert results == [], [(r.shape, r.path, r.message) for r in results]
    else:
        assert results, f"{file} should fail on {shape} {path}"
        assert {(r.shape, r.path) for r in results} == {(shape, path)}, [(r.shape, r.path, r.message) for r in results]


def test_end_date_that_disagrees_with_the_interval_end_is_a_violation():
    """Regression: the date-agreement constraint once bound the interval outside its UNION and missed this."""
    import datetime

    from rdflib import Literal, URIRef

    schema_end = URIRef("https://schema.org/endDate")
    data = Graph()
    data += CONTEXT
    data += load(EXAMPLES_DIR / "event-EventShape-valid.ttl")
    event, end = next((s, o) for s, o in data.subject_objects(schema_end))
    assert validate(data) == []
    data.set((event, schema_end, Literal(end.toPython() + datetime.timedelta(days=1))))
    results = validate(data)
    assert {(r.shape, r.path) for r in results} == {(URIRef("https://w3id.org/thb-kb/shapes#EventShape"), schema_end)}
