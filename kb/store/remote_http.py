"""HTTP for the remote store's queries: a pool of keep-alive connections over the standard library.

A query costs the app server one HTTP request to the store, and on loopback the client's own work is a large
part of it: `requests` spends about 0.45 ms more per request than `http.client` (hooks, cookies, adapters,
environment lookups: measured on the bench machine, 0.94 against 0.42 ms for Virtuoso's answer to a small
SELECT), as much as Virtuoso takes to answer the query. So queries go through this pool; `requests` stays
for the writes and for what this pool does not do (authentication challenges, proxies; the store switches
to `requests` when it meets them).

The request itself is still described by SPARQLWrapper (see `RemoteStore._request`); this module only moves
the bytes: POST, keep-alive, a connect timeout, a read timeout and a deadline for the whole answer. It speaks
HTTP/1.1 on the socket itself (`_Connection`: the request in one write, the answer's head parsed from a
buffer; bodies by Content-Length, chunked, or up to the close), because `http.client` costs four times the
CPU of that per exchange (0.18 against 0.045 ms for Virtuoso's answer to `ASK {}`, measured), and every
query is two exchanges (the query and the read of the KB's state).
Queries are idempotent, so a request that fails on a pooled connection before any byte of the answer came
(the store closed the idle connection: Virtuoso's KeepAliveTimeout) is sent again once on a new connection.
"""

from __future__ import annotations

import select
import socket
import ssl
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


class Headers(dict):
    """Response headers by lower-cased name (repeated headers joined with ", "); `.get` ignores case."""

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)

    def __getitem__(self, name: str):
        return super().__getitem__(name.lower())

    def __contains__(self, name) -> bool:
        return super().__contains__(name.lower())


@dataclass
class Reply:
    """What the store answered (the attributes the store's callers read from a `requests.Response`)."""

    status_code: int
    headers: Headers  # case-insensitive `.get`
    content: bytes


class _Stale(Exception):
    """A pooled connection the store had closed: nothing of the answer came."""


class _BadAnswer(Exception):
    """Not an HTTP/1.x answer, or one that broke off."""


_STALE = (_Stale, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
MAX_HEAD = 65536  # bytes of status line and headers


class _Connection:
    """One keep-alive HTTP/1.1 connection: a socket and what was read past the last answer."""

    def __init__(self, host: str, port: int, https: bool, connect_timeout: float):
        self.host, self.port, self.https, self.connect_timeout = host, port, https, connect_timeout
        self.sock: socket.socket | None = None
        self.buf = b""
        self.host_header = host if port == (443 if https else 80) else f"{host}:{port}"

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.https:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
        self.sock, self.buf = sock, b""

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def send(self, target: str, body: bytes, headers: dict[str, str]) -> None:
        lines = [f"POST {target} HTTP/1.1", f"Host: {self.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length")]
        if not any(k.lower() == "accept-encoding" for k in headers):
            lines.append("Accept-Encoding: identity")  # without it any coding is acceptable (RFC 9110)
        lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _more(self, deadline: float, read_timeout: float) -> bytes:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(min(read_timeout, left))  # a store that drips bytes is cut too
        _ack_at_once(self.sock)
        return self.sock.recv(65536)

    def head(self, deadline: float, read_timeout: float) -> tuple[int, str, Headers]:
        """Status, HTTP version and headers of the next answer (informational 1xx answers skipped)."""
        while True:
            if not self._fill_until(b"\r\n\r\n", deadline, read_timeout, None, "the answer's headers are too long"):
                if not self.buf:
                    raise _Stale()  # closed before any byte of the answer
                raise _BadAnswer("the connection closed inside the answer's headers")
            head, _, self.buf = self.buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise _BadAnswer(f"not an HTTP answer: {lines[0][:80]!r}")
            status = int(parts[1])
            if 100 <= status < 200:
                continue
            fields: dict[str, str] = {}  # a plain dict while it is filled (Headers' methods lower-case each key)
            name = None
            for line in lines[1:]:
                if line[:1] in (" ", "\t") and name is not None:  # an obsolete folded continuation
                    fields[name] += " " + line.strip()
                    continue
                name, sep, value = line.partition(":")
                if not sep:
                    raise _BadAnswer(f"not an HTTP header: {line[:80]!r}")
                name, value = name.strip().lower(), value.strip()
                seen = fields.get(name)
                fields[name] = value if seen is None else seen + ", " + value
            return status, parts[0], Headers(fields)

    def body(self, headers: Headers, deadline: float, read_timeout: float) -> tuple[bytes, bool]:
        """The answer's body, and whether the connection stays open for another request."""
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return self._chunked(deadline, read_timeout), True
        length = headers.get("Content-Length")
        if length is not None:
            if not length.strip().isdigit():
                raise _BadAnswer("a Content-Length that is not a number")
            n = int(length)
            self._fill_to(n, deadline, read_timeout, "the connection ended before the Content-Length did")
            data, self.buf = self.buf[:n], self.buf[n:]
            return data, True
        parts = [self.buf]  # neither: the body ends with the connection
        while True:
            chunk = self._more(deadline, read_timeout)
            if not chunk:
                self.buf = b""
                return b"".join(parts), False
            parts.append(chunk)

    def _fill_until(self, mark: bytes, deadline: float, read_timeout: float, ended: str | None,
                    too_long: str = "") -> bool:
        """Read until the buffer holds `mark` (at most MAX_HEAD bytes before it: `too_long`). When the
        connection ends first: `_BadAnswer(ended)`, or False when `ended` is None."""
        while mark not in self.buf:
            if len(self.buf) > MAX_HEAD:
                raise _BadAnswer(too_long)
            chunk = self._more(deadline, read_timeout)
            if not chunk:
                if ended is None:
                    return False
                raise _BadAnswer(ended)
            self.buf += chunk
        return True

    def _fill_to(self, n: int, deadline: float, read_timeout: float, ended: str) -> None:
        """Read until the buffer holds `n` bytes; `_BadAnswer(ended)` when the connection ends first."""
        while len(self.buf) < n:
            chunk = self._more(deadline, read_timeout)
            if not chunk:
                raise _BadAnswer(ended)
            self.buf += chunk

    def _line(self, deadline: float, read_timeout: float) -> bytes:
        self._fill_until(b"\r\n", deadline, read_timeout, "the connection ended inside a chunked answer",
                         "a chunk size line that does not end")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _chunked(self, deadline: float, read_timeout: float) -> bytes:
        parts = []
        while True:
            size_text = self._line(deadline, read_timeout).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _BadAnswer("a chunk size that is not a number") from None
            if size == 0:
                while self._line(deadline, read_timeout):  # trailers, up to the empty line
                    pass
                return b"".join(parts)
            self._fill_to(size + 2, deadline, read_timeout, "the connection ended inside a chunk")
            if self.buf[size:size + 2] != b"\r\n":
                raise _BadAnswer("a chunk that does not end where its size says")
            parts.append(self.buf[:size])
            self.buf = self.buf[size + 2:]


