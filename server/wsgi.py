"""gunicorn entry points: `gunicorn 'server.wsgi:app'` or `kb serve --gunicorn`."""

from __future__ import annotations

from typing import Any, Callable

from flask import Flask


def run_gunicorn(app: Flask | Callable[[], Flask], cfg: dict[str, Any]) -> None:
    """Serve with gunicorn. Pass a factory, not an app: the app (and the embedded store) must be created in
    the gunicorn worker, after the fork; a RocksDB handle opened before a fork deadlocks in the child as soon
    as it needs its background threads (flush, checkpoint, compaction)."""
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{cfg['host']}:{cfg['port']}")
            # The embedded store allows one writing process: one worker, threads for concurrency
            # (pyoxigraph releases the GIL while it evaluates, so the threads use every core).
            self.cfg.set("workers", int(cfg["workers"]))
            self.cfg.set("threads", int(cfg["threads"]))
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", int(float(cfg["query_timeout"])) + 30)
            self.cfg.set("limit_request_line", 0)  # long SPARQL queries in GET URLs (the body limit still applies)

        def load(self):
            return app if isinstance(app, Flask) else app()

    _App().run()


def __getattr__(name: str):
    if name == "app":  # created on first access, so importing this module stays cheap
        from . import create_app

        global app
        app = create_app()
        return app
    raise AttributeError(name)
