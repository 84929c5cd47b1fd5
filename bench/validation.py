"""Validation throughput of the two SHACL engines on the generated bench files, and `kb import` end to end.

    python -m bench.validation                                   # 100k and 1M, 3 interleaved runs each
    python -m bench.validation --sizes 100k --runs 5 --no-import
    python -m bench.validation --data /path/to/bench/results/data --json out.json

Validation is what an import of the file into an empty KB runs (kb.batchcheck.check_change, the warm worker
processes, a validation timeout): the SPARQL engine (kb.shacl_sparql) validates all focus nodes in one run
(one worker, two threads); pySHACL in chunks of 2,000 focus nodes on two workers. The engines alternate
within each run (first one, then the other, the order swapped every run); the table gives medians. A third
row times the SPARQL engine alone, in-process on one thread, on the loaded store (per-core throughput).
Then 1,000-triple batches (new events) into a KB holding the largest file: check_change with its context.
`kb import` runs as a contributor runs it (a new process, the store in an empty folder), once per engine,
with KB_VALIDATION_TIMEOUT=900 for both (pySHACL needs more than the default 120 s on a busy machine).
The machine is shared: the load average is printed before and after each part.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import generate

ROOT = Path(__file__).resolve().parent.parent
GRAPH = "https://w3id.org/thb-kb/graph/bench"
ENGINES = ("sparql", "pyshacl")


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def data_file(folder: Path, size: int, seed: int) -> Path:
    path = folder / f"kb-{generate.size_label(size)}-seed{seed}.nt"
    if not path.exists():
        print(f"generating {path}", file=sys.stderr)
        generate.write_dataset(path, size, seed)
    return path


def _change(path: Path):
    import pyoxigraph as ox

    from kb.batchcheck import Change

    triples = [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES)]
    focus = {t.subject for t in triples if isinstance(t.subject, ox.NamedNode)}
    focus |= {t.object for t in triples if isinstance(t.object, ox.NamedNode)}
    return Change(replaced={GRAPH}, new={GRAPH: triples}, added=list(triples)), len(triples), len(focus)


def validation_runs(path: Path, runs: int, timeout: float) -> dict:
    """Seconds of kb.batchcheck.check_change for the import of `path` into an empty KB, per engine."""
    from kb import batchcheck, shacl_runner
    from kb.settings import load as load_settings
    from kb.store import open_store

    change, triples, focus = _change(path)
    store = open_store(load_settings({"store": "memory"}))
    shacl_runner.prewarm(timeout).join()
    seconds: dict = {e: [] for e in ENGINES}
    results: dict = {}
    for run in range(runs):
        for engine in (ENGINES if run % 2 == 0 else ENGINES[::-1]):
            shacl_runner.ENGINE = engine
            t0 = time.perf_counter()
            report = batchcheck.check_change(store, change, timeout=timeout)
            seconds[engine].append(time.perf_counter() - t0)
            results[engine] = len(report.results)
    shacl_runner.ENGINE = "sparql"
    return {"triples": triples, "focus": focus, "seconds": seconds, "results": results}


def batch_runs(path: Path, size: int, seed: int, runs: int, timeout: float) -> dict:
    """Seconds of kb.batchcheck.check_change for a new 1,000-triple batch (events referencing the world)
    into a KB holding `path`: the context gathering and the validation of an ordinary import."""
    import io

    import pyoxigraph as ox

    from kb import batchcheck, shacl_runner
    from kb.batchcheck import Change
    from kb.settings import load as load_settings
    from kb.skolem import skolemize
    from kb.store import open_store

    store = open_store(load_settings({"store": "memory"}))
    store.raw.bulk_extend(ox.Quad(q.subject, q.predicate, q.object, ox.NamedNode(GRAPH))
                          for q in ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES))
    world = generate.rebuild_world(size, seed)
    seconds: dict = {e: [] for e in ENGINES}
    for k in range(runs):
        buf = io.StringIO()
        generate.batch(buf, world, 1000, k)
        graph = f"{GRAPH}-batch-{k}"
        parsed = [ox.Triple(q.subject, q.predicate, q.object)
                  for q in ox.parse(buf.getvalue().encode(), ox.RdfFormat.N_TRIPLES)]
        triples, _ = skolemize(parsed, base="https://w3id.org/thb-kb/", graph=graph)
        change = Change(replaced={graph}, new={graph: triples}, added=list(triples))
        for engine in (ENGINES if k % 2 == 0 else ENGINES[::-1]):
            shacl_runner.ENGINE = engine
            t0 = time.perf_counter()
            report = batchcheck.check_change(store, change, timeout=timeout)
            seconds[engine].append(time.perf_counter() - t0)
            assert not report.results, report.text()
    shacl_runner.ENGINE = "sparql"
    return seconds


def engine_alone(path: Path, runs: int) -> list[float]:
    """Seconds of kb.shacl_sparql on the loaded store (data + ontology), one thread, no loading."""
    import pyoxigraph as ox

    from kb import shacl_runner, shacl_sparql

    model = shacl_runner._sparql_model()
    out = []
    for _ in range(runs):
        store = ox.Store()
        store.bulk_extend(itertools.chain(ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES),
                                          shacl_runner._ontology_quads()))
        t0 = time.perf_counter()
        shacl_sparql.validate(store, model, threads=1)
        out.append(time.perf_counter() - t0)
    return out


_STAMP = re.compile(r"^\[\s*([\d.]+)s\] (.*)$")


def kb_import(path: Path, engine: str, timeout: float) -> dict:
    """`kb import FILE --graph ... --progress` into an empty store folder, with `engine`; the stages from
    the progress lines."""
    code = ("import sys; from kb import shacl_runner; shacl_runner.ENGINE = sys.argv.pop(1); "
            "from kb.cli import main; main()")
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as folder:
        env = dict(os.environ, KB_STORE=str(Path(folder) / "store"), KB_VALIDATION_TIMEOUT="900",
                   PYTHONPATH=str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""))
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code, engine, "import", str(path), "--graph", GRAPH, "--progress"],
                             capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
        total = time.perf_counter() - t0
    marks = [(float(m.group(1)), m.group(2)) for m in map(_STAMP.match, out.stderr.splitlines()) if m]

    def at(prefix: str) -> float | None:
        return next((t for t, text in marks if text.startswith(prefix)), None)

    stages = {"parse": (at("parsing"), at("parsed")), "validate": (at("validating"), at("validated:")),
              "write": (at("writing"), at("committed"))}
    return {"seconds": total, "exit": out.returncode,
            "stages": {k: (b - a if a is not None and b is not None else None) for k, (a, b) in stages.items()},
            "tail": " ".join((out.stdout + out.stderr)[-200:].split()) if out.returncode else ""}


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.validation", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100k,1M", help="generated files to validate (default 100k,1M)")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs per engine and size (default 3)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--data", type=Path, default=ROOT / "bench" / "results" / "data",
                    help="folder of kb-{size}-seed{seed}.nt (generated there when missing)")
    ap.add_argument("--timeout", type=float, default=900.0, help="validation timeout in seconds (default 900)")
    ap.add_argument("--no-import", action="store_true", help="skip `kb import` of the largest file")
    ap.add_argument("--no-batch", action="store_true", help="skip the 1,000-triple batches into the largest KB")
    ap.add_argument("--json", type=Path, help="also write the measurements as JSON")
    args = ap.parse_args(argv)
    sizes = [generate.parse_size(s) for s in args.sizes.split(",")]
    out: dict = {"load_start": load(), "validation": {}, "import": {}}
    print(f"load average {out['load_start']} (2 cores shared: medians of {args.runs} interleaved runs)\n")
    print(f"{'file':>6} {'triples':>9} {'focus':>8}  {'engine':<30} {'median s':>9} {'runs s':<24} "
          f"{'focus/s':>8} {'results':>7}")
    for size in sizes:
        path = data_file(args.data, size, args.seed)
        before = load()
        v = validation_runs(path, args.runs, args.timeout)
        alone = engine_alone(path, args.runs)
        v["engine_alone"], v["load"] = alone, (before, load())
        out["validation"][generate.size_label(size)] = v
        rows = [("SPARQL engine, import path", v["seconds"]["sparql"], v["results"]["sparql"]),
                ("pySHACL, import path", v["seconds"]["pyshacl"], v["results"]["pyshacl"]),
                ("SPARQL engine alone, 1 thread", alone, None)]
        for name, secs, n in rows:
            med = statistics.median(secs)
            print(f"{generate.size_label(size):>6} {v['triples']:>9} {v['focus']:>8}  {name:<30} {med:>9.1f} "
                  f"{' '.join(_fmt(s) for s in secs):<24} {v['focus'] / med:>8.0f} {'' if n is None else n:>7}")
        speedup = statistics.median(v["seconds"]["pyshacl"]) / statistics.median(v["seconds"]["sparql"])
        print(f"{'':>6} import-path speed-up {speedup:.1f}x; load average {before} -> {load()}")
    if not args.no_batch:
        size = sizes[-1]
        path = data_file(args.data, size, args.seed)
        before = load()
        b = batch_runs(path, size, args.seed, max(args.runs, 3), args.timeout)
        out["batch"] = {"seconds": b, "load": (before, load())}
        print(f"\n1,000-triple batch into the {generate.size_label(size)} KB (check_change: context + validation), "
              f"load average {before} -> {load()}")
        for engine in ENGINES:
            print(f"  {engine:<8} median {statistics.median(b[engine]):.2f} s  runs "
                  + " ".join(f"{x:.2f}" for x in b[engine]))
    if not args.no_import:
        path = data_file(args.data, sizes[-1], args.seed)
        print(f"\n`kb import {path.name}` into an empty store folder (new process; KB_VALIDATION_TIMEOUT=900)")
        print(f"{'engine':<10} {'total s':>8} {'triples/s':>10} {'parse s':>8} {'validate s':>11} {'write s':>8}  load")
        triples = sum(1 for line in open(path, "rb") if line.strip())
        for engine in ENGINES:
            before = load()
            r = kb_import(path, engine, timeout=3600)
            r["load"] = (before, load())
            out["import"][engine] = r
            st = r["stages"]
            rate = f"{triples / r['seconds']:>10.0f}" if r["exit"] == 0 else f"{'exit ' + str(r['exit']):>10}"
            print(f"{engine:<10} {r['seconds']:>8.1f} {rate} {_fmt(st['parse']):>8} {_fmt(st['validate']):>11} "
                  f"{_fmt(st['write']):>8}  {before} -> {load()}" + (f"  {r['tail']}" if r["tail"] else ""))
    out["load_end"] = load()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
