"""The serving process's handle on one query worker process (see `pool`): starting it as a fresh interpreter
with one end of a socket pair, waiting for it to be ready, killing it, and reading its resident memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss(pid: int | None) -> int:
    """Resident memory of a process in bytes (Linux /proc; 0 where unknown)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


_ROOT = Path(__file__).resolve().parent.parent.parent  # the folder that holds the `server` package


class _Worker:
    """One worker process, started as `python -m server.sparql.pool FD BASE` with one end of a socket pair.

    Not `multiprocessing.Process`: its spawn and forkserver methods re-import the main module of the serving
    process (a user's script without the `if __name__ == "__main__"` guard would start itself again), and
    fork is unsafe once RocksDB's threads run."""

    def __init__(self, base_iri: str, replica_quads: int = 0):
        parent, child = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "server.sparql.pool", str(child.fileno()), base_iri, str(replica_quads)],
                pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, env=env, close_fds=True)
        finally:
            child.close()
        self.conn = Connection(parent.detach())
        self.path: str | None = None
        self.ticket = None  # the running query's ticket (server.sparql.running), while it runs here
        self.base_rss = 0  # resident memory when its job started: the memory limit counts what the job adds

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float) -> bool:
        try:
            return self.conn.poll(timeout) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            return False

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(5)
        except Exception:  # already gone
            pass
        try:
            self.conn.close()
        except OSError:
            pass
