"""A gunicorn worker that gives each connection its own thread: `-k server.gunicorn_worker.ConnectionWorker`.

Why not gunicorn's gthread worker: it hands every request of a kept-alive connection from its event loop to
a thread pool and back (the socket registered with the selector and unregistered, a future submitted, its
callback queued through a pipe, the loop woken): several system calls and two thread switches a request,
about 0.3-0.5 ms of the serving process's CPU on this project's 2-core VM, where a cached entity document
costs 0.03-0.05 ms to produce. Here a connection's thread reads a request, answers it and waits for the
next one on its socket; the main thread only accepts connections and tells the arbiter it is alive. Every
system call releases and takes back the GIL, and under load taking it back means waiting for the other
threads, so a request makes few: the sockets stay blocking with the kernel's time limits (`_Timeouts`, not
Python's, which poll before each read), gunicorn's parser is given the socket's `recv` only (given the
socket, it sets and restores the socket's timeout around each request), and a response's head goes out
with its first body part (`_OneSend`). Waiters for a slot are served in arrival order (`FifoSlots`).

What it keeps of gunicorn: its arbiter, configuration, HTTP parser, WSGI environ, access log and the
pre/post request hooks. The settings mean what they mean for gthread:
- `threads`: how many requests are handled at once (a connection waits for a slot after its request's
  head has arrived, so idle kept-alive connections hold no slot);
- `worker_connections`: how many connections are open at once (at the cap, the worker stops accepting and
  closes each connection after its current response);
- `keepalive`: how long a connection may wait between requests (seconds; 0 closes after each response);
  the first request of a new connection may take `max(keepalive, 5)` seconds to arrive.
HTTP/2 is not spoken (the gthread worker speaks it only over TLS or with prior knowledge, both off here).
On SIGTERM the worker stops accepting, closes the connections waiting between requests at once, and lets
the requests in progress finish within `graceful_timeout`.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import ssl
import struct
import sys
import threading
import time
from collections import deque
from datetime import datetime

from gunicorn import http, sock, util
from gunicorn.http import wsgi
from gunicorn.workers import base

FIRST_REQUEST_WAIT = 5.0  # seconds a new connection may take to send its first request (at least)
DRAIN_WAIT = 5.0  # seconds to discard a request body the application did not read
BODY_WAIT = 60.0  # seconds a request body may pause between two reads
_IGNORED_ERRNOS = (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN)


class ConnectionWorker(base.Worker):
    """One thread per connection, at most `threads` requests at once (see the module's docstring)."""

    def init_process(self):
        self._cfg = _FrozenConfig(self.cfg)  # what the parser and the WSGI environ read, a request at a time
        self._slots = FifoSlots(max(1, int(self.cfg.threads)))
        # read once: gunicorn's Config looks each attribute up through its settings table
        self._keepalive, self._max_connections = float(self.cfg.keepalive), int(self.cfg.worker_connections)
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()  # one a connection being served
        self._idle: set[socket.socket] = set()  # the connections waiting for their next request
        super().init_process()

    def handle_exit(self, sig, frame):
        self.alive = False

    # -- the main thread: accept, heartbeat --------------------------------------------------------------

    def run(self):
        if "h2" in getattr(self.cfg, "http_protocols", ()):
            self.log.warning("HTTP/2 is not spoken by %s; serving HTTP/1.1", type(self).__name__)
        selector = selectors.DefaultSelector()
        for listener in self.sockets:
            listener.setblocking(False)
            selector.register(listener, selectors.EVENT_READ)
        try:
            while self.alive:
                self.notify()
                if not self._parent_alive():
                    break
                if self._count_open() >= self._max_connections:
                    time.sleep(0.05)  # at the cap: connections close after their response (handle_request)
                    continue
                for key, _ in selector.select(1.0):
                    self._accept(key.fileobj)
        except OSError as e:
            if e.errno not in (errno.EINTR, errno.EBADF):
                raise
        finally:
            selector.close()
            self._stop()

    def _parent_alive(self) -> bool:
        if self.ppid != os.getppid():
            self.log.info("Parent changed, shutting down: %s", self)
            return False
        return True

    def _count_open(self) -> int:
        with self._lock:
            return len(self._threads)

    def _accept(self, listener) -> None:
        try:
            client, addr = listener.accept()
        except OSError as e:  # another worker took it, or the client gave up
            if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED):
                return
            raise
        util.close_on_exec(client)
        client.setblocking(True)
        thread = threading.Thread(target=self._serve, args=(client, addr, listener.getsockname()),
                                  name="gunicorn-connection", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _stop(self) -> None:
        """Close the connections waiting between requests; wait for the requests in progress."""
        for listener in self.sockets:
            try:
                listener.close()
            except OSError:
                pass
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while True:
            with self._lock:
                for client in self._idle:
                    _shut(client)
                threads = [t for t in self._threads if t.is_alive()]
            if not threads or time.monotonic() >= deadline:
                break
            self.notify()
            threads[0].join(min(0.2, max(0.0, deadline - time.monotonic())))

    # -- a connection's thread ---------------------------------------------------------------------------

    def _serve(self, client, addr, server) -> None:
        req = None
        try:
            if self._cfg.is_ssl:
                client = sock.ssl_wrap_socket(client, self.cfg)
            timeouts = _Timeouts(client)
            timeouts.send(float(self._cfg.timeout or 0))
            parser = http.get_parser(self._cfg, _Reader(client), addr)
            wait = max(self._keepalive, FIRST_REQUEST_WAIT)
            while self.alive:
                req = self._next_request(parser, client, timeouts, wait)
                if req is None:
                    break
                if _has_body(req):
                    timeouts.receive(BODY_WAIT)
                with self._slots:
                    keep = self.handle_request(req, client, addr, server)
                if not keep or not parser.finish_body(deadline=time.monotonic() + DRAIN_WAIT):
                    break
                wait = self._keepalive
        except (http.errors.NoMoreData, StopIteration) as e:
            self.log.debug("Closing connection. %s", e)
        except (socket.timeout, TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            self.log.debug("Closing an idle connection.")
        except ssl.SSLError as e:
            if e.args and e.args[0] == ssl.SSL_ERROR_EOF:
                self.log.debug("ssl connection closed")
            else:
                self.handle_error(req, client, addr, e)
        except OSError as e:
            if e.errno in _IGNORED_ERRNOS:
                self.log.debug("Ignoring socket error: %s", e)
            elif e.errno == errno.EBADF and not self.alive:
                pass  # closed by the shutdown
            else:
                self.log.exception("Socket error processing request.")
        except Exception as e:
            self.handle_error(req, client, addr, e)
        finally:
            with self._lock:
                self._idle.discard(client)
                self._threads.discard(threading.current_thread())
            util.close_graceful(client)

    def _next_request(self, parser, client, timeouts: "_Timeouts", wait: float):
        """The connection's next request, or None when none comes within `wait` seconds or the worker stops."""
        if wait <= 0:
            return None
        with self._lock:
            if not self.alive:
                return None
            self._idle.add(client)
        try:
            timeouts.receive(wait)
            return next(parser)
        finally:
            with self._lock:
                self._idle.discard(client)

    def handle_request(self, req, client, addr, server) -> bool:
        """Answer one request; whether the connection may carry another."""
        environ: dict = {}
        resp = None
        try:
            self._cfg.pre_request(self, req)
            request_start = datetime.now()
            resp, environ = wsgi.create(req, client, addr, server, self._cfg)
            resp.sock = out = _OneSend(client)
            environ["wsgi.multithread"] = True
            self.nr += 1
            if self.nr >= self.max_requests:
                if self.alive:
                    self.log.info("Autorestarting worker after current request.")
                    self.alive = False
            if not self.alive or not self._keepalive or self._count_open() >= self._max_connections:
                resp.force_close()
            respiter = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(respiter, environ["wsgi.file_wrapper"]):
                    resp.write_file(respiter)
                else:
                    for item in respiter:
                        resp.write(item)
                resp.close()
                out.flush()
            finally:
                self.log.access(resp, req, environ, datetime.now() - request_start)
                if hasattr(respiter, "close"):
                    respiter.close()
            return not resp.should_close()
        except OSError:
            util.reraise(*sys.exc_info())
        except (Exception, SystemExit):
            if resp and resp.headers_sent:  # a 500 written now would corrupt the response under way
                self.log.exception("Error handling request")
                raise StopIteration()
            raise
        finally:
            try:
                self._cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")


def _shut(client: socket.socket) -> None:
    try:
        client.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _FrozenConfig:
    """gunicorn's configuration with each attribute read once: its Config looks every attribute up through
    its table of settings, and its parser and WSGI environ read some twenty a request (2-3% of the serving
    process's time on a SPARQL query, measured). A worker's configuration never changes (a reload starts
    new workers)."""

    def __init__(self, cfg):
        self._cfg = cfg

    def __getattr__(self, name: str):
        value = getattr(self._cfg, name)
        setattr(self, name, value)
        return value


class FifoSlots:
    """A counting semaphore that serves its waiters in arrival order: a released slot is handed to the
    longest waiter, never taken by a thread that arrives meanwhile (threading.Semaphore lets such a thread
    through and sends the woken waiter to the back of the queue, which starved some connections: at 16
    connections on 8 slots, a p99 several times the mean)."""

    def __init__(self, n: int):
        self._free = n
        self._lock = threading.Lock()
        self._waiters: "deque[threading.Lock]" = deque()

    def __enter__(self):
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return self
            gate = threading.Lock()
            gate.acquire()
            self._waiters.append(gate)
        gate.acquire()  # released by __exit__ of the slot's holder: the slot is ours
        return self

    def __exit__(self, *exc):
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1
        return False


class _Reader:
    """What gunicorn's parser reads from: the socket's `recv` and nothing else. Given the socket itself,
    the parser sets and restores the socket's timeout around every request (two ioctl calls, each
    releasing the GIL); here timeouts are the kernel's (`_Timeouts`) and the socket stays blocking."""

    __slots__ = ("recv",)

    def __init__(self, client: socket.socket):
        self.recv = client.recv


class _Timeouts:
    """A blocking socket's receive and send time limits, kept by the kernel (SO_RCVTIMEO, SO_SNDTIMEO): a
    read that waits longer fails with EAGAIN. A Python socket timeout would instead make every read a
    poll() and a recv(), two system calls that each release and take back the GIL."""

    __slots__ = ("client", "current")

    def __init__(self, client: socket.socket):
        self.client = client
        self.current: float | None = None
        client.settimeout(None)

    def receive(self, seconds: float) -> None:
        if seconds != self.current:
            self.client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(seconds))
            self.current = seconds

    def send(self, seconds: float) -> None:
        self.client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(seconds))


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("ll", whole, int((seconds - whole) * 1_000_000))


