"""`kb import` and `kb history`: the command-line face of the import pipeline (kb.importer)."""

from __future__ import annotations

import json

import click


def run(cfg: dict, paths: list[str], *, graph: str | None, mode: str, fmt: str | None, dry_run: bool,
        quiet: bool, always_progress: bool = False) -> int:
    from .importer import ImportFailed, Importer, Source
    from .progress import Reporter
    from .store import StoreError, open_store

    try:
        store = open_store(cfg)
    except StoreError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 2
    # a progress bar on a terminal; off a terminal, lines (all with --progress, else once past two seconds)
    progress = Reporter(quiet=quiet, always=always_progress)
    try:
        sources = [Source.from_file(p, fmt, max_bytes=cfg["max_import"]) for p in paths]
        result = Importer(store, cfg).import_sources(sources, graph=graph, mode=mode, dry_run=dry_run,
                                                    progress=progress)
    except ImportFailed as exc:
        progress.close()
        if exc.report is not None:
            click.echo(exc.report.text())
        click.echo(f"Error: {exc.message}", err=True)
        return exc.exit_code
    finally:
        progress.close()
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
