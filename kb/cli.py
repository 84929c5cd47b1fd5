"""The `kb` command line. Heavy modules are imported inside the commands, so `kb --help` starts fast."""

from __future__ import annotations

import sys

import click

from . import __version__
from . import settings as settings_mod


def _settings(**overrides):
    try:
        return settings_mod.load(overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc))


def _open(cfg, read_only: bool = False):
    from .store import StoreError, open_store

    try:
        store = open_store(cfg, read_only=read_only)
        ctx = click.get_current_context(silent=True)
        if ctx is not None:  # release the store (and its lock) when the command ends
            ctx.call_on_close(store.close)
        return store
    except StoreError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


store_option = click.option("--store", help="Store location (default: KB_STORE, see `kb settings`).")
base_option = click.option("--base-iri", help="Canonical base IRI (default: KB_BASE_IRI).")
contexts_option = click.option("--jsonld-contexts", metavar="FOLDER",
                               help="Local copies of the JSON-LD contexts the input may name by IRI, listed in "
                                    "FOLDER/contexts.json (default: KB_JSONLD_CONTEXTS).")


def _check_contexts(cfg) -> None:
    """A KB_JSONLD_CONTEXTS that cannot be used stops the command before it reads any input (exit 2)."""
    from .jsonld_contexts import ContextConfigError, from_settings

    try:
        from_settings(cfg)
    except ContextConfigError as exc:
        raise click.UsageError(str(exc))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kb")
def cli():
    """thb-kb: the knowledge base of cooperation against trafficking in human beings.

    Everyday use: `kb load` builds the store from the curated data, `kb serve` publishes it.
    """


@cli.command()
@store_option
@base_option
@click.option("--no-validate", is_flag=True, help="Skip SHACL validation (not recommended).")
def load(store, base_iri, no_validate):
    """Build or rebuild the store from the ontology, the shapes and kb/data (validated)."""
    from . import curated
    from .progress import Reporter

    cfg = _settings(store=store, base_iri=base_iri)
    st = _open(cfg)
    progress = Reporter(always=True, stamp=False)  # a bar per step on a terminal, else lines as they come
    try:
        report = curated.build(st, progress=progress, validate=not no_validate)
    finally:
        progress.close()
    if report is not None:
        click.echo(report.text())
        click.echo("Error: the curated data does not conform; the store was left as it was.", err=True)
        sys.exit(1)
    click.echo(f"Loaded {st.count()} triples into {st.describe()} (version {st.version()}).")



@cli.command()
@click.argument("sparql")
@store_option
@base_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "tsv", "turtle", "ntriples"]), default="table")
def query(sparql, store, base_iri, fmt):
    """Run a SPARQL query (text, or @FILE) against the store."""
    from .query_output import print_results

    if sparql.startswith("@"):
        with open(sparql[1:], encoding="utf-8") as fh:
            sparql = fh.read()
    cfg = _settings(store=store, base_iri=base_iri)
    st = _open(cfg, read_only=False)
    try:
        result = st.query(sparql)
    except SyntaxError as exc:
        click.echo(f"Error: SPARQL syntax error: {exc}", err=True)
        sys.exit(1)
    print_results(result, fmt, sys.stdout.buffer)


@cli.command()
@store_option
@base_option
@click.option("--format", "fmt", default="turtle", show_default=True,
              help="turtle, ntriples, nquads, trig, jsonld or rdfxml.")
