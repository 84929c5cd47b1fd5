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


def _norm_results(report) -> list[tuple]:
    """Results as comparable tuples; blank nodes (labels differ between backends) as '_:'."""
    from rdflib import BNode

    def n(x):
        return "_:" if isinstance(x, BNode) else (None if x is None else str(x))

    return sorted((n(r.focus), n(r.path), n(r.value), r.severity, n(r.shape), n(r.constraint), r.message)
                  for r in report.results)


def test_kb_validation_over_oxigraph_finds_what_the_rdflib_reference_finds():
    from validate_helpers import EXAMPLES, require_examples

    from kb import rdfio
    from kb.validation import validate

    require_examples()
    data = Graph()
    for f in sorted(EXAMPLES.glob("*-invalid.ttl")) + [EXAMPLES / "context.ttl"]:
        rdfio.triples_to_graph(rdfio.read_file(f), data)
    fast = _norm_results(validate(data))
    reference = _norm_results(validate(data, engine="rdflib"))
    assert fast == reference
    assert len(fast) >= 10  # the invalid examples break many rules: not a vacuous comparison


def test_install_is_idempotent_and_reports_every_patch():
    from pyshacl.helper.sparql_query_helper import SPARQLQueryHelper
    from pyshacl.validator import Validator
    from rdflib.plugins.sparql.processor import SPARQLProcessor

    from kb import pyshacl_speedups

    first = pyshacl_speedups.install()
    patched = (SPARQLQueryHelper.check_invalid_sparql, Validator.make_executor, SPARQLProcessor.query)
    assert pyshacl_speedups.install() == first
    assert (SPARQLQueryHelper.check_invalid_sparql, Validator.make_executor, SPARQLProcessor.query) == patched
    assert first == {"truthy-oxigraph-data-graph", "memoised-sparql-check", "constraint-parameters-set",
                     "focus-membership-set", "nested-shapes-ignore-focus-list", "prepared-query-cache"}
    assert pyshacl_speedups.trusted_shapes() is pyshacl_speedups.trusted_shapes()


def test_an_unknown_pyshacl_version_is_left_as_it_is():
    """Guard: with a pySHACL version the patches were not written for, install() patches nothing (slower,
    never different); checked in a fresh process, as the patches are process-wide."""
    import subprocess
    import sys

    from validate_helpers import ROOT

    code = ("import pyshacl; pyshacl.__version__ = '0.99.0'\n"
            "from pyshacl.helper.sparql_query_helper import SPARQLQueryHelper as H\n"
            "from pyshacl.validator import Validator as V\n"
            "before = (H.check_invalid_sparql, V.make_executor)\n"
            "from kb import pyshacl_speedups as s\n"
            "active = s.install()\n"
            "assert (H.check_invalid_sparql, V.make_executor) == before\n"
            "print(sorted(active))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['prepared-query-cache']"  # rdflib 7 is still the version it was written for
