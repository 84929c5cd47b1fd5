"""HTTP load: sequential latency series (one client) and concurrent runs at N connections.

Concurrent runs use `wrk` (Debian package `wrk`; `apt-get install wrk`) with `bench/wrk_paths.lua`, which
cycles through a list of request targets; without wrk, an equivalent Python load generator (threads,
keep-alive connections) runs instead and the tables say so. Every figure is the median of repeated runs.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

LUA = Path(__file__).resolve().parent / "wrk_paths.lua"


@dataclass
class RunResult:
    connections: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str
    cpu: dict | None = None  # machine.CpuWatch: the server's, the load generator's and other CPU seconds

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Series:
    """Latencies of one query (or request kind) at one client."""

    times: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    timeouts: int = 0
    rows: int | None = None  # result rows of the first variant (a cross-check between peers)
    error: str | None = None

    @property
    def median(self) -> float | None:
        ok = [t for t, s in zip(self.times, self.statuses) if s == 200]
        return statistics.median(ok) if ok else None


def _count_rows(body: bytes) -> int | None:
    try:
        return len(json.loads(body)["results"]["bindings"])
    except (ValueError, KeyError, TypeError):
        return None


def _quick(conn: http.client.HTTPConnection) -> None:
    """No Nagle delay, and acknowledge at once (Linux's TCP_QUICKACK, reset by the kernel, so set before each
    request): a server that writes an answer in several pieces must not wait 40 ms for a delayed ACK. The same
    for every peer, so that what is measured is the server, not the client's TCP settings."""
    import socket

    if conn.sock is None:
        conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if hasattr(socket, "TCP_QUICKACK"):
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)


def latency_series(host_port: str, targets: list[str], accept: str, *, timeout: float,
                   budget: float, min_reps: int = 1) -> Series:
    """Send `targets` one after the other on one keep-alive connection; stop after `budget` seconds
    (at least `min_reps` requests) or at the first timeout (the server is then busy with that request)."""
    out = Series()
    host, port = host_port.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    started = time.perf_counter()
    try:
        for i, target in enumerate(targets):
            if i >= min_reps and time.perf_counter() - started > budget:
                break
            t0 = time.perf_counter()
            try:
                _quick(conn)
                conn.request("GET", target, headers={"Accept": accept})
                resp = conn.getresponse()
                body = resp.read()
            except TimeoutError:
                out.timeouts += 1
                out.error = f"timed out after {timeout:.0f} s"
                break
            except (OSError, http.client.HTTPException) as exc:
                out.error = f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
                continue
            out.times.append(time.perf_counter() - t0)
            out.statuses.append(resp.status)
            if i == 0:
                out.rows = _count_rows(body)
            if resp.status != 200 and out.error is None:
                out.error = f"HTTP {resp.status}: {body[:200].decode('utf-8', 'replace')}"
    finally:
        conn.close()
    return out


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(base_url: str, targets: list[str], accept: str, connections: int, seconds: float,
            timeout: float = 30.0) -> RunResult:
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False, encoding="utf-8") as fh:
        fh.write("\n".join(targets) + "\n")
        paths_file = fh.name
    try:
        threads = max(1, min(connections, 2))
        env = dict(os.environ, BENCH_PATHS=paths_file, BENCH_ACCEPT=accept)
        cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
               "--timeout", f"{max(1, round(timeout))}s", "-s", str(LUA), base_url]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + timeout + 30)
    finally:
        os.unlink(paths_file)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    d = json.loads(line[len("BENCH_JSON "):])
    secs = d["duration_us"] / 1e6
    errors = d["errors_status"] + d["errors_connect"] + d["errors_read"] + d["errors_write"] + d["errors_timeout"]
    ok = max(0, d["requests"] - d["errors_status"])
    return RunResult(connections, d["requests"], secs, ok / secs if secs else 0.0, d["p50_us"] / 1000,
                     d["p99_us"] / 1000, errors, "wrk")


def run_python(base_url: str, targets: list[str], accept: str, connections: int, seconds: float,
               timeout: float = 30.0) -> RunResult:
    """The same measurement without wrk: `connections` threads, each a keep-alive connection."""
    from urllib.parse import urlsplit

    netloc = urlsplit(base_url).netloc
    host, port = netloc.rsplit(":", 1)
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        i = k * 7919
        mine = []
        while time.perf_counter() < stop_at:
            i += 1
            t0 = time.perf_counter()
            try:
                conn.request("GET", targets[i % len(targets)], headers={"Accept": accept})
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    with lock:
                        errors[0] += 1
                    continue
            except (OSError, http.client.HTTPException):
                with lock:
                    errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
                continue
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    lat.sort()

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return RunResult(connections, len(lat) + errors[0], secs, len(lat) / secs, pct(0.5), pct(0.99), errors[0],
                     "python")


def concurrent(base_url: str, targets: list[str], accept: str, connections: int, seconds: float,
               reps: int, timeout: float = 30.0, server_pids: list[int] = ()) -> tuple[RunResult, list[RunResult]]:
    """`reps` runs; the run with the median requests/s (and all runs). Each run records who used the CPU
    meanwhile (`machine.CpuWatch`; the server's process trees are those of `server_pids`)."""
    from .machine import CpuWatch

    fn = run_wrk if have_wrk() else run_python
    runs = []
    for _ in range(reps):
        with CpuWatch(list(server_pids)) as watch:
            result = fn(base_url, targets, accept, connections, seconds, timeout)
        result.cpu = watch.as_dict()
        runs.append(result)
    ordered = sorted(runs, key=lambda r: r.rps)
    return ordered[len(ordered) // 2], runs