@click.option("--graph", help="Export only this named graph.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="File to write (default: stdout).")
def export(store, base_iri, fmt, graph, output):
    """Export the knowledge base (or one graph) in an RDF format."""
    from . import rdfio

    try:
        info = rdfio.format_for(fmt)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--format")
    cfg = _settings(store=store, base_iri=base_iri)
    st = _open(cfg)
    out = open(output, "wb") if output else sys.stdout.buffer
    try:
        st.dump(out, info.ox, graph)
    finally:
        if output:
            out.close()


@cli.command()
@store_option
@base_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(store, base_iri, as_json):
    """Counts: triples, graphs, entities per class."""
    import json

    from .stats import kb_stats

    cfg = _settings(store=store, base_iri=base_iri)
    st = _open(cfg)
    data = kb_stats(st)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"store:    {st.describe()}")
    click.echo(f"version:  {data['version']}")
    click.echo(f"triples:  {data['triples']}")
    click.echo(f"graphs:   {data['graphs']}")
    for cls, n in data["classes"].items():
        click.echo(f"  {n:6d}  {cls}")


REPORT_FORMATS = ("text", "turtle", "json", "junit", "github", "sarif")  # kb.reports.FORMATS, without importing it


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS),
              help="Report format [default: from -o's extension, else text].")
@click.option("-o", "--output", metavar="FILE",
              help="Write the report to FILE (.txt, .ttl, .json, .xml = JUnit, .sarif) instead of stdout.")
@click.option("--fail-on", type=click.Choice(["violation", "warning", "info"]), default="violation",
              show_default=True, help="Lowest severity that fails the run (exit 1).")
@click.option("--against", metavar="STORE",
              help="Context: a store folder (opened read-only) or an http(s):// SPARQL endpoint, instead of "
                   "the curated KB shipped with thb-kb.")
@click.option("--context", "context", multiple=True, metavar="PATH",
              help="Also use the RDF files in PATH (file or folder, repeatable) as context, e.g. `--context .` "
                   "for the rest of the repository; they are not validated themselves.")
@click.option("--qc", is_flag=True, help="Also run the ontology quality rules (ontology/checks).")
@click.option("--changed-since", metavar="REF",
              help="Validate only the RDF files changed since the git REF (and untracked ones) under PATHS "
                   "(default .), with the other RDF files as context.")
@click.option("--input-format", help="RDF format of stdin (-) and of files whose extension does not tell.")
@click.option("--sarif", "sarif_out", metavar="FILE", help="Also write a SARIF report to FILE.")
@click.option("--junit", "junit_out", metavar="FILE", help="Also write a JUnit XML report to FILE.")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for an --against SPARQL endpoint.")
@click.option("--engine", type=click.Choice(["sparql", "pyshacl"]), default="sparql", show_default=True,
              help="SHACL engine: the shapes as SPARQL queries on Oxigraph, or pySHACL (the reference).")
@base_option
@contexts_option
def validate(paths, fmt, output, fail_on, against, context, qc, changed_since, input_format, sarif_out, junit_out,
             timeout, engine, base_iri, jsonld_contexts):
    """Validate RDF files or folders (or - for stdin) against the trusted shapes, with the KB as context.

    Exit status: 0 passed, 1 findings at or above --fail-on or unreadable input, 2 could not run.
    """
    if not paths and not changed_since:
        raise click.UsageError("give at least one PATH (a file, a folder, or - for stdin), or --changed-since REF")
    from .validate_cmd import Options, run

    cfg = _settings(base_iri=base_iri, jsonld_contexts=jsonld_contexts)
    _check_contexts(cfg)
    sys.exit(run(Options(paths=list(paths), fmt=fmt, output=output, sarif=sarif_out, junit=junit_out,
                         fail_on=fail_on, against=against, qc=qc, changed_since=changed_since,
                         input_format=input_format, timeout=timeout, base_iri=cfg["base_iri"],
                         context=list(context), jsonld_contexts=cfg["jsonld_contexts"], engine=engine)))


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@store_option
@base_option
@click.option("--graph", help="Target named graph IRI (default: {base}graph/{file name} per file).")
@click.option("--replace", "mode", flag_value="replace", default=True, help="Replace the graph's content (default).")
@click.option("--merge", "mode", flag_value="merge", help="Add to the graph's content.")
@click.option("--format", "fmt", help="RDF format of the files (default: from the extension).")
@click.option("--dry-run", is_flag=True, help="Parse and validate, but write nothing.")
@click.option("--quiet", "-q", is_flag=True, help="No progress messages.")
@click.option("--progress", "always_progress", is_flag=True,
              help="Show every progress message, even when stderr is not a terminal and the import is short.")
