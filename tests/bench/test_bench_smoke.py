"""Smoke test of the benchmark harness (no timings asserted): the generator's data conforms to the shapes,
is deterministic, the query mix runs on it, and the tables have one row for every target."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: `bench` is not installed

from bench import generate, queries, report  # noqa: E402
from bench.targets import (PEER_RDFLIB, PEER_THB, PEER_THB_VIRTUOSO, PEER_VIRTUOSO, SIZES, TARGETS,  # noqa: E402
                           evaluate)

pytestmark = pytest.mark.slow


def _generate(size: int, seed: int = 42, with_ontology: bool = False) -> tuple[str, generate.World]:
    buf = io.StringIO()
    world = generate.generate(buf, size, seed, with_ontology=with_ontology)
    return buf.getvalue(), world


def test_generated_data_conforms_to_the_shapes():
    from kb.validation import validate

    text, world = _generate(2000)
    g = Graph()
    g.parse(data=text, format="nt")
    assert len(g) == world.triples >= 2000
    kinds = {str(o).rsplit("#", 1)[1] for o in g.objects(None, None) if str(o).startswith("https://w3id.org/thb-kb/def#")}
    assert {"Action", "Programme", "Convention", "Agency", "Event", "Report", "Participation", "Place"} <= kinds
    langs = {o.language for o in g.objects() if getattr(o, "language", None)}
    assert {"en", "fr", "tr", "pt"} <= langs
    report_ = validate(g)
    assert report_.count("violation") == 0, report_.text()
    assert report_.conforms, report_.text()


def test_an_import_batch_conforms_with_its_world_as_context():
    from kb.validation import validate

    world_text, _ = _generate(3000, seed=5)
    world = generate.rebuild_world(3000, 5)
    buf = io.StringIO()
    n = generate.batch(buf, world, 300, 1)
    assert n >= 300
    batch = Graph().parse(data=buf.getvalue(), format="nt")
    context = Graph().parse(data=world_text, format="nt")
    report_ = validate(batch, context=context)
    assert report_.conforms, report_.text()
    assert not set(batch.subjects()) & set(context.subjects()), "batch entities must be new"


def test_generator_is_deterministic():
    import os
    import subprocess

    def run(seed: int, hashseed: str) -> bytes:
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        return subprocess.run([sys.executable, "-m", "bench.generate", "--size", "3000", "--seed", str(seed)],
                              capture_output=True, check=True, env=env, cwd=Path(__file__).resolve().parents[2]).stdout

    a, b, c = run(1, "1"), run(1, "2"), run(2, "1")
    assert a == b  # same seed, another process with another hash seed: the same bytes
    assert a != c
    assert generate.parse_size("100k") == 100_000 and generate.parse_size("5M") == 5_000_000


def test_every_query_of_the_mix_runs_on_generated_data():
    text, world = _generate(20_000, with_ontology=True)
    store = ox.Store()
    store.load(text.encode(), ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode("https://w3id.org/thb-kb/graph/bench"))
    pools = world.params()
    ts = queries.templates()
    assert len(ts) >= 8
    answered = 0
    for t in ts:
        assert set(t.params) <= set(pools), t.name
        rows = list(store.query(t.render(pools, 0), use_default_graph_as_union=True))
        answered += bool(rows)
    assert answered >= len(ts) - 2  # a small world leaves one or two questions without an answer


def _fake_results(sizes=("100k", "1M", "5M")) -> dict:
    run = {"connections": 16, "requests": 100, "seconds": 1.0, "rps": 100.0, "p50_ms": 1.0, "p99_ms": 2.0,
           "errors": 0, "tool": "wrk"}
    per_size = {}
    for s in sizes:
        q = {p: {"01-event-lookup": {"median_ms": 2.0 * (i + 1)}} for i, p in
             enumerate((PEER_THB, PEER_THB_VIRTUOSO, PEER_VIRTUOSO, PEER_RDFLIB))}
        mix = {p: {str(c): dict(run, connections=c) for c in (1, 8, 16)} for p in q}
        per_size[s] = {"peers": {PEER_THB: {"ready_s": 1.0}}, "skipped": {}, "queries": q, "mix": mix,
                       "deref": {PEER_THB: {"ttl": {"16": run}, "html": {"16": run}}}, "notes": []}
    return {"meta": {"mode": "test"}, "sizes": per_size,
            "cli": {k: {"median_s": 0.5, "what": k} for k in ("help", "validate_curated", "load_curated", "validate_10k")},
            "import": {"batch_1k": {"value": 0.5, "size": "1M"}, "file": {"value": 30000.0, "size": "1M"}},
            "startup": {"size": "5M", "ready_s": 1.0, "rss_ready_mb": 100.0, "rss_after_mb": 200.0, "starts": 3}}


def test_targets_table_has_a_row_for_every_target():
    rows = evaluate(_fake_results())
    assert [r["key"] for r in rows] == [t.key for t in TARGETS]
    assert all(r["holds"].split()[0] in ("yes", "no") for r in rows), [r for r in rows if r["measured"] == "-"]
    issues = {r["issue"] for r in rows}
    assert {2, 3, 4, 5, 6, 7, 8} <= issues
    assert {f"mix_vs_rdflib_1c_{s}" for s in SIZES} <= {r["key"] for r in rows}
    text = report.render(_fake_results())
    for t in TARGETS:
        assert t.what in text


def test_targets_not_measured_say_so():
    rows = evaluate({"meta": {}, "sizes": {}})
    assert len(rows) == len(TARGETS)
    assert all(r["holds"] == "not measured" and r["note"] for r in rows)
    partial = evaluate(_fake_results(sizes=("100k",)))
    by_key = {r["key"]: r for r in partial}
    assert by_key["mix_vs_virtuoso_1c_1M"]["holds"] == "not measured"
    assert "100k" in by_key["doc_ttl_rps"]["holds"]  # measured at another size than the goal's: said


def test_validation_bench_prints_both_engines(tmp_path, capsys):
    """bench.validation on a small generated file: one row per engine, the same (no) results."""
    import json

    from bench import validation

    assert validation.main(["--sizes", "3000", "--runs", "1", "--data", str(tmp_path), "--no-import",
                            "--json", str(tmp_path / "out.json")]) == 0
    out = capsys.readouterr().out
    assert "SPARQL engine, import path" in out and "pySHACL, import path" in out and "speed-up" in out
    assert "1,000-triple batch into the 3k KB" in out
    measured = json.loads((tmp_path / "out.json").read_text())["validation"]["3k"]
    assert measured["results"] == {"sparql": 0, "pyshacl": 0} and measured["focus"] > 100
