"""Streamed SPARQL answers: the body leaves in chunks while the result is read.

One producer evaluates the query and writes the answer; it runs where the pyoxigraph result objects may live
(they are `unsendable`: created, read and dropped in one thread), and sends *messages* to the request thread:

* a whole `Outcome` (an error, or an answer of at most `BUFFER_BYTES`: sent with a Content-Length, cacheable);
* or, for a bigger answer, a head `Outcome` with `streamed=True` (status, content type and the row-cap headers,
  known before the first byte because the cap is applied before writing), then `bytes` chunks, then `END`
  (or a `Failed` when writing broke off mid-way).

The producer is a worker process of `pool.WorkerPool` (the on-disk store) or, for the in-memory and remote
stores, a thread started for the query (`run_in_thread`): the request thread never touches a result object.
The request thread turns the messages into a Flask response whose body is a `Stream`; the WSGI server
closes it when the client is gone, which tells the producer to stop (`Cancelled`) and frees it.

A stream that cannot finish (the timeout passed mid-stream, the worker died) ends by raising `StreamCut` in
the WSGI server: it drops the connection without the final empty chunk, so the client sees a cut transfer
(an incomplete chunked body), never a shorter answer that looks complete.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

BUFFER_BYTES = 1024 * 1024  # answers up to this size are sent whole (and may be cached); bigger ones stream
CHUNK_BYTES = 64 * 1024  # the size of a streamed chunk

END = "end"

log = logging.getLogger("thb-kb.sparql")


class Cancelled(Exception):
    """The reader is gone (the client disconnected): stop writing."""


class StreamCut(Exception):
    """Raised in the WSGI server's loop over the body: the connection is dropped without finishing it."""


class Failed:
    """The message that ends a stream that broke off mid-way (a store error while writing)."""

    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return f"Failed({self.message!r})"


class ChunkWriter:
    """The file-like object pyoxigraph's serialisers write to. Up to `buffer_bytes` it only buffers: a
    small answer ends up whole in `finish()`. Past that, it sends the head, then chunks of `CHUNK_BYTES`
    through `send` (which blocks while the reader is behind: memory stays bounded). `patch_start`, when
    given, rewrites the start of the body once it is long enough (it returns None until then): nothing is
    sent before."""

    def __init__(self, send: Callable[[object], None], head, buffer_bytes: int = BUFFER_BYTES,
                 patch_start: Callable[[bytes], bytes | None] | None = None):
        self._send = send
        self.head = head
        self._limit = max(0, int(buffer_bytes))
        self._patch = patch_start
        self._buffer = bytearray()
        self.streaming = False
        self.cancelled = False
        self.sent = 0

    def write(self, data) -> int:
        if self.cancelled:  # pyoxigraph writes once more (a flush) after a failed write
            raise Cancelled()
        self._buffer += data
        if self._patch is not None:
            patched = self._patch(bytes(self._buffer))
            if patched is None:
                return len(data)
            self._buffer[:] = patched
            self._patch = None
        if not self.streaming:
            if len(self._buffer) <= self._limit:
                return len(data)
            self.streaming = True
            self._deliver(self.head)
        while len(self._buffer) >= CHUNK_BYTES:
            self._emit(CHUNK_BYTES)
        return len(data)

    def flush(self) -> None:
        pass

    def _emit(self, n: int) -> None:
        chunk = bytes(self._buffer[:n])
        del self._buffer[:n]
        self._deliver(chunk)
        self.sent += len(chunk)

    def _deliver(self, message) -> None:
        try:
            self._send(message)
        except Cancelled:
            self.cancelled = True
            raise

    def finish(self) -> bytes | None:
        """End the answer: the whole body when it stayed small (nothing sent yet), else None after the rest
        was sent, followed by END."""
        if self._patch is not None:
            raise ValueError("the start of the answer could not be patched")
        if not self.streaming:
            return bytes(self._buffer)
        while self._buffer:
            self._emit(min(CHUNK_BYTES, len(self._buffer)))
        self._deliver(END)
        return None


class Stream:
    """The body of a streamed response: the chunks read by `receive()` until END. `close()` (called by the
    WSGI server when the body is done or the client is gone, also for HEAD where the body is never read)
    calls `release(finished)` once, which frees the producer."""

    def __init__(self, receive: Callable[[], object], release: Callable[[bool], None]):
        self._receive = receive
        self._release = release
        self._finished = False
        self._closed = False

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self._closed:
            raise StopIteration
        try:
            message = self._receive()
        except StreamCut:
            self.close()
            raise
        if message == END:
            self._finished = True
            self.close()
            raise StopIteration
        if isinstance(message, Failed):
            self.close()
            raise StreamCut(message.message)
        return message

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call `callback` too when the body is closed (after the producer was released)."""
        release = self._release

        def released(finished: bool) -> None:
            try:
                release(finished)
            finally:
                callback()

        self._release = released

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._release(self._finished)

    def __del__(self):  # a body nobody read nor closed still frees its producer
        try:
            self.close()
        except Exception:
            pass


# -- the in-process producer: a thread per query (in-memory and remote stores) --------------------------
QUEUE_CHUNKS = 4  # chunks a producer thread may be ahead of its reader


def run_in_thread(store, job):
    """Run `execution.execute` in a new thread and return its first message (an Outcome); a streamed
    Outcome gets its `stream`. The thread owns the result objects from creation to drop."""
    from .execution import Outcome, execute

    channel: queue.Queue = queue.Queue(maxsize=QUEUE_CHUNKS)
    cancel = threading.Event()

    def send(message) -> None:
        while not cancel.is_set():
            try:
                channel.put(message, timeout=0.5)
                return
            except queue.Full:
                continue
        raise Cancelled()

    def produce() -> None:
        try:
            execute(store, job, send)
        except Cancelled:
            pass
        except BaseException as exc:  # a bug: the request must still get an answer (or a cut stream)
            log.exception("SPARQL query failed")
            try:
                send(Failed(f"the query failed: {exc.__class__.__name__}"))
            except Cancelled:
                pass

    threading.Thread(target=produce, daemon=True, name="thb-kb-sparql-query").start()
    first = channel.get()
    if isinstance(first, Failed):
        return Outcome.error(500, first.message)
    if isinstance(first, Outcome) and first.streamed:
        first.stream = Stream(channel.get, lambda finished: cancel.set())
    return first
