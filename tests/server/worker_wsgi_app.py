"""A small WSGI app for the tests of the gunicorn worker (server.gunicorn_worker): run by a real gunicorn
on loopback, it answers as an application under the worker would, slowly, with bodies read or not."""

from __future__ import annotations

import os
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    path, query = environ["PATH_INFO"], parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/sleep":  # a request that takes its time: holds one of the worker's slots
        time.sleep(float(query.get("s", ["0.5"])[0]))
        return _ok(start_response, b"slept")
    if path == "/echo":  # the request body, read whole (Content-Length or chunked)
        return _ok(start_response, environ["wsgi.input"].read())
    if path == "/ignore":  # answers without reading the body it was sent
        return _ok(start_response, b"ignored")
    if path == "/big":  # a body sent in several parts, the first larger than what is joined to the head
        part = b"x" * int(query.get("n", ["300000"])[0])
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(3 * len(part)))])
        return [part, part, part]
    if path == "/empty":
        start_response("304 Not Modified", [("ETag", '"v1"')])
        return []
    if path == "/pid":
        return _ok(start_response, str(os.getpid()).encode())
    return _ok(start_response, path.encode())


def _ok(start_response, body: bytes):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
