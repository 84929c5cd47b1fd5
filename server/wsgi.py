"""gunicorn entry points: `gunicorn 'server.wsgi:app'` or `kb serve --gunicorn`."""

from __future__ import annotations

import gc
import logging
import threading
from typing import Any, Callable

from flask import Flask

from kb.settings import BY_NAME


def run_gunicorn(app: Flask | Callable[[], Flask], cfg: dict[str, Any]) -> None:
    """Serve with gunicorn. Pass a factory, not an app: the app (and the embedded store) must be created in
    the gunicorn worker, after the fork; a RocksDB handle opened before a fork deadlocks in the child as soon
    as it needs its background threads (flush, checkpoint, compaction)."""
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{cfg['host']}:{cfg['port']}")
            # The embedded store allows one writing process: one worker, threads for concurrency
            # (pyoxigraph releases the GIL while it evaluates, so the threads use every core); a thread
            # per connection rather than gthread's pool (server.gunicorn_worker says why).
            self.cfg.set("workers", int(cfg["workers"]))
            self.cfg.set("threads", int(cfg["threads"]))
            self.cfg.set("worker_class", cfg.get("gunicorn_worker") or BY_NAME["gunicorn_worker"].default)
            self.cfg.set("timeout", int(float(cfg["query_timeout"])) + 30)
            self.cfg.set("limit_request_line", 0)  # long SPARQL queries in GET URLs (the body limit still applies)
            tmp = heartbeat_dir()
            if tmp is not None:
                self.cfg.set("worker_tmp_dir", tmp)

        def load(self):
            served = app if isinstance(app, Flask) else app()
            warm_up(served)
            freeze_startup_objects()
            return served

    _App().run()


def heartbeat_dir() -> str | None:
    """Where gunicorn's worker keeps its heartbeat file: a memory file system when there is one. The gthread
    worker touched that file (`os.utime`) on every turn of its loop, several times a request; on a disk-backed
    /tmp that was 11% of the serving process's CPU at one client (py-spy, 1M bench store), as gunicorn's own
    documentation warns ("use --worker-tmp-dir /dev/shm"). The worker used now touches it once a second;
    a memory file system still keeps it off the disk."""
    import os

    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def freeze_startup_objects() -> None:
    """Move the objects made at start (modules, the app: 100,000 and more) out of the garbage collector's
    reach: a full collection scans every tracked object while it holds the GIL, which stalled every request
    thread for up to a tenth of a second; it now scans only what was made since."""
    gc.collect()
    gc.freeze()


def warm_up(app: Flask) -> None:
    """Start in the background what the first requests would otherwise wait for: the SPARQL query workers
    of the on-disk store and their checkpoint (the app itself starts them lazily, so that apps made for
    tests and one-off `kb serve --get` requests do not start processes), and let them build entity
    documents too (server.docworkers)."""
    endpoint = app.extensions.get("sparql")
    if endpoint is None or not endpoint.uses_workers:
        return
    from . import docworkers

    docworkers.enable(app)  # entity documents are built by the same workers when one is idle

    def start():
        try:
            pool = endpoint.pool  # starts the workers (each in its own thread)
            if pool is not None:
                pool.warm()
        except Exception as exc:  # the first query starts them again and reports what fails
            logging.getLogger("thb-kb.sparql").warning("could not start the SPARQL workers at start: %s", exc)

    threading.Thread(target=start, name="thb-kb-warm-up", daemon=True).start()


def __getattr__(name: str):
    if name == "app":  # created on first access, so importing this module stays cheap
        from . import create_app

        global app
        app = create_app()
        warm_up(app)
        return app
    raise AttributeError(name)
