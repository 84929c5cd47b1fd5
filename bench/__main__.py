"""`python -m bench`: the whole benchmark in one command; `--quick` for a small run (100k triples)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import generate, report
from .run import RESULTS, Config, log, run
from .targets import PEER_RDFLIB, PEER_THB, PEER_THB_VIRTUOSO, PEER_VIRTUOSO

ALL_PEERS = (PEER_THB, PEER_THB_VIRTUOSO, PEER_VIRTUOSO, PEER_RDFLIB)
PEER_KEYS = {"thb": PEER_THB, "thb-virtuoso": PEER_THB_VIRTUOSO, "virtuoso": PEER_VIRTUOSO, "rdflib": PEER_RDFLIB}


def config(args) -> Config:
    peers = set(ALL_PEERS) if not args.peers else {PEER_KEYS[p] for p in args.peers.split(",")}
    if args.quick:
        cfg = Config("quick", [generate.parse_size(s) for s in (args.sizes or "100k").split(",")], peers,
                     query_reps=3, query_budget=3.0, query_timeout=20.0, load_seconds=1.0, load_reps=1,
                     cli_reps=1, startups=1, profile=False, import_timeout=60.0)
    else:
        cfg = Config("full", [generate.parse_size(s) for s in (args.sizes or "100k,1M,5M").split(",")], peers)
    cfg.imports = not args.no_import
    cfg.cli = not args.no_cli
    cfg.seed = args.seed
    return cfg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="100k triples, short runs (under 2 minutes)")
    ap.add_argument("--sizes", help="comma-separated sizes (default: 100k,1M,5M; quick: 100k)")
    ap.add_argument("--peers", help=f"comma-separated subset of {','.join(PEER_KEYS)} (default: all)")
    ap.add_argument("--no-import", action="store_true", help="skip the import workload")
    ap.add_argument("--no-cli", action="store_true", help="skip the CLI timings")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--render", metavar="JSON", help="only print the tables of an earlier run's results file")
    args = ap.parse_args(argv)
    if args.render:
        with open(args.render, encoding="utf-8") as fh:
            print(report.render(json.load(fh)))
        return 0
    cfg = config(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    out = RESULTS / f"run-{cfg.mode}-{stamp}.json"

    def save(results: dict) -> None:
        out.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")

    results = run(cfg, on_result=save)
    results["meta"]["command"] = "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:])
    save(results)
    text = report.render(results)
    (RESULTS / f"latest-{cfg.mode}.md").write_text(text, encoding="utf-8")
    print(text)
    log(f"results: {out} ({results['meta']['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
