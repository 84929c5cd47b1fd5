"""The one declarative table of settings.

Each row drives a `KB_*` environment variable, the matching `kb serve` option, the README's configuration
table (``kb settings --markdown``) and a test that checks that all three agree. Layering (Flask's habit):
defaults, then environment variables, then explicit overrides (tests, CLI options).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping


def _bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r} (use true or false)")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    type: Callable[[Any], Any] = str
    secret: bool = False

    @property
    def env(self) -> str:
        return "KB_" + self.name.upper()

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


def _default_store() -> str:
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("thb-kb"), "store")


SETTINGS: tuple[Setting, ...] = (
    Setting("base_iri", "https://w3id.org/thb-kb/", "Canonical base of every IRI the KB mints; independent of where the server listens."),
    Setting("store", None, "Where the KB lives: a folder (embedded Oxigraph on disk), `memory`, or `sparql+http://host:port/path` for a remote SPARQL 1.1 store. Default: a folder under the user's data directory."),
    Setting("sparql_update_url", None, "Remote store only: the SPARQL Update URL (default: the query URL)."),
    Setting("sparql_user", None, "Remote store only: user name for HTTP digest/basic authentication."),
    Setting("sparql_password", None, "Remote store only: password for the remote store.", secret=True),
    Setting("remote_timeout", 30.0, "Remote store only: seconds to wait for the remote store before answering 503.", float),
    Setting("remote_state_ttl", 0.25, "Remote store only: seconds an app server answers with the KB state (version and graphs) it read last before it reads it again; every write through thb-kb returns only after this much (plus 0.05 s), so it is seen by every app server once it has returned. 0: the state is read beside every query.", float),
    Setting("host", "127.0.0.1", "Address `kb serve` listens on."),
    Setting("port", 8080, "Port `kb serve` listens on.", int),
    Setting("workers", 1, "gunicorn worker processes for `kb serve --gunicorn` (the embedded store allows one; use threads).", int),
    Setting("threads", 8, "Threads per worker: queries release the GIL, so threads use every core.", int),
    Setting("gunicorn_worker", "server.gunicorn_worker.ConnectionWorker", "gunicorn worker class for `kb serve --gunicorn`: the project's thread-per-connection worker, or one of gunicorn's (`gthread`; docs/deploy.md compares them)."),
    Setting("write_token", None, "Bearer token that authorises writes (imports, Graph Store PUT/POST/DELETE). Unset: writes are disabled.", secret=True),
    Setting("query_timeout", 30.0, "Maximum seconds a SPARQL query may run; a client may ask for less with `timeout=`.", float),
    Setting("max_rows", 10000, "Maximum rows (or triples) in one SPARQL result; a cut result is flagged, never silent; 0: no cap.", int),
    Setting("sparql_workers", 0, "Processes that evaluate SPARQL queries over the on-disk store (killed and replaced when a query passes its timeout); 0: one per core.", int),
    Setting("doc_workers", True, "Build entity documents in the SPARQL worker processes when one is idle (on-disk store, `kb serve --gunicorn`), so that documents use every core; false: only in the serving process.", _bool),
    Setting("query_memory", 2048, "Maximum memory (MiB) one SPARQL query (or document) may add to its worker process over the on-disk store; a query that needs more is stopped (503). 0: no limit.", int),
    Setting("query_replica", 1_500_000, "On-disk store: each query worker keeps an in-memory copy of the KB while it holds at most this many quads (5-10x faster queries and documents; about 420 bytes of memory per quad in each worker; loaded in the background, again after writes). 0: always read the store on disk.", int),
    Setting("max_body", 10 * 1024 * 1024, "Maximum request body in bytes (413 beyond).", int),
    Setting("max_import", 256 * 1024 * 1024, "Maximum size in bytes of one imported file.", int),
    Setting("jsonld_contexts", None, "Folder of local copies of the JSON-LD contexts that imported or validated JSON-LD may name by IRI, with an index `contexts.json` mapping each context IRI to its file (`{\"https://schema.org/\": \"schemaorg.jsonld\"}`). thb-kb's own context (`{base}context.jsonld`) is always allowed; any other named context is refused, never fetched."),
    Setting("validation_timeout", 120.0, "Maximum seconds the SHACL validation of one import may take (it runs in a worker process that is killed then; 0: no limit, validation runs in-process).", float),
    Setting("write_lock_timeout", 30.0, "Seconds an import waits for the single writer slot before giving up (HTTP 409).", float),
    Setting("rate_limit", 120, "SPARQL requests per minute per client address (0 disables; 429 with Retry-After beyond).", int),
    Setting("cache_mb", 96, "Memory for cached responses, in MiB: two thirds for entity documents, one third for SPARQL answers (0 disables both caches).", int),
    Setting("page_size", 100, "Triples/items per page in entity documents and class indexes.", int),
    Setting("cache_control", "public, max-age=300", "Cache-Control header of documents and dumps."),
    Setting("trust_proxy", 0, "Number of proxies whose X-Forwarded-* headers are honoured (0: none).", int),
    Setting("license", "https://creativecommons.org/licenses/by/4.0/", "Licence IRI of the data, published in documents, VoID and DCAT."),
    Setting("publisher_name", "thb-kb contributors", "Name of the publisher in the dataset metadata."),
    Setting("contact_email", "thb-kb@example.org", "Contact point of the dataset (DCAT-AP)."),
    Setting("dumps_dir", None, "Folder where `/dumps/` files are written, once per KB version (default: a private folder in the system's temporary directory)."),
    Setting("templates_dir", None, "Folder of Jinja templates that replace the server's templates of the same name (base.html, resource.html...): restyle the pages without forking."),
    Setting("log_level", "INFO", "Logging level of the server."),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then KB_* variables, then overrides (keys are setting names; None means 'not given')."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for s in SETTINGS:
        value = s.default
        if s.env in environ and environ[s.env] != "":
            value = environ[s.env]
        if overrides and overrides.get(s.name) is not None:
            value = overrides[s.name]
        if value is not None:
            try:
                value = s.type(value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{s.env}: {exc}") from exc
        values[s.name] = value
    if values["store"] is None:
        values["store"] = _default_store()
    if not values["base_iri"].endswith("/"):
        values["base_iri"] += "/"
    return values


def markdown_table() -> str:
    """The README's configuration table, generated from SETTINGS."""
    lines = ["| Variable | `kb serve` option | Default | Description |", "|---|---|---|---|"]
    for s in SETTINGS:
        default = "" if s.default is None else f"`{s.default}`"
        lines.append(f"| `{s.env}` | `{s.option}` | {default} | {s.help} |")
    return "\n".join(lines)