class Pool:
    """Keep-alive HTTP/1.1 connections to one origin, shared by threads (last used, first reused)."""

    def __init__(self, url: str, size: int = 32):
        parts = urllib.parse.urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self.https else 80)
        self.size = size
        self._idle: list[_Connection] = []
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

    def _new(self, connect_timeout: float) -> _Connection:
        return _Connection(self.host, self.port, self.https, connect_timeout)

    def _take(self) -> _Connection | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                conn = self._idle.pop()
            if conn.sock is not None and not conn.buf and not _readable(conn.sock):
                return conn
            conn.close()  # closed by the store while idle (or it sent something unasked): never reuse it

    def _give_back(self, conn: _Connection) -> None:
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
        self.conn: _Connection | None = None
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
            self._sock = conn.sock
            register = getattr(_watch, "register", None)
            if register is not None:
                register(self.cut)
            conn.sock.settimeout(self.read_timeout)
            conn.send(self.target, self.body, self.headers)
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
        """The whole answer; `Timeout` past `deadline` (time.monotonic()) or `read_timeout` without a byte."""
        conn = self.conn
        assert conn is not None, "reply() after abandon()"
        try:
            status, version, headers = conn.head(deadline, self.read_timeout)
        except _STALE:
            self.abandon()
            if not self.reused or self.was_cut:
                raise Unreachable("the connection was cut") from None
            self.send(fresh=True)  # a pooled connection the store had closed: once more on a new one
            return self.reply(deadline)
        except (TimeoutError, Timeout):
            self.abandon()
            raise Timeout() from None
        except (OSError, _BadAnswer, AttributeError) as exc:  # AttributeError: the socket was closed meanwhile
            self.abandon()
            raise Unreachable(_reason(exc)) from None
        try:
            content, open_after = (b"", True) if status in (204, 304) else conn.body(headers, deadline, self.read_timeout)
        except (TimeoutError, Timeout):
            self.abandon()
            raise Timeout() from None
        except (OSError, _BadAnswer, AttributeError) as exc:
            self.abandon()
            raise Unreachable(_reason(exc)) from None
        with self._cut_lock:
            self.conn = None
        close = headers.get("Connection", "").lower()
        if not open_after or "close" in close or (version == "HTTP/1.0" and "keep-alive" not in close):
            conn.close()
        else:
            self.pool._give_back(conn)
        return Reply(status, headers, content)

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
