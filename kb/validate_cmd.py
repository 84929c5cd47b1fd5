"""`kb validate`: files and folders against the trusted shapes, with the curated KB as context.

Exit codes follow pySHACL's CLI: 0 conforms, 1 violations (or data that does not parse), 2 could not run.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import rdfio

RDF_SUFFIXES = {e for f in rdfio.FORMATS for e in f.extensions}


def expand(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files += sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in RDF_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return files


def run(paths: list[str], report_format: str = "text") -> int:
    from rdflib import Graph

    from .validation import validate

    try:
        files = expand(paths)
    except FileNotFoundError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 2
    if not files:
        click.echo("Error: no RDF files found in the given paths", err=True)
        return 2
    data = Graph()
    origin: dict = {}
    parse_failed = False
    for f in files:
        try:
            quads = rdfio.read_file(f)
        except (rdfio.ParseError, ValueError) as exc:
            click.echo(f"{f}: ERROR does not parse: {exc}")
            parse_failed = True
            continue
        g = rdfio.triples_to_graph(quads)
        for s in g.subjects():
            origin.setdefault(s, str(f))
        data += g
    try:
        report = validate(data)
    except FileNotFoundError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 2
    for r in report.results:
        r.source = origin.get(r.focus)
    click.echo(report.text())
    if parse_failed or report.fails("violation"):
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
