"""`kb import` against Virtuoso: progress while it stages a bulk write, a clean failure when the store dies
mid-write (the target graph stays as it was), and a clean second run (leftover staging removed)."""

from __future__ import annotations

import os
import subprocess
import time
import sys
from pathlib import Path

import pytest

from conftest import BASE, ROOT

pytestmark = pytest.mark.slow

KB = str(Path(sys.executable).with_name("kb"))
GRAPH = BASE + "graph/bulk-resume"


def write_bulk(path: Path, n: int, tag: str) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(f'<http://example.org/bulk/s{i}> <http://www.w3.org/2000/01/rdf-schema#comment> "{tag} {i}"@en .\n')


def test_kb_import_survives_the_store_dying_mid_write(virtuoso_factory, tmp_path):
    from kb.store import remote

    virtuoso = virtuoso_factory("import-resume")
    store = virtuoso.empty_store()
    env = {**os.environ, **virtuoso.env(KB_REMOTE_TIMEOUT="3")}
    small, big = tmp_path / "small.ttl", tmp_path / "big.ttl"
    write_bulk(small, 3, "old")
    write_bulk(big, remote.CHUNK + 2000, "new")
    first = subprocess.run([KB, "import", str(small), "--graph", GRAPH], env=env, capture_output=True, text=True,
                           timeout=300, cwd=ROOT)
    assert first.returncode == 0, first.stderr[-2000:]
    version = store.version()

    proc = subprocess.Popen([KB, "import", "--progress", str(big), "--graph", GRAPH], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "staged" in line:
                virtuoso.kill()  # the store dies between two chunks
                break
        rest = proc.stderr.read()
        proc.wait(120)
    finally:
        virtuoso.start()
    err = "".join(lines) + rest
    assert any("staged" in line for line in lines), err
    assert proc.returncode not in (0, None), err
    assert "Traceback" not in err and "Error" in err
    assert store.version() == version
    assert sorted(t.object.value for t in store.triples(GRAPH)) == [f"old {i}" for i in range(3)]
    leftovers = store.staging_graphs()
    assert leftovers  # the chunk staged before the crash

    time.sleep(2 * 3 + 2 + 0.5)  # the dead writer's lease (2 x KB_REMOTE_TIMEOUT + 2 s) runs out

    again = subprocess.run([KB, "import", "--progress", str(big), "--graph", GRAPH], env=env, capture_output=True, text=True,
                           timeout=300, cwd=ROOT)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "staged" in again.stderr and "committed" in again.stderr
    assert store.count(GRAPH) == remote.CHUNK + 2000
    assert store.staging_graphs() == []  # the dead run's slot was emptied by this run
