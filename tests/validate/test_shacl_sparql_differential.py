"""kb.shacl_sparql finds exactly what pySHACL finds: both engines, through kb.shacl_runner._shacl, on
(a) every shape example (with context.ttl, as shapes/examples/manifest.ttl says), (b) the curated KB, and
(c) generated bench worlds with every kind of mutation (tests/validate/shacl_differential.py), validated
whole and with random focus-node lists. Results are compared as multisets of (focus, path, value, severity,
source shape, constraint component, messages)."""

from __future__ import annotations

import io
import random
from collections import Counter

import pyoxigraph as ox
import pytest
from shacl_differential import MUTATIONS, both, difference, mutate, result_keys, unmet
from validate_helpers import EXAMPLES, ROOT, require_examples

from kb import rdfio, shacl_runner


def _nt(*files) -> bytes:
    quads = [q for f in files for q in rdfio.read_file(f)]
    return ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads], format=ox.RdfFormat.N_TRIPLES)


def _examples() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*-*.ttl"))


def test_the_sparql_engine_runs_the_trusted_shapes():
    """Not a vacuous comparison: the default engine really is the SPARQL engine (no fallback)."""
    assert shacl_runner.ENGINE == "sparql"
    assert shacl_runner.sparql_engine_refusal() is None


@pytest.mark.parametrize("name", _examples())
def test_shape_example(name):
    require_examples()
    a, b = both(_nt(EXAMPLES / "context.ttl", EXAMPLES / name))
    assert a == b, difference(a, b)
    assert (sum(a.values()) > 0) == name.endswith("-invalid.ttl")


def test_every_invalid_example_together_with_the_curated_kb():
    require_examples()
    files = sorted((ROOT / "kb" / "data").glob("*.ttl")) + [EXAMPLES / "context.ttl"] + sorted(EXAMPLES.glob("*-invalid.ttl"))
    a, b = both(_nt(*files))
    assert a == b, difference(a, b)
    assert sum(a.values()) >= 15


def test_curated_kb():
    a, b = both(_nt(*sorted((ROOT / "kb" / "data").glob("*.ttl"))))
    assert a == b, difference(a, b)


def _world(seed: int) -> list[ox.Triple]:
    from bench import generate

    buf = io.StringIO()
    generate.generate(buf, 20_000, seed, with_ontology=False)
    return list(ox.parse(buf.getvalue().encode(), ox.RdfFormat.N_TRIPLES))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_world_with_every_mutation(seed):
    world, expected = mutate(_world(seed), seed)
    data = world.nt()
    whole_a, whole_b = both(data)
    assert whole_a == whole_b, difference(whole_a, whole_b)
    assert unmet(whole_b, expected) == []  # every kind of mutation produced its results: not vacuous
    assert set(expected) == set(MUTATIONS)

    rng = random.Random(seed)
    iris = sorted({t.subject.value for t in world.triples if isinstance(t.subject, ox.NamedNode)}
                  | {t.object.value for t in world.triples if isinstance(t.object, ox.NamedNode)})
    touched = sorted({t for nodes, _ in expected.values() for t in nodes if "://" in t})
    for fraction in (0.02, 0.25):
        focus = sorted(set(rng.sample(iris, int(len(iris) * fraction))) | set(rng.sample(touched, len(touched) // 2)))
        part_a, part_b = both(data, focus)
        assert part_a == part_b, difference(part_a, part_b)
        # and the focus list means: the whole validation's results about those nodes
        listed = {f"<{f}>" for f in focus}
        assert part_b == Counter({k: n for k, n in whole_a.items() if k[0] in listed})
        assert sum(part_b.values()) > 0


def test_an_unmutated_world_conforms_in_both():
    a, b = both(ox.serialize(_world(4), format=ox.RdfFormat.N_TRIPLES))
    assert a == b == Counter()


def test_reports_compare_blank_nodes_by_description():
    """The comparison itself: two reports that differ only in a blank-node shape's description differ."""
    report = (b'_:r <http://www.w3.org/ns/shacl#result> _:x .\n'
              b'_:x <http://www.w3.org/ns/shacl#focusNode> <urn:a> .\n'
              b'_:x <http://www.w3.org/ns/shacl#sourceShape> _:s .\n')
    one = result_keys(report + b'_:s <http://www.w3.org/ns/shacl#path> <urn:p> .\n')
    other = result_keys(report + b'_:s <http://www.w3.org/ns/shacl#path> <urn:q> .\n')
    assert one != other and sum(one.values()) == 1


def test_the_queries_with_their_focus_pattern_find_the_same(monkeypatch):
    """The engine asks most property constraints without the focus pattern first and keeps the rows of
    focus nodes, or, past engine.CANDIDATES rows, with the focus pattern: both ways agree with pySHACL."""
    from kb.shacl_sparql import engine

    world, expected = mutate(_world(5), 5)
    data = world.nt()
    reference = result_keys(shacl_runner._shacl(data, None, engine="pyshacl"))
    for candidates in (0, 1, engine.CANDIDATES):
        monkeypatch.setattr(engine, "CANDIDATES", candidates)
        assert result_keys(shacl_runner._shacl(data, None, engine="sparql")) == reference, candidates
    assert unmet(reference, expected) == []
