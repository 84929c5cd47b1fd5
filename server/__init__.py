"""The thb-kb web server: Flask app factory.

Configuration is layered (Flask's habit): the defaults of the settings table, then `KB_*` environment
variables, then the mapping passed to `create_app` (tests, CLI options).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from flask import Flask

from kb import settings as settings_mod
from kb.namespaces import Iris
from kb.store import Store, open_store

# Each module exposes `bp`, a Blueprint; the order matters only for routes that overlap.
BLUEPRINTS = (
    "server.home",
    "server.void",
    "server.catalog",
    "server.dumps",
    "server.sitemap",
    "server.metrics",
    "server.sparql.protocol",
    "server.sparql.queries",
    "server.resources",
    "server.memento",
    "server.pages",
    "server.vocab",
    "server.graphs",
    "server.changes",
    "server.contexts",
)


@dataclass
class KB:
    """What the request handlers share: settings, the store, the IRIs."""

    settings: dict[str, Any]
    store: Store
    iris: Iris


def _store_is_empty(store: Store) -> bool:
    """True when the store holds no graph; a remote store that is down now counts as not empty: the
    server starts anyway and answers 503 until the store is back (it never loads over it later)."""
    from kb.store import StoreUnavailable

    try:
        return not store.graphs()
    except StoreUnavailable as exc:
        logging.getLogger("thb-kb").warning("the store is unavailable at start (%s); serving 503 until it is back", exc)
        return False


def create_app(config: Mapping[str, Any] | None = None, *, store: Store | None = None,
               load_if_empty: bool = True) -> Flask:
    settings = settings_mod.load(config)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=settings["max_body"],
        JSON_SORT_KEYS=False,
        KB_SETTINGS=settings,
    )
    logging.getLogger("thb-kb").setLevel(settings["log_level"].upper())
    if store is None:
        store = open_store(settings)
    kb = KB(settings=settings, store=store, iris=Iris(settings["base_iri"]))
    app.extensions["kb"] = kb
    if load_if_empty and _store_is_empty(store):
        from kb import curated

        report = curated.build(store)
        if report is not None:
            raise RuntimeError("the curated KB does not conform to the shapes:\n" + report.text())
    from .fastpath import DocFastPath

    app.wsgi_app = DocFastPath(app, app.wsgi_app)  # type: ignore[method-assign]  # cached documents, without Flask
    if settings["trust_proxy"] > 0:  # honour X-Forwarded-For/-Proto/-Host/-Port/-Prefix from that many proxies
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings["trust_proxy"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
    if settings.get("templates_dir"):  # the publisher's templates first, then ours
        import os

        from jinja2 import ChoiceLoader, FileSystemLoader

        if not os.path.isdir(settings["templates_dir"]):
            raise ValueError(f"KB_TEMPLATES_DIR: {settings['templates_dir']} is not a folder of templates")
        app.jinja_loader = ChoiceLoader([FileSystemLoader(settings["templates_dir"]), app.jinja_loader])  # type: ignore[assignment]
    for name in BLUEPRINTS:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
    return app
