"""Progress of long writes: structured steps for the import pipeline, a bar or plain lines for the CLI.

The pipeline (kb.importer, kb.batchcheck) calls its `progress` callback with text messages. Messages that
measure something are `Step`s: still a `str` (the same line as before, so any callback that prints text keeps
working), with `done`, `total` and `what` ("parse", "validate", "write") for callers that draw a bar.
`Reporter` is the CLI's callback: a `click.progressbar` per step on a terminal, plain lines otherwise.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

import click

LABELS = {"parse": "parsing", "validate": "validating", "write": "writing"}


class Step(str):
    """A progress message saying how far a step is: `done` of `total` units of `what`."""

    done: int
    total: int
    what: str

    def __new__(cls, done: int, total: int, what: str, text: str | None = None) -> "Step":
        self = super().__new__(cls, text if text is not None else f"{LABELS.get(what, what)} {done}/{total}")
        self.done, self.total, self.what = done, total, what
        return self


def step(progress: Callable[[str], None] | None, done: int, total: int, what: str, text: str | None = None) -> None:
    if progress is not None:
        progress(Step(done, total, what, text))


class Reporter:
    """The CLI's progress callback, on stderr.

    On a terminal (`tty`), each kind of Step draws a click.progressbar (label, bar, done/total); other
    messages are lines. Otherwise every message is a line: always when `always`, else (kb import) only once
    the write has run past `after` seconds, with the earlier lines caught up. `stamp` prefixes the elapsed
    time. `quiet` shows nothing."""

    def __init__(self, *, quiet: bool = False, always: bool = False, tty: bool | None = None,
                 stamp: bool = True, after: float = 2.0):
        self.quiet = quiet
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.always = always or self.tty
        self.stamp = stamp
        self.after = after
        self.start = time.monotonic()
        self.pending: list[str] = []
        self.bar = None
        self.bar_what: str | None = None

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        if self.tty and isinstance(message, Step) and message.total > 0:
            self._draw(message)
            return
        self._line(str(message))

    def _line(self, message: str) -> None:
        self._end_bar()
        elapsed = time.monotonic() - self.start
        line = f"[{elapsed:6.1f}s] {message}" if self.stamp else message
        if self.always or elapsed > self.after:
            for p in self.pending:
                click.echo(p, err=True)
            self.pending.clear()
            click.echo(line, err=True)
        else:
            self.pending.append(line)

    def _draw(self, s: Step) -> None:
        if self.bar is None or self.bar_what != s.what or self.bar.length != s.total:
            self._end_bar()
            self.bar = click.progressbar(length=s.total, label=LABELS.get(s.what, s.what), show_pos=True,
                                         show_percent=True, file=sys.stderr)
            self.bar.__enter__()
            self.bar_what = s.what
        self.bar.update(max(0, min(s.done, s.total) - self.bar.pos))
        if s.done >= s.total:
            self._end_bar()

    def _end_bar(self) -> None:
        if self.bar is not None:
            bar, self.bar, self.bar_what = self.bar, None, None
            bar.__exit__(None, None, None)

    def close(self) -> None:
        self._end_bar()
