"""HTTP for the remote store's queries: a pool of keep-alive connections over the standard library.

A query costs the app server one HTTP request to the store, and on loopback the client's own work is a large
part of it: `requests` spends about 0.45 ms more per request than `http.client` (hooks, cookies, adapters,
environment lookups: measured on the bench machine, 0.94 against 0.42 ms for Virtuoso's answer to a small
SELECT), as much as Virtuoso takes to answer the query. So queries go through this pool; `requests` stays
for the writes and for what this pool does not do (authentication challenges, proxies; the store switches
to `requests` when it meets them).

The request itself is still described by SPARQLWrapper (see `RemoteStore._request`); this module only moves
the bytes: POST, keep-alive, a connect timeout, a read timeout and a deadline for the whole answer.
Queries are idempotent, so a request that fails on a pooled connection before any byte of the answer came
(the store closed the idle connection: Virtuoso's KeepAliveTimeout) is sent again once on a new connection.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass

_watch = threading.local()


@contextmanager
def cancellable(register):
    """While in this block, every request this thread sends through a pool is handed to `register(cut)`:
    calling `cut()` (from any thread) shuts its connection down, so the thread waiting for the answer stops
    at once with `Unreachable`. `cut` does nothing once the answer has been read (the connection may carry
    another thread's request by then). Used to stop a running query (server.sparql.running)."""
    previous = getattr(_watch, "register", None)
    _watch.register = register
    try:
        yield
    finally:
        _watch.register = previous


class Timeout(Exception):
    """No answer within the time allowed (connect, read, or the whole answer)."""


class Unreachable(Exception):
    """The connection could not be made, or was cut."""


@dataclass
class Reply:
    """What the store answered (the attributes the store's callers read from a `requests.Response`)."""

    status_code: int
    headers: http.client.HTTPMessage  # case-insensitive `.get`
    content: bytes


_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Pool:
    """Keep-alive HTTP/1.1 connections to one origin, shared by threads (last used, first reused)."""

    def __init__(self, url: str, size: int = 32):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.https else 80)
        self.size = size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    @staticmethod
    def usable_for(url: str) -> bool:
        """False when the environment sends this URL through a proxy, or the URL carries credentials (`requests`
        honours both; this pool does not)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.username is not None:
            return False  # credentials in the URL: requests sends them
        proxies = urllib.request.getproxies()
        return not (proxies.get(parts.scheme) or proxies.get("all")) or bool(
            urllib.request.proxy_bypass(parts.hostname or ""))

    def _new(self, connect_timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=connect_timeout)

    def _take(self) -> http.client.HTTPConnection | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            if conn.sock is not None and not _readable(conn.sock):
                return conn
            conn.close()  # closed by the store while idle (or it sent something unasked): never reuse it

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(conn)
                return
        conn.close()

    def start(self, target: str, body: bytes, headers: dict[str, str], connect_timeout: float,
              read_timeout: float) -> "Exchange":
        """Send a POST now; read its answer later with `Exchange.reply` (so that two can be in flight)."""
        exchange = Exchange(self, target, body, headers, connect_timeout, read_timeout)
        exchange.send()
        return exchange

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Exchange:
    """One request on one connection of the pool: sent by `send`, answered by `reply`."""

    def __init__(self, pool: Pool, target: str, body: bytes, headers: dict[str, str], connect_timeout: float,
                 read_timeout: float):
        self.pool, self.target, self.body, self.headers = pool, target, body, headers
        self.connect_timeout, self.read_timeout = connect_timeout, read_timeout
        self.conn: http.client.HTTPConnection | None = None
        self.reused = False
        self._cut_lock = threading.Lock()
        self._sock = None
        self.was_cut = False  # cut() was called: never sent again

    def send(self, fresh: bool = False) -> None:
        conn = None if fresh else self.pool._take()
        self.reused = conn is not None
        if conn is None:
            conn = self.pool._new(self.connect_timeout)
        self.conn = conn
        try:
            if conn.sock is None:
                conn.connect()
                # http.client writes the headers and the body in two sends: without TCP_NODELAY (which
                # urllib3 sets too) Nagle's algorithm may hold the body until the store ACKs the headers
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.sock.settimeout(self.read_timeout)
            self._sock = conn.sock
            register = getattr(_watch, "register", None)
            if register is not None:
                register(self.cut)
            conn.request("POST", self.target, body=self.body, headers=self.headers)
        except _STALE:
            if not self.reused or self.was_cut:
                self.abandon()
                raise Unreachable("the connection was cut") from None
            self.abandon()
            self.send(fresh=True)
        except TimeoutError:
            self.abandon()
            raise Timeout() from None
        except OSError as exc:
            self.abandon()
            raise Unreachable(_reason(exc)) from None

    def reply(self, deadline: float) -> Reply:
        """The whole answer, read in chunks; `Timeout` past `deadline` (time.monotonic())."""
        conn = self.conn
        assert conn is not None, "reply() after abandon()"
        sock = conn.sock  # the response reads it even when http.client lets go of it (Connection: close)
        try:
            _ack_at_once(sock)
            resp = conn.getresponse()
        except _STALE:
            self.abandon()
            if not self.reused or self.was_cut:
                raise Unreachable("the connection was cut") from None
            self.send(fresh=True)  # a pooled connection the store had closed: once more on a new one
            return self.reply(deadline)
        except TimeoutError:
            self.abandon()
            raise Timeout() from None
        except (OSError, http.client.HTTPException) as exc:
            self.abandon()
            raise Unreachable(_reason(exc)) from None
        chunks = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout()
                sock.settimeout(min(self.read_timeout, left))  # a store that drips bytes is cut too
                _ack_at_once(sock)
                chunk = resp.read1(65536)  # what has come (read() would wait for 64 KB of a dripped answer)
                if not chunk:
                    break
                chunks.append(chunk)
            if resp.length:  # the connection ended before the Content-Length did
                raise http.client.IncompleteRead(b"".join(chunks), resp.length)
            resp.close()  # read to the end: the connection is free for the next request
        except TimeoutError:
            self.abandon()
            raise Timeout() from None
        except Timeout:
            self.abandon()
            raise
        except (OSError, http.client.HTTPException) as exc:
            self.abandon()
            raise Unreachable(_reason(exc)) from None
        with self._cut_lock:
            self.conn = None
        if resp.will_close:
            conn.close()
        else:
            self.pool._give_back(conn)
        return Reply(resp.status, resp.headers, b"".join(chunks))

    def cut(self) -> None:
        """Shut the connection down while a request is on it (from another thread: see `cancellable`)."""
        with self._cut_lock:
            sock = self._sock if self.conn is not None else None
            if sock is not None:
                self.was_cut = True
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def abandon(self) -> None:
        """Drop the connection (an answer nobody will read, or a broken one)."""
        with self._cut_lock:
            conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux


def _ack_at_once(sock) -> None:
    """Acknowledge what arrives at once (Linux TCP_QUICKACK, which the kernel resets, so before each read).
    Virtuoso writes an answer in pieces with Nagle's algorithm on: when the answer is one full segment and a
    small rest, the rest waits for the ACK of the first, which Linux delays by up to 40 ms. Measured on the
    bench's 05 query (74 KB): median 59 ms without, 15 ms with (the store's own time: 10 to 15 ms)."""
    if _QUICKACK is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        except OSError:
            pass


def _readable(sock: socket.socket) -> bool:
    """True when an idle connection has something to read: the store closed it (EOF) or broke the protocol."""
    try:
        if hasattr(select, "poll"):  # any file descriptor number (select() stops at 1024)
            poller = select.poll()
            poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
            return bool(poller.poll(0))
        ready, _, _ = select.select([sock], [], [], 0)
        return bool(ready)
    except (OSError, ValueError):
        return True


def _reason(exc: BaseException) -> str:
    text = str(exc).lower()
    return "connection refused" if "refused" in text else "connection failed or was cut"