@contexts_option
def import_cmd(paths, store, base_iri, graph, mode, fmt, dry_run, quiet, always_progress, jsonld_contexts):
    """Import RDF files: validated, atomic, recorded (exit 0 imported, 1 rejected, 2 could not run)."""
    from .import_cmd import run

    cfg = _settings(store=store, base_iri=base_iri, jsonld_contexts=jsonld_contexts)
    _check_contexts(cfg)
    sys.exit(run(cfg, list(paths), graph=graph, mode=mode, fmt=fmt, dry_run=dry_run, quiet=quiet,
                 always_progress=always_progress))


@cli.command()
@store_option
@base_option
@click.option("--graph", help="Only imports that wrote this graph.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def history(store, base_iri, graph, limit, as_json):
    """Print the import records (provenance), newest first."""
    from .import_cmd import print_history

    cfg = _settings(store=store, base_iri=base_iri)
    print_history(_open(cfg), graph=graph, limit=limit, as_json=as_json)


def _serve_options(func):
    for s in reversed(settings_mod.SETTINGS):
        if s.secret:
            continue
        func = click.option(s.option, s.name, default=None, help=f"{s.help} [env {s.env}]")(func)
    return func


@cli.command()
@_serve_options
@click.option("--get", "get_path", help="Run the app without a socket: print the response to GET PATH and exit.")
@click.option("--accept", default="text/turtle", show_default=True, help="Accept header for --get.")
@click.option("--gunicorn", "use_gunicorn", is_flag=True, help="Serve with gunicorn (production).")
@click.option("--load/--no-load", "load_first", default=True,
              help="Load the curated KB first if the store is empty (default: yes).")
def serve(get_path, accept, use_gunicorn, load_first, **overrides):
    """Publish the KB: Linked Data pages, SPARQL endpoint, dumps and metadata."""
    cfg = _settings(**overrides)
    from server import create_app

    if use_gunicorn and not get_path:
        from server.wsgi import run_gunicorn

        # the app opens the store in the gunicorn worker, after the fork (see run_gunicorn)
        run_gunicorn(lambda: create_app(cfg, load_if_empty=load_first), cfg)
        return
    app = create_app(cfg, load_if_empty=load_first)
    if get_path:
        client = app.test_client()
        resp = client.get(get_path, headers={"Accept": accept})
        sys.stdout.buffer.write(resp.get_data())
        sys.exit(0 if resp.status_code < 400 else 1)
    if use_gunicorn:
        from server.wsgi import run_gunicorn

        run_gunicorn(app, cfg)
        return
    click.echo(f"Serving {cfg['base_iri']} from {app.extensions['kb'].store.describe()} "
               f"on http://{cfg['host']}:{cfg['port']}/", err=True)
    from werkzeug.serving import run_simple

    run_simple(cfg["host"], int(cfg["port"]), app, threaded=True, use_debugger=False, use_reloader=False)


@cli.command("settings")
@click.option("--markdown", is_flag=True, help="Print the README's configuration table.")
def settings_cmd(markdown):
    """List the settings, their KB_* variables and current values."""
    if markdown:
        click.echo(settings_mod.markdown_table())
        return
    cfg = _settings()
    for s in settings_mod.SETTINGS:
        value = "***" if s.secret and cfg[s.name] else cfg[s.name]
        click.echo(f"{s.env:24} {value}")


def main():
    try:
        cli(prog_name="kb")
    except Exception as exc:  # a store that is down or failing: a message and exit 2, never a traceback
        from .store.base import StoreError

        if not isinstance(exc, StoreError):
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
