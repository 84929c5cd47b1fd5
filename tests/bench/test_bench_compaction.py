"""`python -m bench.compaction` prints a table per size: the bulk load, the compaction, the SST files before and
after, and the query mix fresh and compacted (what the timings show is in docs/benchmarks.md; none is
asserted here)."""

from __future__ import annotations

import re

from bench import compaction, queries, run


def test_compaction_bench_prints_a_table_per_size(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run, "RESULTS", tmp_path)  # the generated data and the stores go here
    assert compaction.main(["--sizes", "20k"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("###")):]  # after the generator's log
    m = re.fullmatch(r"### 20k triples: bulk load [0-9.]+ s, compaction [0-9.]+ s, SST files (\d+) -> (\d+)", lines[0])
    assert m and int(m.group(1)) >= int(m.group(2)) > 0
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| query")]
    names = [t.name for t in queries.templates()]
    assert [r.split("|")[1].strip() for r in rows] == names + ["geometric mean"]
    for r in rows[:-1]:
        cells = [c.strip() for c in r.strip("|").split("|")]
        assert float(cells[1]) >= 0 and float(cells[2]) >= 0 and re.fullmatch(r"[0-9.]+x", cells[3])
    assert not list(tmp_path.rglob("store-*")), "the stores are removed"
