"""kb.pyshacl_speedups: the memoised shapes graph answers exactly like the graph it copies, also after a change
(results as a whole are compared with pySHACL over rdflib in test_validate_same_results.py)."""

from __future__ import annotations

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SH

from kb.pyshacl_speedups import memoised
from kb.validation import shapes_graph


def test_memoised_shapes_answer_like_the_original_and_forget_on_change():
    shapes = shapes_graph()
    copy = memoised(shapes)
    assert isinstance(copy, Graph) and len(copy) == len(shapes)
    for pattern in [(None, RDF.type, SH.NodeShape), (None, SH.path, None), (None, None, None)]:
        assert sorted(copy.triples(pattern)) == sorted(shapes.triples(pattern))
        assert sorted(copy.triples(pattern)) == sorted(shapes.triples(pattern))  # the remembered answer
    extra = (URIRef("urn:x:shape"), RDF.type, SH.NodeShape)
    copy.add(extra)
    assert extra in copy and extra not in shapes
    assert len(list(copy.triples((None, RDF.type, SH.NodeShape)))) == len(list(shapes.triples((None, RDF.type, SH.NodeShape)))) + 1
    copy.remove(extra)
    assert extra not in copy
    copy.addN([(URIRef("urn:x:s"), SH.message, Literal("m"), copy)])
    assert (URIRef("urn:x:s"), SH.message, Literal("m")) in copy
