"""T-25: an importing process killed with SIGKILL at 50 random moments never leaves a half import.

After each kill the on-disk store is reopened and checked: it opens, its indexes agree, every graph holds
whole generations only (a replaced graph exactly one complete generation, a merged graph complete
generations; pure inserts go through the embedded store's bulk path, the others are one transaction), a provenance record exists for every generation whose data is there and no record exists
without its data, every commit the child had acknowledged is there, and (every tenth round and at the end)
the KB conforms to the shapes. The random delays come from a seeded generator; the seed is printed.
"""

from __future__ import annotations

import gc
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from import_helpers import *  # noqa: F401,F403 - fixtures and helpers

from kb import batchcheck, provenance
from kb.importer import Importer, Source
from kb.store import open_store

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("crash_worker.py")
ROUNDS = 50
TRIPLES_PER_GEN = 35  # crash_worker: 5 agencies x 7 triples
ACK = re.compile(r"^done (\d+) (?:replace|merge) \S+/graph/crash-\S+$", re.MULTILINE)  # whole lines only
GEN = re.compile(re.escape(BASE) + r"id/agency/gen-(\d+)-a\d+$")


def check_store(store_dir: str, log_path: Path, shacl: bool) -> None:
    store = open_store(import_settings(store=store_dir))
    try:
        assert store._pending() == [], "a bulk write's pending version outlived the opening of the store"
        quads = list(store.quads())
        n = int(next(iter(store.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")))["n"].value)
        assert n == len(quads), "the SPARQL count and the quad index disagree"
        gens_in: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for q in quads:
            m = GEN.match(q.subject.value)
            if m and "/graph/crash-" in q.graph_name.value:
                gens_in[q.graph_name.value][int(m.group(1))] += 1
        for graph, gens in gens_in.items():
            assert all(c == TRIPLES_PER_GEN for c in gens.values()), f"half a generation in {graph}: {dict(gens)}"
            if "/crash-c" in graph:
                assert len(gens) == 1, f"a replaced graph holds several generations: {graph} {dict(gens)}"
        recorded: dict[int, list[str]] = {}
        for row in provenance.history(store, limit=100_000):
            for src in row["sources"]:
                m = re.match(r"gen-(\d+)\.ttl ", src)
                if m:
                    recorded[int(m.group(1))] = row["graphs"]
        present = {(g, gen) for g, gens in gens_in.items() for gen in gens}
        for graph, gen in present:
            assert recorded.get(gen) == [graph], f"data of generation {gen} in {graph} has no record"
        for gen, graphs in recorded.items():
            graph = graphs[0]
            if "/crash-m" in graph:
                assert (graph, gen) in present, f"record of merged generation {gen} without its data"
            else:
                current = max(gens_in.get(graph, {0: 0}))
                assert current >= gen, f"record of generation {gen} newer than the data of {graph} ({current})"
        acknowledged = [int(m.group(1)) for m in ACK.finditer(log_path.read_text())]
        missing = [g for g in acknowledged if g not in recorded]
        assert not missing, f"acknowledged commits lost: {missing}"
        if shacl:
            report = batchcheck.validate_kb(store)
            assert not report.fails("violation"), report.text()
    finally:
        store.close()
        del store
        gc.collect()


@pytest.mark.slow
def test_t25_sigkill_during_imports_is_all_or_nothing(tmp_path):
    seed = int(os.environ.get("KB_CRASH_SEED", random.SystemRandom().randrange(1_000_000)))
    print(f"crash-recovery seed: {seed} (rerun with KB_CRASH_SEED={seed})")
    rng = random.Random(seed)
    store_dir = str(tmp_path / "store")
    log_path = tmp_path / "acks.log"
    log_path.write_text("")
    seed_store = open_store(import_settings(store=store_dir))
    Importer(seed_store, import_settings()).import_sources([Source.from_file(DATA / "base.ttl")], graph=G + "base")
    seed_store.close()
    del seed_store
    gc.collect()

    env = dict(os.environ, PYTHONPATH=str(ROOT), KB_TEST_BULK_QUADS="1")  # merges take the bulk path
    worker = subprocess.Popen([sys.executable, str(WORKER), store_dir, str(log_path)], cwd=ROOT, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    delays = []
    try:
        for i in range(ROUNDS):
            delay = rng.uniform(0.1, 1.2)
            delays.append(round(delay, 3))
            worker.stdin.write(f"go {i + 1}\n")
            worker.stdin.flush()
            pid = int(worker.stdout.readline().split()[1])
            time.sleep(delay)
            os.kill(pid, signal.SIGKILL)
            line = worker.stdout.readline()
            assert line.startswith(f"dead {pid}"), line
            check_store(store_dir, log_path, shacl=(i % 10 == 9))
    finally:
        print(f"delays (s): {delays}")
        worker.kill()
        worker.wait()
    acks = ACK.findall(log_path.read_text())
    print(f"{len(acks)} acknowledged imports over {ROUNDS} kills")
    assert len(acks) >= 10  # the child did commit between kills: the kills hit real work, not only start-up
