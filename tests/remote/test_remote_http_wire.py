"""The remote store's own HTTP/1.1 (kb/store/remote_http.py `_Connection`) against a scripted server on
loopback: each test gives the exact bytes the server answers and checks what the pool makes of them (the
body by Content-Length, chunked, or up to the close; folded and repeated headers; informational answers
skipped; keep-alive kept or not), and that every broken answer is `Unreachable` or `Timeout`, never a hang
or a half-read body."""

from __future__ import annotations

import time

import pytest

from faultservers import ScriptedServer
from kb.store.remote_http import Pool, Timeout, Unreachable


def pool_of(server: ScriptedServer) -> Pool:
    return Pool(server.url())


def ask(pool: Pool, body: bytes = b"query=ASK%20%7B%7D", read_timeout: float = 5.0):
    exchange = pool.start("/sparql", body, {"Accept": "application/sparql-results+json",
                                             "Content-Type": "application/x-www-form-urlencoded"}, 2.0, read_timeout)
    return exchange.reply(time.monotonic() + read_timeout)


OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"


def test_the_request_is_one_http11_post_and_the_connection_is_kept():
    server = ScriptedServer([OK, OK])
    try:
        pool = pool_of(server)
        assert ask(pool).content == b"hello"
        reply = ask(pool, b"query=2")
        assert reply.status_code == 200 and reply.content == b"hello"
        assert reply.headers.get("content-type") == reply.headers.get("Content-Type") == "text/plain"
        assert server.connections == 1
        first = server.requests[0]
        assert first.startswith(b"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"\r\nContent-Length: 18\r\n" in first and first.endswith(b"\r\n\r\nquery=ASK%20%7B%7D")
        assert b"\r\nAccept-Encoding: identity\r\n" in first  # no compressed answer it would not decode
    finally:
        server.close()


def test_a_chunked_body_with_extensions_and_trailers():
    answer = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5;name=x\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n")
    server = ScriptedServer([answer, OK])
    try:
        pool = pool_of(server)
        assert ask(pool).content == b"hello world"
        assert ask(pool).content == b"hello"  # the connection is in step for the next answer
        assert server.connections == 1
    finally:
        server.close()


def test_folded_repeated_headers_and_an_informational_answer():
    answer = (b"HTTP/1.1 100 Continue\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\nVary: Accept\r\nvary: Origin\r\nContent-Length: 2\r\n\r\nok")
    server = ScriptedServer([answer])
    try:
        reply = ask(pool_of(server))
        assert reply.status_code == 200 and reply.content == b"ok"
        assert reply.headers.get("X-Long") == "one two" and reply.headers.get("Vary") == "Accept, Origin"
    finally:
        server.close()


@pytest.mark.parametrize("answer,reuse", [
    (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end", False),  # no length: up to the close
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 6\r\n\r\nto end", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nto end", False),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 6\r\n\r\nto end", True),
])
def test_when_the_connection_ends(answer, reuse):
    server = ScriptedServer([answer, None] if not reuse else [answer, OK])
    try:
        pool = pool_of(server)
        assert ask(pool).content in (b"to the end", b"to end")
        assert len(pool._idle) == (1 if reuse else 0)
    finally:
        server.close()


@pytest.mark.parametrize("answer", [
    b"SSH-2.0-OpenSSH_9.2\r\n\r\n",                                              # not HTTP
    b"HTTP/1.1 200 OK\r\nContent-Le",                                          # closed inside the headers
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",                      # ends before its length
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",    # a chunk size that is not hex
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",  # a chunk longer than said
    b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 70000,                       # headers that never end
])
def test_a_broken_answer_is_unreachable(answer):
    server = ScriptedServer([answer, None])
    try:
        pool = pool_of(server)
        with pytest.raises(Unreachable):
            ask(pool)
        assert pool._idle == []  # never reused
    finally:
        server.close()


def test_an_answer_that_stops_coming_times_out():
    server = ScriptedServer([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"])
    try:
        started = time.monotonic()
        with pytest.raises(Timeout):
            ask(pool_of(server), read_timeout=0.5)
        assert time.monotonic() - started < 3
    finally:
        server.close()
