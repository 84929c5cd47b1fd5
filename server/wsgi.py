"""gunicorn entry points: `gunicorn 'server.wsgi:app'` or `kb serve --gunicorn`."""

from __future__ import annotations

from typing import Any

from flask import Flask


def run_gunicorn(app: Flask, cfg: dict[str, Any]) -> None:
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

        def load(self):
            return app

    _App().run()


def __getattr__(name: str):
    if name == "app":  # created on first access, so importing this module stays cheap
        from . import create_app

        global app
        app = create_app()
        return app
    raise AttributeError(name)
