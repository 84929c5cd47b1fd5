"""The machine and software a run measured: cores, memory, CPU model, load, versions, commit."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_gb() -> float:
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        return round(kb / 1024 / 1024, 1)
    except (OSError, AttributeError):
        return 0.0


def _run(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=ROOT)
        return (out.stdout + out.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe() -> dict:
    virtuoso = re.search(r"Version\s+([\d.]+\S*)", _run(["virtuoso-t", "-?"]))
    wrk = re.search(r"wrk\s+(\S+)", _run(["wrk", "--version"]))
    versions = {d: _version(d) for d in ("pyoxigraph", "rdflib", "pyshacl", "flask", "gunicorn",
                                         "rdflib-endpoint", "uvicorn")}
    versions["python"] = platform.python_version()
    versions["virtuoso"] = virtuoso.group(1) if virtuoso else "not found"
    versions["wrk"] = wrk.group(1) if wrk else "not found (Python load generator)"
    nproc = os.cpu_count()
    mem = _mem_gb()
    cpu = _cpu_model()
    return {
        "machine": f"{nproc} cores, {mem} GB, {cpu}, {platform.system()} {platform.release()}",
        "nproc": nproc, "mem_gb": mem, "cpu": cpu, "kernel": platform.release(),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "commit": _run(["git", "rev-parse", "--short", "HEAD"]),
        "uncommitted_files": len(_run(["git", "status", "--porcelain", "--untracked-files=no"]).splitlines()),
        "versions": versions,
    }


# -- CPU accounting of a measurement: who used the cores while it ran ------------------------------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores; /proc/stat, idle and iowait out)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / _TICK


def process_tree(pid: int) -> dict[int, list[str]]:
    """A process and its live descendants: pid -> the fields of /proc/PID/stat after the command name."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                rest = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            stats[int(entry)] = rest
            children.setdefault(int(rest[1]), []).append(int(entry))
    tree, todo = {}, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        if p in stats:
            tree[p] = stats[p]
    return tree


def _cpu_seconds(rest: list[str]) -> float:
    """utime + stime + cutime + cstime: fields 14-17 of stat (11-14 after the command name)."""
    return sum(int(v) for v in rest[11:15]) / _TICK


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (/proc; exited ones are not counted
    unless their parent waited for them: then they are in its cutime/cstime)."""
    return sum(_cpu_seconds(rest) for rest in process_tree(pid).values())


def own_cpu_seconds() -> float:
    """This process's user + system CPU seconds, with its children that ended and were waited for (wrk,
    run to its end by subprocess.run); live children (the peers' servers) are not in it."""
    return _cpu_seconds(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split())


class CpuWatch:
    """Around one measurement: the CPU seconds the measured server's process trees used (thb-kb on Virtuoso:
    thb-kb's and Virtuoso's), the load generator's (this process and the children it waited for: wrk), and
    everything else on the machine (`other_s`: other peers' background work, other users). Other work during
    a run takes cores from the server and explains a figure below the usual one; the tables show it as the
    cores it took on average."""

    def __init__(self, server_pids: list[int]):
        self.server_pids = [p for p in server_pids if p]

    def _servers(self) -> float:
        return sum(tree_cpu_seconds(p) for p in self.server_pids)

    def __enter__(self) -> "CpuWatch":
        self._t = time.perf_counter()
        self._busy = busy_cpu_seconds()
        self._server = self._servers()
        self._me = own_cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._t
        self.server_s = self._servers() - self._server
        self.loadgen_s = own_cpu_seconds() - self._me
        self.other_s = max(0.0, busy_cpu_seconds() - self._busy - self.server_s - self.loadgen_s)

    def as_dict(self) -> dict:
        return {"server_cpu_s": round(self.server_s, 3), "loadgen_cpu_s": round(self.loadgen_s, 3),
                "other_cpu_s": round(self.other_s, 3), "watched_s": round(self.seconds, 3)}


def wait_quiet(threshold: float = 0.15, window: float = 1.0, timeout: float = 90.0) -> dict:
    """Wait until the machine's busy CPU over one `window` is below `threshold` cores (the peers just
    started have finished their start-up work: Virtuoso's checkpoint, thb-kb's triple count and first
    store checkpoint, rdflib-endpoint's parse), at most `timeout` seconds. Returns what was seen."""
    started = time.perf_counter()
    busy = None
    while time.perf_counter() - started < timeout:
        before = busy_cpu_seconds()
        time.sleep(window)
        busy = (busy_cpu_seconds() - before) / window
        if busy < threshold:
            break
    return {"waited_s": round(time.perf_counter() - started, 1), "busy_cores": round(busy or 0.0, 2),
            "quiet": busy is not None and busy < threshold}
