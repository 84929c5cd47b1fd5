"""Small loopback TCP servers that misbehave like a broken SPARQL store (fault injection, not mocks)."""

from __future__ import annotations

import socket
import threading
import time

MODES = ("slow", "garbage", "not-http", "cut", "drip")


class LoopbackServer:
    """A TCP server on a free loopback port that hands every connection to `_handle` in a thread of its own."""

    backlog = 16

    def __init__(self):
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(self.backlog)
        self.port = self.sock.getsockname()[1]
        self.closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/sparql") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self):
        while not self.closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket):
        raise NotImplementedError

    def close(self):
        self.closed.set()
        self.sock.close()


class FaultServer(LoopbackServer):
    """Answers every connection according to `mode`:
    slow: reads the request and says nothing for `delay` seconds; garbage: 200 with a SPARQL JSON content
    type and a body that is not JSON; not-http: bytes that are not HTTP, then closes; cut: headers announce
    10,000 bytes, 20 are sent, then the connection closes (the store going away mid-answer); drip: a valid
    start, then one byte every 0.2 s for ever."""

    def __init__(self, mode: str, delay: float = 30.0):
        self.mode, self.delay = mode, delay
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/sparql"  # an attribute here: the fault tests read it as one

    def _handle(self, conn: socket.socket):
        try:
            conn.settimeout(5)
            try:
                conn.recv(65536)
            except OSError:
                pass
            if self.mode == "slow":
                self.closed.wait(self.delay)
            elif self.mode == "garbage":
                body = b"<html>this is { not a SPARQL result"
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            elif self.mode == "not-http":
                conn.sendall(b"\x00\x01 hello, this is not HTTP\r\n\r\n")
            elif self.mode == "cut":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                             b"Content-Length: 10000\r\n\r\n{\"head\": {\"vars\": [")
            elif self.mode == "drip":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                deadline = time.monotonic() + self.delay
                while not self.closed.is_set() and time.monotonic() < deadline:
                    conn.sendall(b"1\r\n \r\n")
                    time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()


class CountingProxy(LoopbackServer):
    """A loopback TCP proxy in front of a real store that counts the connections made through it. With
    `drop_second`, a connection that brings a second request is closed without an answer (a store that
    closed an idle keep-alive connection just as the client reused it); with `delay`, every request waits
    that many seconds before it goes on (a store far away)."""

    backlog = 64

    def __init__(self, target_port: int, drop_second: bool = False, delay: float = 0.0):
        self.target_port, self.drop_second, self.delay = target_port, drop_second, delay
        self.dropped = 0
        super().__init__()

    def _handle(self, client: socket.socket):
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        answered = threading.Event()
        asking = threading.Event()  # a request is on its way (its headers and body may come in two pieces)

        def answers():
            try:
                while data := upstream.recv(65536):
                    asking.clear()  # before the client has the answer and can send its next request
                    answered.set()
                    client.sendall(data)
            except OSError:
                pass
            client.close()

        threading.Thread(target=answers, daemon=True).start()
        try:
            while data := client.recv(65536):
                if self.drop_second and answered.is_set():  # a second request on this connection
                    self.dropped += 1
                    break
                if self.delay and not asking.is_set():  # once per request
                    asking.set()
                    time.sleep(self.delay)
                upstream.sendall(data)
        except OSError:
            pass
        for s in (client, upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class ScriptedServer(LoopbackServer):
    """Reads one request at a time (headers and a Content-Length body) and sends the next of `answers`
    (bytes, exactly); closes the connection when the answer is followed by None, and keeps it open once the
    answers run out. `requests` holds every request as it came."""

    def __init__(self, answers: list[bytes | None]):
        self.answers = list(answers)
        self.requests: list[bytes] = []
        super().__init__()

    def _handle(self, conn: socket.socket):
        buf = b""
        with conn:
            while self.answers:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(buf) < length:
                    buf += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buf[:length])
                buf = buf[length:]
                conn.sendall(self.answers.pop(0))
                if self.answers[:1] == [None]:
                    self.answers.pop(0)
                    return
            conn.recv(1)  # no more answers: the connection stays open until the client lets go
