"""The servers compared, started on loopback on the same data in the same run.

- `rdflib-endpoint` (PyPI) over the generated N-Triples file (rdflib's in-memory store, uvicorn);
- Virtuoso 7 (Debian), started by `scripts/virtuoso.sh` with a throwaway database folder and loaded with
  `ld_dir` / `rdf_loader_run` through `isql-vt`;
- thb-kb on its embedded store (pyoxigraph, RocksDB folder bulk-loaded from the same file) under gunicorn
  (`kb serve --gunicorn`);
- thb-kb on the Virtuoso store (`KB_STORE=sparql+http://...`), when `kb/store/remote.py` exists.

Every peer is a subprocess in its own session; `stop()` ends exactly that process group.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .machine import process_tree

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
BENCH_GRAPH = "https://w3id.org/thb-kb/graph/bench"
JSON = "application/sparql-results+json"


class PeerUnavailable(RuntimeError):
    """A peer cannot run here (binary or module missing); the tables say why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, accept: str = JSON, timeout: float = 10.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB (from /proc)."""
    total_kb = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


@dataclass
class Peer:
    name: str
    sparql_url: str = ""
    proc: subprocess.Popen | None = None
    log: Path | None = None
    notes: list[str] = field(default_factory=list)
    ready_seconds: float | None = None
    load_seconds: float | None = None
    doc_base: str | None = None  # thb-kb: http://host:port (documents at /doc/...)
    describe: bool = True  # answers DESCRIBE (the dereference comparison)

    @property
    def host_port(self) -> str:
        return urllib.parse.urlsplit(self.sparql_url).netloc

    @property
    def sparql_path(self) -> str:
        return urllib.parse.urlsplit(self.sparql_url).path or "/"

    def rss(self) -> float | None:
        return rss_mb(self.proc.pid) if self.proc and self.proc.poll() is None else None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _spawn(cmd: list[str], log: Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    fh = open(log, "wb")
    return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)


def wait_ready(url: str, proc: subprocess.Popen | None, timeout: float, log: Path | None = None,
               accept: str = JSON, interval: float = 0.02) -> float:
    """Poll `url` until it answers 200; seconds waited. Raises if the process died or time ran out."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log else ""
            raise RuntimeError(f"process exited with {proc.returncode} during start-up:\n{tail}")
        try:
            status, _ = http_get(url, accept=accept, timeout=2)
            if status == 200:
                return time.perf_counter() - t0
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(interval)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


# -- rdflib-endpoint -------------------------------------------------------------------------------------
def start_rdflib_endpoint(data: Path, workdir: Path) -> Peer:
    exe = VENV_BIN / "rdflib-endpoint"
    if not exe.exists():
        raise PeerUnavailable("rdflib-endpoint is not installed (pip install -e '.[test]')")
    port = free_port()
    log = workdir / f"rdflib-endpoint-{port}.log"
    proc = _spawn([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), str(data)], log)
    peer = Peer("rdflib-endpoint", f"http://127.0.0.1:{port}/", proc, log)
    peer.spawned = time.perf_counter()  # type: ignore[attr-defined]
    peer.notes.append("rdflib-endpoint serve FILE (rdflib Memory store, one uvicorn process); "
                      "ready = parse time of the file")
    return peer


def wait_rdflib_endpoint(peer: Peer, timeout: float) -> None:
    ask = peer.sparql_url + "?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"})
    wait_ready(ask, peer.proc, timeout, peer.log, interval=0.5)
    peer.ready_seconds = time.perf_counter() - peer.spawned  # type: ignore[attr-defined]


