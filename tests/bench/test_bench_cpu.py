"""The harness's CPU accounting (bench.machine.CpuWatch): CPU burnt by the measured server's process tree is
counted as the server's, CPU burnt by another process as other work, and the tables show both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: `bench` is not installed

from bench import report  # noqa: E402
from bench.machine import CpuWatch  # noqa: E402

BURN = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\ntime.sleep(30)"


def _orphan_burner() -> int:
    """A burner that is not this process's descendant (as another peer or another user's work is not)."""
    out = subprocess.run(["sh", "-c", f'"{sys.executable}" -c "$0" >/dev/null 2>&1 & echo $!', BURN],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_the_servers_cpu_and_other_work_are_told_apart():
    server = subprocess.Popen([sys.executable, "-c", BURN])
    other = _orphan_burner()
    try:
        with CpuWatch([server.pid]) as watch:
            time.sleep(1.5)  # both burn 0.6 s of CPU, then sleep
    finally:
        server.kill()
        os.kill(other, signal.SIGKILL)
    assert 0.45 <= watch.server_s <= 0.9
    assert watch.other_s >= 0.45  # the other burner (and whatever else ran on the machine)
    assert watch.loadgen_s < 0.3
    cells = report.cpu_cells({"requests": 100, "cpu": watch.as_dict()})
    assert 4.5 <= float(cells[0]) <= 9.0  # ms of server CPU per request
    assert float(cells[1]) == round(watch.other_s / watch.seconds, 2)
    assert report.cpu_cells({"requests": 3}) == ["-", "-"]
