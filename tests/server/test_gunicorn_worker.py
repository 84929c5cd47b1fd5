"""The gunicorn worker of `kb serve --gunicorn` (server.gunicorn_worker.ConnectionWorker), run by a real
gunicorn on loopback over a small WSGI app (tests/server/worker_wsgi_app.py): keep-alive, pipelining,
bodies read or left unread, the slots that bound requests in progress, idle connections, a stop."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import free_port
from server.gunicorn_worker import FifoSlots, _OneSend

ROOT = Path(__file__).resolve().parents[2]
WORKER = "server.gunicorn_worker.ConnectionWorker"


class Gunicorn:
    def __init__(self, tmp_path: Path, *, threads: int = 2, keepalive: float = 5, graceful: float = 10):
        self.port = free_port()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests" / "server")]))
        self.log = tmp_path / "gunicorn.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", WORKER, "--threads", str(threads), "--keep-alive", str(keepalive),
             "--graceful-timeout", str(graceful), "-b", f"127.0.0.1:{self.port}", "worker_wsgi_app:app"],
            env=env, cwd=tmp_path, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if self.get("/ready")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"gunicorn did not start: {self.log.read_text()}")

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def server(tmp_path):
    g = Gunicorn(tmp_path)
    yield g
    g.stop()


def _read_responses(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """`count` responses with Content-Length read off one socket, in order."""
    buf, out = b"", []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(out)} responses"
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next((int(v) for k, _, v in (ln.partition(": ") for ln in lines[1:]) if k.lower() == "content-length"), 0)
        while len(buf) < length:
            chunk = sock.recv(65536)
            assert chunk
            buf += chunk
        out.append((status, buf[:length]))
        buf = buf[length:]
    return out


def test_one_connection_carries_many_requests(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.connect()
    first = conn.sock
    for i in range(50):
        conn.request("GET", f"/n{i}")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, f"/n{i}".encode())
        assert resp.getheader("Connection", "keep-alive").lower() != "close"
    assert conn.sock is first  # never reconnected
    conn.close()


def test_pipelined_requests_are_answered_in_order(server):
    with server.connect() as s:
        s.sendall(b"".join(f"GET /p{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(5)))
        assert _read_responses(s, 5) == [(200, f"/p{i}".encode()) for i in range(5)]


def test_bodies_read_and_left_unread_keep_the_connection_in_step(server):
    body = os.urandom(20_000)
    with server.connect() as s:
        s.sendall(b"POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        s.sendall(b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_responses(s, 4) == [(200, b"ignored"), (200, body), (200, b"hello world"), (200, b"/after")]


def test_large_empty_and_head_responses_arrive_whole(server):
    with server.connect() as s:
        s.sendall(b"GET /big?n=300000 HTTP/1.1\r\nHost: x\r\n\r\nGET /big?n=10 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\nHEAD /head HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = b""
        while not buf.endswith(b"\r\n\r\n/last"):
            chunk = s.recv(1 << 20)
            assert chunk, buf[-300:]
            buf += chunk
    heads = buf.split(b"\r\n\r\n")
    assert heads[0].startswith(b"HTTP/1.1 200") and b"Content-Length: 900000" in heads[0]
    assert heads[1].startswith(b"x" * 900_000 + b"HTTP/1.1 200") and b"Content-Length: 30" in heads[1]
    assert heads[2].startswith(b"x" * 30 + b"HTTP/1.1 304")
    # HEAD: a Content-Length but no body, so the next response follows its head directly
    assert heads[3].startswith(b"HTTP/1.1 200") and b"Content-Length: 5" in heads[3]
    assert heads[4].startswith(b"HTTP/1.1 200") and heads[5] == b"/last"


def test_slots_bound_requests_in_progress_and_idle_connections_hold_none(server):
    idle = [server.connect() for _ in range(6)]  # kept open without a request: they must not take a slot
    try:
        results, t0 = [], time.monotonic()
        threads = [threading.Thread(target=lambda: results.append(server.get("/sleep?s=0.6"))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        assert results == [(200, b"slept")] * 4
        assert 1.15 <= elapsed < 3.0, elapsed  # 2 slots: two rounds of 0.6 s, not one, not one each
    finally:
        for s in idle:
            s.close()


def test_an_idle_connection_is_closed_after_the_keepalive_time(tmp_path):
    g = Gunicorn(tmp_path, keepalive=1)
    try:
        with g.connect() as s:
            s.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _read_responses(s, 1) == [(200, b"/one")]
            t0 = time.monotonic()
            s.settimeout(10)
            assert s.recv(10) == b""  # the server closed it
            assert 0.8 <= time.monotonic() - t0 < 4
        assert g.get("/still")[1] == b"/still"
    finally:
        g.stop()


def test_a_stop_finishes_requests_in_progress_and_closes_idle_connections_at_once(tmp_path):
    g = Gunicorn(tmp_path, keepalive=30)
    idle = g.connect()
    idle.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _read_responses(idle, 1) == [(200, b"/first")]  # now waiting for a next request, for up to 30 s
    busy = g.connect()
    busy.sendall(b"GET /sleep?s=1.5 HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)
    t0 = time.monotonic()
    os.kill(g.proc.pid, signal.SIGTERM)
    try:
        idle.settimeout(10)
        assert idle.recv(10) == b""
        assert time.monotonic() - t0 < 2.5  # not the 30 s of its keep-alive
        assert _read_responses(busy, 1) == [(200, b"slept")]
        assert g.proc.wait(15) == 0
        assert time.monotonic() - t0 < 8
    finally:
        idle.close()
        busy.close()
        g.stop()


def test_fifo_slots_serve_waiters_in_arrival_order_and_let_no_newcomer_through():
    slots, order = FifoSlots(1), []
    slots.__enter__()  # the one slot is taken

    def waiter(k):
        with slots:
            order.append(k)

    threads = []
    for k in range(5):
        t = threading.Thread(target=waiter, args=(k,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while len(slots._waiters) < k + 1 and time.monotonic() < deadline:  # queued in this order
            time.sleep(0.001)
    slots.__exit__(None, None, None)
    with slots:  # a newcomer while waiters queue: it gets the slot only after all of them
        order.append("newcomer")
    for t in threads:
        t.join(5)
    assert order == [0, 1, 2, 3, 4, "newcomer"]
    assert slots._free == 1


class _Recorder:
    def __init__(self):
        self.sent: list[bytes] = []

    def sendall(self, data):
        self.sent.append(bytes(data))

    def fileno(self):
        return 7


def test_the_head_goes_with_the_first_body_part_in_one_send():
    rec = _Recorder()
    out = _OneSend(rec)
    out.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    assert rec.sent == []
    out.sendall(b"body")
    out.sendall(b"more")
    out.flush()
    assert rec.sent == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"more"]

    rec = _Recorder()
    out = _OneSend(rec)
    out.sendall(b"HTTP/1.1 304 Not Modified\r\n\r\n")
    out.flush()  # no body: the head alone, once
    out.flush()
    assert rec.sent == [b"HTTP/1.1 304 Not Modified\r\n\r\n"]

    rec = _Recorder()
    out = _OneSend(rec)
    out.sendall(b"HEAD")
    big = b"x" * (_OneSend.JOIN_UP_TO + 1)
    out.sendall(big)  # too large to copy behind the head
    assert rec.sent == [b"HEAD", big]

    rec = _Recorder()
    out = _OneSend(rec)
    out.sendall(b"HEAD")
    assert out.fileno() == 7 and rec.sent == [b"HEAD"]  # anything else (sendfile) sends the head first
