"""What compacting the store after a bulk load buys: `python -m bench.compaction [--sizes 1M,5M]` prints a table.

For each size, the bench's generated data (`python -m bench` makes and keeps it) is bulk-loaded into a new
on-disk store, as `kb load` / `kb import` do for large writes (pyoxigraph's bulk loader), and the query mix is
run in this process on the store opened read-only, as the query workers read their checkpoints
(pyoxigraph, no HTTP, the KB's union default graph, medians of REPS runs):

* `fresh`: right after the bulk load, as the store was left before 2026-12-03 (a read-only store, and so a
  checkpoint, is never compacted in the background);
* `compacted`: after `Store.optimize()`, which kb.store.oxigraph now runs after a bulk write that adds at
  least COMPACT_SHARE of the store (its time is in the heading).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import generate, queries  # noqa: E402
from bench.peers import BENCH_GRAPH  # noqa: E402
from bench import run  # noqa: E402
from bench.run import Config, ensure_data  # noqa: E402

REPS = 5


def _mix(store: ox.Store, pools: dict) -> dict[str, float]:
    out = {}
    for t in queries.templates():
        times = []
        for i in range(REPS):
            t0 = time.perf_counter()
            sum(1 for _ in store.query(t.render(pools, i), use_default_graph_as_union=True))
            times.append((time.perf_counter() - t0) * 1000)
        out[t.name] = statistics.median(times)
    return out


def _files(folder: Path) -> int:
    return sum(1 for f in folder.iterdir() if f.suffix == ".sst")


def measure(size: int, workdir: Path) -> dict:
    data = ensure_data(size, Config("full", [size], set()), {})
    pools = queries.load_pools(data)
    folder = workdir / f"store-{generate.size_label(size)}"
    shutil.rmtree(folder, ignore_errors=True)
    store = ox.Store(str(folder))
    t0 = time.perf_counter()
    store.bulk_load(path=str(data), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(BENCH_GRAPH))
    store.flush()
    res: dict = {"load_s": time.perf_counter() - t0, "files_fresh": _files(folder)}
    del store  # closed before RocksDB compacts anything in the background: read-only stores never do
    ro = ox.Store.read_only(str(folder))
    res["fresh"] = _mix(ro, pools)
    del ro
    store = ox.Store(str(folder))
    t0 = time.perf_counter()
    store.optimize()
    res["compaction_s"] = time.perf_counter() - t0
    res["files_compacted"] = _files(folder)
    del store
    ro = ox.Store.read_only(str(folder))
    res["compacted"] = _mix(ro, pools)
    del ro
    shutil.rmtree(folder, ignore_errors=True)
    return res


def _geomean(xs: list[float]) -> float:
    return statistics.geometric_mean(xs) if xs else float("nan")


def render(label: str, res: dict) -> str:
    lines = [f"### {label} triples: bulk load {res['load_s']:.1f} s, compaction {res['compaction_s']:.1f} s, "
             f"SST files {res['files_fresh']} -> {res['files_compacted']}", "",
             "| query | fresh ms | compacted ms | fresh / compacted |",
             "|-------|----------|--------------|-------------------|"]
    ratios = []
    for name, fresh in res["fresh"].items():
        comp = res["compacted"][name]
        ratios.append(fresh / comp if comp > 0 else 1.0)
        lines.append(f"| {name} | {fresh:.1f} | {comp:.1f} | {ratios[-1]:.2f}x |")
    lines.append(f"| geometric mean | | | {_geomean(ratios):.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compaction", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1M,5M", help="comma-separated sizes (default: 1M,5M)")
    args = ap.parse_args(argv)
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=run.RESULTS) as tmp:
        for label in args.sizes.split(","):
            print(render(label, measure(generate.parse_size(label), Path(tmp))), flush=True)
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
