"""The machine and software a run measured: cores, memory, CPU model, load, versions, commit."""

from __future__ import annotations

import os
import platform
import re
import subprocess
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
