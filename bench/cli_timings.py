"""Wall-clock timings of the `kb` CLI (Python start included): `kb --help`, `kb validate kb/data`,
`kb load`, and `kb validate` of 10,000 generated contributed triples; cProfile of the slow ones."""

from __future__ import annotations

import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import generate
from .peers import ROOT, VENV_BIN

KB = str(VENV_BIN / "kb")


def timed(cmd: list[str], reps: int, env: dict | None = None, fresh_store: bool = False) -> dict:
    times, codes, tail = [], [], ""
    for _ in range(reps):
        e = dict(env or os.environ)
        tmp = None
        if fresh_store:
            tmp = tempfile.mkdtemp(prefix="bench-store-")
            e["KB_STORE"] = tmp
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, env=e, cwd=ROOT)
        times.append(time.perf_counter() - t0)
        codes.append(out.returncode)
        tail = " ".join((out.stdout + out.stderr)[-400:].split())
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    note = "" if set(codes) == {0} else f"exit codes {sorted(set(codes))}: {tail.strip()[-200:]}"
    return {"median_s": statistics.median(times), "runs": times, "exit": codes, "note": note}


def contributed_file(folder: Path, size: int = 10_000) -> Path:
    path = folder / f"contributed-{generate.size_label(size)}.nt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            generate.generate(fh, size, seed=7, with_ontology=False, skolem=False)  # as a contributor writes it
    return path


def run(folder: Path, reps: int = 3) -> dict:
    out: dict[str, dict] = {}
    env = dict(os.environ, KB_STORE="memory")
    out["help"] = {"what": "kb --help", **timed([KB, "--help"], max(reps, 5), env)}
    data_files = sorted((ROOT / "kb" / "data").glob("*.ttl"))
    curated = {"what": "kb validate kb/data", **timed([KB, "validate", "kb/data"], reps, env)}
    if not data_files:
        curated["note"] = ("kb/data holds no Turtle yet: the command exits 2 at once, nothing is timed; "
                           + curated["note"]).strip("; ")
        curated["median_s"] = None
    out["validate_curated"] = curated
    out["load_curated"] = {"what": "kb load (new store folder)", **timed([KB, "load"], reps, env, fresh_store=True)}
    if not data_files:
        out["load_curated"]["note"] = ("ontology and shapes only: kb/data is empty; " + out["load_curated"]["note"]).strip("; ")
    contrib = contributed_file(folder)
    out["validate_10k"] = {"what": f"kb validate {contrib.name} (10,000 triples)",
                           **timed([KB, "validate", str(contrib)], reps, env)}
    return out


def profile(cmd_args: list[str], out_file: Path, top: int = 25) -> str:
    """cProfile of one `kb` command in a subprocess; the top functions by cumulative time, as text."""
    prof = out_file.with_suffix(".prof")
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "kb.cli", *cmd_args],
                   capture_output=True, cwd=ROOT, env=dict(os.environ, KB_STORE="memory"))
    if not prof.exists():
        return "profile failed"
    import io

    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.sort_stats("cumulative").print_stats(top)
    out_file.write_text(buf.getvalue(), encoding="utf-8")
    return buf.getvalue()