def _has_body(req) -> bool:
    for name, value in req.headers:
        if name == "TRANSFER-ENCODING" or (name == "CONTENT-LENGTH" and value.strip() != "0"):
            return True
    return False


class _OneSend:
    """The socket as a response sees it: the first thing a response sends, its head, is held until the
    first body bytes, and both go in one send (gunicorn sends the head, then each body part: one system
    call, and one GIL hand-over, more a response). Anything else asked of it sends what it holds first."""

    __slots__ = ("client", "held", "fresh")
    JOIN_UP_TO = 256 * 1024  # a larger first part is sent after the head, not copied behind it

    def __init__(self, client: socket.socket):
        self.client = client
        self.held: bytes | None = None
        self.fresh = True

    def sendall(self, data) -> None:
        if self.fresh:
            self.fresh = False
            self.held = bytes(data)
            return
        held, self.held = self.held, None
        if held is None:
            self.client.sendall(data)
        elif len(data) <= self.JOIN_UP_TO:
            self.client.sendall(held + bytes(data))
        else:
            self.client.sendall(held)
            self.client.sendall(data)

    def flush(self) -> None:
        if self.held is not None:
            held, self.held = self.held, None
            self.client.sendall(held)

    def __getattr__(self, name):
        self.flush()
        return getattr(self.client, name)
