"""Where a server spends its time under load: py-spy (PyPI `py-spy`, optional) samples the gunicorn
processes while wrk runs; the summary lists the functions with the most samples, inclusive (a project
function and everything it calls) and exclusive (the leaf frame)."""

from __future__ import annotations

import collections
import shutil
import subprocess
import threading
from pathlib import Path

from . import load
from .peers import VENV_BIN, Peer

PROJECT = ("server/", "kb/")
IDLE = ("concurrent/futures/thread.py:81", "selectors.py", "threading.py:3", "Arbiter.wait_for_signals",
        "Arbiter.sleep", "gthread.py:2", "queue.py", "sleep ")


def py_spy() -> str | None:
    exe = VENV_BIN / "py-spy"
    return str(exe) if exe.exists() else shutil.which("py-spy")


def summarise(raw: str, top: int = 12) -> str:
    inclusive: collections.Counter = collections.Counter()
    leaf: collections.Counter = collections.Counter()
    total = idle = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames or any(i in frames[-1] for i in IDLE):
            idle += n
            continue
        if frames:
            leaf[frames[-1]] += n
        for f in set(frames):
            if any(p in f for p in PROJECT):
                inclusive[f] += n
    busy = total - idle
    if not busy:
        return "no samples"
    lines = [f"{total} samples, {idle} idle (threads waiting); percentages of the {busy} busy samples",
             "inclusive (project code):"]
    lines += [f"  {100 * n / busy:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines.append("exclusive (leaf frames):")
    lines += [f"  {100 * n / busy:5.1f}%  {f}" for f, n in leaf.most_common(top)]
    return "\n".join(lines)


def profile_under_load(peer: Peer, base_url: str, targets: list[str], accept: str, out: Path,
                       seconds: float = 6.0, connections: int = 8) -> str:
    """Sample `peer` with py-spy while wrk sends `targets`; write the raw stacks and return the summary."""
    exe = py_spy()
    if exe is None:
        return "py-spy is not installed (pip install py-spy)"
    if peer.proc is None:
        return "no process to sample"
    runner = threading.Thread(target=load.concurrent, args=(base_url, targets, accept, connections,
                                                            seconds + 2, 1))
    runner.start()
    raw = out.with_suffix(".raw.txt")
    res = subprocess.run([exe, "record", "-d", str(int(seconds)), "-r", "100", "--pid", str(peer.proc.pid),
                          "--subprocesses", "-f", "raw", "-o", str(raw)], capture_output=True, text=True)
    runner.join()
    if res.returncode != 0 or not raw.exists():
        return f"py-spy failed: {res.stderr[-300:]}"
    text = summarise(raw.read_text(encoding="utf-8", errors="replace"))
    out.write_text(text + "\n", encoding="utf-8")
    return text