# -- Virtuoso ----------------------------------------------------------------------------------------------
def start_virtuoso(data: Path, folder: Path, *, buffers: int = 20000) -> Peer:
    """Start Virtuoso with `scripts/virtuoso.sh` in `folder` and bulk-load `data` into the bench graph
    (a folder that already holds the loaded data is reused)."""
    script = ROOT / "scripts" / "virtuoso.sh"
    if not script.exists():
        raise PeerUnavailable("scripts/virtuoso.sh is missing")
    if not (shutil.which("virtuoso-t") or Path("/usr/bin/virtuoso-t").exists()):
        raise PeerUnavailable("virtuoso-t not found (Debian: apt-get install virtuoso-opensource)")
    http_port, sql_port = free_port(), free_port()
    marker = folder / "loaded.txt"
    stamp = f"v2 {data.name} {data.stat().st_size} {int(data.stat().st_mtime)}"
    if folder.exists() and not (marker.exists() and marker.read_text().splitlines()[:1] == [stamp]):
        subprocess.run(["bash", str(script), "stop", str(folder)], cwd=ROOT, capture_output=True)
        shutil.rmtree(folder)  # a database of other data: start again from an empty one
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, VIRTUOSO_BUFFERS=str(buffers), VIRTUOSO_DIRTY_BUFFERS=str(buffers * 3 // 4),
               VIRTUOSO_MAX_QUERY_MEM="2G", VIRTUOSO_MAX_SECONDS="300")
    t0 = time.perf_counter()
    out = subprocess.run(["bash", str(script), "start", str(http_port), str(sql_port), str(folder)],
                         env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/virtuoso.sh start failed: {out.stderr[-2000:]}")
    peer = Peer("Virtuoso 7", out.stdout.strip().splitlines()[-1], None, folder / "virtuoso.log")
    peer.ready_seconds = time.perf_counter() - t0
    peer.folder = folder  # type: ignore[attr-defined]
    peer.sql_port = sql_port  # type: ignore[attr-defined]
    peer.pid = int((folder / "virtuoso.pid").read_text())  # type: ignore[attr-defined]
    if marker.exists():
        lines = marker.read_text().splitlines()
        peer.load_seconds = float(lines[1]) if len(lines) > 1 else None
        peer.notes.append("database loaded by an earlier run from the same file (load time of that run)")
        return peer
    target = folder / data.name
    if not target.exists():
        try:
            os.link(data, target)
        except OSError:
            shutil.copyfile(data, target)
    t0 = time.perf_counter()
    isql(peer, f"ld_dir('{folder}', '{data.name}', '{BENCH_GRAPH}'); rdf_loader_run(); checkpoint;")
    peer.load_seconds = time.perf_counter() - t0
    target.unlink()
    register_for_remote_store(peer)
    marker.write_text(f"{stamp}\n{peer.load_seconds}\n")
    return peer


def register_for_remote_store(peer: Peer) -> None:
    """Make the bulk-loaded graph part of the KB as thb-kb's remote store sees it (its graph registry and
    version triple), through the store's own API when it exists."""
    if not remote_store_available():
        return
    from kb import settings as settings_mod
    from kb.store import open_store

    store, env = virtuoso_store_env(peer)
    registry = "https://w3id.org/thb-kb/store/graphs"
    isql(peer, f"SPARQL INSERT DATA {{ GRAPH <{registry}> {{ <{BENCH_GRAPH}> "
               f"<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
               f"<http://www.w3.org/ns/sparql-service-description#NamedGraph> }} }};")
    st = open_store(settings_mod.load({"store": store, "sparql_update_url": env["KB_SPARQL_UPDATE_URL"],
                                       "sparql_user": env["KB_SPARQL_USER"],
                                       "sparql_password": env["KB_SPARQL_PASSWORD"]}))
    st.apply()  # the version triple
    st.close()


def isql(peer: Peer, sql: str, timeout: float = 3600) -> str:
    exe = shutil.which("isql-vt") or "/usr/bin/isql-vt"
    out = subprocess.run([exe, f"127.0.0.1:{peer.sql_port}", "dba", os.environ.get("VIRTUOSO_DBA_PASSWORD", "dba"),  # type: ignore[attr-defined]
                          f"exec={sql}"], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0 or "*** Error" in out.stdout:
        raise RuntimeError(f"isql failed: {out.stdout[-1500:]} {out.stderr[-500:]}")
    return out.stdout


def virtuoso_rss(peer: Peer) -> float | None:
    pid = getattr(peer, "pid", None)
    return rss_mb(pid) if pid else None


def stop_virtuoso(peer: Peer) -> None:
    folder = getattr(peer, "folder", None)
    if folder is not None:
        subprocess.run(["bash", str(ROOT / "scripts" / "virtuoso.sh"), "stop", str(folder)], cwd=ROOT,
                       capture_output=True)


# -- thb-kb ------------------------------------------------------------------------------------------------
def build_embedded_store(data: Path, folder: Path) -> float:
    """Bulk-load `data` into a new RocksDB store (the bench graph) and give it a version; seconds taken."""
    import pyoxigraph as ox

    from kb import settings as settings_mod
    from kb.store import open_store

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    raw = ox.Store(str(folder))
    raw.bulk_load(path=str(data), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(BENCH_GRAPH))
    from kb.store import oxigraph as oxstore

    if oxstore.sst_bytes(folder) >= oxstore.COMPACT_MIN_BYTES:
        raw.optimize()  # as kb's own bulk writes do (kb.store.oxigraph, "Compaction")
    raw.flush()
    del raw
    st = open_store(settings_mod.load({"store": str(folder)}))
    st.apply()  # the version triple in the meta graph
    st.close()
    return time.perf_counter() - t0


def kb_env(store: str, port: int, extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env.update({"KB_STORE": store, "KB_HOST": "127.0.0.1", "KB_PORT": str(port), "KB_RATE_LIMIT": "0",
                "KB_LOG_LEVEL": "WARNING", "KB_QUERY_TIMEOUT": "300", "KB_MAX_ROWS": "100000"})
    env.update(extra or {})
    return env


def start_thbkb(name: str, store: str, workdir: Path, *, extra_env: dict | None = None,
                timeout: float = 120) -> Peer:
    port = free_port()
    log = workdir / f"thbkb-{port}.log"
    env = kb_env(store, port, extra_env)
    t0 = time.perf_counter()
    proc = _spawn([str(VENV_BIN / "kb"), "serve", "--gunicorn", "--no-load"], log, env=env, cwd=ROOT)
    peer = Peer(name, f"http://127.0.0.1:{port}/sparql", proc, log, doc_base=f"http://127.0.0.1:{port}")
    peer.spawned = t0  # type: ignore[attr-defined]
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", proc, timeout, log, accept="*/*", interval=0.01)
    except RuntimeError:
        peer.stop()
        raise
    peer.ready_seconds = time.perf_counter() - t0
    return peer


def replica_quads() -> int:
    """The KB size up to which thb-kb's query workers copy the KB into memory (KB_QUERY_REPLICA)."""
    from kb import settings as settings_mod

    return int(settings_mod.load().get("query_replica") or 0)


def wait_query_copies(peer: Peer, timeout: float = 300, in_a_row: int = 6) -> float | None:
    """Wait until thb-kb's query workers answer from their in-memory copies of the KB (KB_QUERY_REPLICA:
    the answers' Server-Timing says `store;desc="memory"`, `in_a_row` times running, so every worker has
    its copy): seconds waited, or None when they did not within `timeout` (the KB is above the setting)."""
    t0 = time.perf_counter()
    seen = 0
    while time.perf_counter() - t0 < timeout:
        query = f"ASK {{ ?s ?p ?o }} # copy probe {time.time()}"
        req = urllib.request.Request(peer.sparql_url + "?" + urllib.parse.urlencode({"query": query}),
                                     headers={"Accept": JSON})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                memory = 'desc="memory"' in (resp.headers.get("Server-Timing") or "")
        except (OSError, urllib.error.URLError):
            memory = False
        seen = seen + 1 if memory else 0
        if seen >= in_a_row:
            return time.perf_counter() - t0
        time.sleep(0.05 if memory else 0.5)
    return None


def remote_store_available() -> bool:
    return (ROOT / "kb" / "store" / "remote.py").exists()


def virtuoso_store_env(peer: Peer) -> tuple[str, dict]:
    """KB_STORE and the other settings of thb-kb on the Virtuoso started by scripts/virtuoso.sh."""
    url = peer.sparql_url
    return f"sparql+{url}", {"KB_SPARQL_UPDATE_URL": url.rsplit("/sparql", 1)[0] + "/sparql-auth",
                             "KB_SPARQL_USER": os.environ.get("VIRTUOSO_UPDATE_USER", "kb"),
                             "KB_SPARQL_PASSWORD": os.environ.get("VIRTUOSO_UPDATE_PASSWORD", "kb-secret")}
