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

    cfg = _settings(store=store, base_iri=base_iri)
    st = _open(cfg)
    report = curated.build(st, progress=lambda m: click.echo(m, err=True), validate=not no_validate)
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


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", default=None, help="Report format (text).")
def validate(paths, fmt):
    """Validate RDF files or folders against the trusted shapes (exit 0 conforms, 1 violations, 2 could not run)."""
    from .validate_cmd import run

    sys.exit(run(list(paths), report_format=fmt or "text"))


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
    cli(prog_name="kb")


if __name__ == "__main__":
    main()
