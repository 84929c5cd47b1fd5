"""Deterministic generator of domain-shaped benchmark data that conforms to thb-kb's shapes.

    python -m bench.generate --size 1M --seed 42 -o bench/results/data/kb-1m.nt

The world: source documents, agencies (names in English and in their country's language, acronyms, agency
type, country, parent body), programmes, conventions, actions (programme, convention, beneficiaries with
roles, country, theme, dates), places, reports, and events (type, dates with their OWL-Time structure, online
or at a place, organiser, host, participants with roles, action, theme, report). Events fill the size asked
for. The same (size, seed) gives the same bytes. N-Triples out, with the ontology's triples appended
(`--with-ontology`, default on) so that every peer gets the concept labels the queries read.

A sidecar `<file>.params.json` lists IRIs and values the query templates draw their parameters from.
`batch()` writes extra events (the import workload) that reference entities of an existing world.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import IO

from .world import World, Writer, build_world, write_events

__all__ = ["World", "Writer", "generate", "rebuild_world", "batch", "write_dataset", "parse_size", "size_label"]

SIZE_UNITS = {"k": 1_000, "m": 1_000_000}


def parse_size(text: str | int) -> int:
    """'100k' -> 100000, '1M' -> 1000000, '2000' -> 2000."""
    if isinstance(text, int):
        return text
    t = text.strip().lower().replace("_", "")
    if t and t[-1] in SIZE_UNITS:
        return int(float(t[:-1]) * SIZE_UNITS[t[-1]])
    return int(t)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def ontology_lines() -> list[str]:
    """The ontology's triples (classes, properties, concept schemes) as N-Triples lines."""
    import pyoxigraph as ox

    from kb import paths

    lines = []
    for f in paths.ontology_files():
        for q in ox.parse(path=str(f), format=ox.RdfFormat.TURTLE):
            lines.append(f"{q.subject} {q.predicate} {q.object} .\n")
    return lines


def generate(out: IO[str] | None, size: int, seed: int = 42, *, with_ontology: bool = True,
             skolem: bool = True) -> World:
    """Write the dataset to `out` (None: only build the world and its parameter pools)."""
    w = Writer(out, skolem=skolem)
    extra = ontology_lines() if with_ontology else []
    world = build_world(w, size, seed)
    world.event_count = write_events(w, world, size - len(extra), random.Random(f"events-{seed}"))
    w.flush()
    if extra and out is not None:
        out.write("".join(extra))
    world.triples = w.n + len(extra)
    return world


def rebuild_world(size: int, seed: int = 42) -> World:
    """The non-event entities of a (size, seed) world, without writing them (for import batches)."""
    return build_world(Writer(None), size, seed)


def batch(out: IO[str], world: World, size: int, number: int) -> int:
    """Events (about `size` triples) that reference the entities of `world`: one contributed batch."""
    w = Writer(out, skolem=False)
    write_events(w, world, size, random.Random(f"batch-{world.seed}-{number}"), tag=f"b{number}x")
    w.flush()
    return w.n


def write_dataset(path: Path, size: int, seed: int = 42, *, with_ontology: bool = True) -> World:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        world = generate(fh, size, seed, with_ontology=with_ontology)
    tmp.replace(path)
    params_path(path).write_text(json.dumps(world.params(), ensure_ascii=False, indent=1), encoding="utf-8")
    return world


def refresh_params(path: Path, size: int, seed: int = 42) -> None:
    """Rewrite the parameter pools of an existing dataset (same world, nothing written to the data)."""
    world = generate(None, size, seed)
    params_path(path).write_text(json.dumps(world.params(), ensure_ascii=False, indent=1), encoding="utf-8")


def params_path(data: Path) -> Path:
    return data.with_name(data.name + ".params.json")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="100k", help="triples: 100k, 1M, 5M or a number (default 100k)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-ontology", action="store_true", help="do not append the ontology's triples")
    ap.add_argument("-o", "--output", help="N-Triples file to write (default: stdout)")
    args = ap.parse_args(argv)
    size = parse_size(args.size)
    t0 = time.perf_counter()
    if args.output:
        world = write_dataset(Path(args.output), size, args.seed, with_ontology=not args.no_ontology)
    else:
        world = generate(sys.stdout, size, args.seed, with_ontology=not args.no_ontology)
    print(f"{world.triples} triples, {world.event_count} events, {len(world.agencies)} agencies "
          f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
