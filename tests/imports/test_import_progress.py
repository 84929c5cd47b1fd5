"""Progress of long writes (issue 2 point 6, issue 5 "progress shown on the CLI for long imports"): the pipeline
reports structured steps (done, total, what); `kb import` and `kb load` print them as lines off a terminal and
draw a click.progressbar on one."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb import batchcheck
from kb.cli import cli
from kb.progress import Step

ROOT = Path(__file__).resolve().parents[2]


def generated(path: Path, size: int) -> Path:
    """A conformant generated dataset (the bench generator's events, agencies, actions...) of `size` triples."""
    from bench.generate import generate

    with open(path, "w", encoding="utf-8") as fh:
        generate(fh, size, seed=7, with_ontology=False)
    return path


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    # ~25,000 triples, ~4,300 focus nodes
    return generated(tmp_path_factory.mktemp("progress") / "big.ttl", 25_000)


@pytest.mark.slow
def test_kb_import_of_a_large_file_reports_validation_progress_up_to_the_total(big_file, tmp_path, monkeypatch):
    """Progress per validation chunk: chunks of 2,000 focus nodes (pySHACL's size; the SPARQL engine
    validates up to FOCUS_CHUNK at once), in a KB that already holds data (into an empty KB, the import
    is validated in one run without context)."""
    store = str(tmp_path / "store")
    first = CliRunner().invoke(cli, ["import", "--store", store, str(ROOT / "tests" / "imports" / "data" / "base.ttl"),
                                     "--graph", "https://w3id.org/thb-kb/graph/base"])
    assert first.exit_code == 0, first.output
    monkeypatch.setattr(batchcheck, "FOCUS_CHUNK", 2000)
    result = CliRunner().invoke(cli, ["import", "--progress", "--store", store, str(big_file),
                                      "--graph", "https://w3id.org/thb-kb/graph/big"])
    assert result.exit_code == 0, result.output
    err = result.stderr
    counts = [(int(a), int(b)) for a, b in re.findall(r"validated (\d+)/(\d+) focus nodes", err)]
    assert len(counts) >= 3, err  # one line per chunk, several chunks
    totals = {t for _, t in counts}
    assert len(totals) == 1 and totals.pop() > batchcheck.FOCUS_CHUNK
    done = [d for d, _ in counts]
    assert done == sorted(done) and done[-1] == counts[-1][1]  # grows, and reaches the total
    assert re.search(r"parsed \d+ triples from \S*big\.ttl", err)
    assert "writing" in err and "committed" in err
    assert "Imported" in result.stdout


def test_the_pipeline_reports_structured_steps_that_reach_their_totals(tmp_path):
    """kb load's build (full validation) and an import both report Steps; each kind ends at done == total."""
    from kb import curated
    from kb.importer import Importer, Source
    from kb.store import open_store

    from conftest import make_settings

    settings = make_settings(validation_timeout=0)
    store = open_store(settings)
    seen: list[str] = []
    assert curated.build(store, progress=seen.append, settings=settings) is None
    small = generated(tmp_path / "small.ttl", 3_000)
    Importer(store, settings).import_sources([Source.from_file(small)], progress=seen.append)
    steps = [s for s in seen if isinstance(s, Step)]
    assert {s.what for s in steps} == {"parse", "validate", "write"}
    for what in ("parse", "validate", "write"):
        of_kind = [s for s in steps if s.what == what]
        assert of_kind[-1].done == of_kind[-1].total > 0, of_kind
        assert all(0 <= s.done <= s.total for s in of_kind)
    assert all(isinstance(s, str) for s in seen)  # plain-text callbacks keep working


@pytest.mark.slow
def test_kb_import_on_a_terminal_draws_a_progress_bar(big_file, tmp_path):
    """A real pseudo-terminal as stderr: click.progressbar draws the validation bar up to total/total."""
    import pty

    main, child = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli", "import", "--store", str(tmp_path / "store"),
                             str(big_file), "--graph", "https://w3id.org/thb-kb/graph/big"],
                            stdout=subprocess.PIPE, stderr=child, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    os.close(child)
    out = b""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(main)
    stdout = proc.communicate(timeout=60)[0].decode()
    text = out.decode("utf-8", "replace")
    assert proc.returncode == 0, text[-2000:]
    assert "Imported" in stdout
    totals = {int(b) for _, b in re.findall(r"validating.*?(\d+)/(\d+)", text)}
    assert len(totals) == 1, text[-2000:]
    total = totals.pop()
    assert total > 4000  # the focus nodes of the ~25,000 triples
    assert re.search(rf"validating.*{total}/{total}", text) and "100%" in text
    assert "\r" in text or "\x1b" in text  # redrawn in place, not printed as lines
    assert not re.search(r"validated \d+/\d+ focus nodes", text)  # the bar replaces the per-chunk lines
