"""`kb import` and `kb history`: the command-line face of the import pipeline (kb.importer)."""

from __future__ import annotations

import json
import sys
import time

import click


class _Progress:
    """Progress on stderr: a line per step with the elapsed time (only when stderr is a terminal, or
    always for long imports: every step of an import that runs past two seconds is shown)."""

    def __init__(self, quiet: bool, always: bool = False):
        self.quiet = quiet
        self.start = time.monotonic()
        self.pending: list[str] = []
        self.tty = always or sys.stderr.isatty()

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self.start
        line = f"[{elapsed:6.1f}s] {message}"
        if self.tty or elapsed > 2.0:
            for p in self.pending:
                click.echo(p, err=True)
            self.pending.clear()
            click.echo(line, err=True)
        else:
            self.pending.append(line)


def run(cfg: dict, paths: list[str], *, graph: str | None, mode: str, fmt: str | None, dry_run: bool,
        quiet: bool, always_progress: bool = False) -> int:
    from .importer import ImportFailed, Importer, Source
    from .store import StoreError, open_store

    try:
        store = open_store(cfg)
    except StoreError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 2
    try:
        sources = [Source.from_file(p, fmt, max_bytes=cfg["max_import"]) for p in paths]
        result = Importer(store, cfg).import_sources(sources, graph=graph, mode=mode, dry_run=dry_run,
                                                    progress=_Progress(quiet, always_progress))
    except ImportFailed as exc:
        if exc.report is not None:
            click.echo(exc.report.text())
        click.echo(f"Error: {exc.message}", err=True)
        return exc.exit_code
    finally:
        _close(store)
    if result.report is not None and result.report.results:
        click.echo(result.report.text())
    verb = "Would import" if dry_run else "Imported"
    click.echo(f"{verb} {result.triples} triple(s) into {', '.join(result.graphs)} ({result.mode}): "
               f"+{result.added} -{result.removed}" + ("" if dry_run else f"; record {result.record}"))
    return 0


def _close(store) -> None:
    try:
        store.close()
    except Exception:  # closing is best effort
        pass


def print_history(store, *, graph: str | None, limit: int, as_json: bool) -> None:
    from .provenance import history

    rows = history(store, graph=graph, limit=limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No imports recorded.")
        return
    for r in rows:
        click.echo(f"{r['started']}  {r['mode']:7}  +{r['added']} -{r['removed']}  {r['outcome']}")
        click.echo(f"  record:  {r['record']}")
        click.echo(f"  by:      {r['agent']}")
        for g in r["graphs"]:
            click.echo(f"  graph:   {g}")
        for s in r["sources"]:
            click.echo(f"  source:  {s}")
