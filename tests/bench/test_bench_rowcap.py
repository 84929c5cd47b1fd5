"""`python -m bench.rowcap` prints its table: one row per answer size, each with the three timings and
their ratio (what they show is for docs/sparql.md; no timing is asserted here)."""

from __future__ import annotations

import re

from bench import rowcap


def test_rowcap_prints_a_table(capsys):
    rowcap.main(repeat=1, rows=30_000)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("| answer |") and len(lines) == 2 + 4
    assert [line.split("|")[1].strip() for line in lines[2:]] == [
        "23 rows", "1,000 rows", "10,000 rows", "30,000 rows, cut at 10,000"]
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert all(float(c) > 0 for c in cells[1:4]) and re.fullmatch(r"[0-9.]+x", cells[4])
