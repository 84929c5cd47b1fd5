"""Entity documents built in the SPARQL worker processes, so that document building uses every core.

The serving process is one gunicorn process (the embedded store allows one writer), and building a document
is Python (queries, closure, labels, serialisation, Jinja): its threads share one GIL, so documents were built
on one core. The worker processes of `server.sparql.pool` already hold an immutable, read-only checkpoint of
the store at the current KB version (a new one after every write): a document job runs there.

* The serving process resolves the path, negotiates the format and answers from its document cache; only a
  document it has not rendered yet becomes a `DocJob` (the `DocRequest` and the app's settings). The worker
  renders it with the same code the serving process would run (`docrender.render_entry`, in a Flask app of its
  own over the checkpoint), and sends back the body (gzipped, as the cache keeps it), the headers and the KB
  version it read: ETags and cache keys come from that version, so they always describe the bytes, and a
  document never mixes two versions (a checkpoint is one committed state; a document built in the serving
  process from the live store is built again when a write landed meanwhile).
* The job goes to an idle worker, waiting at most `DOC_WAIT` seconds for one; a document is never queued
  behind SPARQL queries that wait for a worker (it is then built in the serving process), and never waits
  long: when no worker is free, or the pool has not started, the serving process builds it itself. A
  document asked for while no other `/doc/` request is in progress is built in the serving process too:
  its GIL is free, and the round trip would only add to the client's wait; except while the workers answer
  from their in-memory copies of the KB (`server.sparql.replica`), which build it several times faster than
  the serving process reads its store on disk (`WorkerPool.prefers_workers`).
* A worker that dies while building (killed, crashed) is replaced, and the document is built in the serving
  process: the request is answered, not lost. A document that takes longer than the query timeout, or more
  memory than `KB_QUERY_MEMORY`, is stopped like a query (503 with a message).
* Document workers are used where `server.wsgi.warm_up` started the pool (`kb serve --gunicorn`) and
  `KB_DOC_WORKERS` is on; apps made for tests and `kb serve --get` build in-process unless they call it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from werkzeug.exceptions import ServiceUnavailable

from .docrender import DocRequest, Rendered, render_entry
from .http_common import kb_state, kbx
from .sparql.pool import Stopped

log = logging.getLogger("thb-kb")

DOC_WAIT = 0.1  # seconds a document waits for an idle worker before the serving process builds it
LOCAL_TRIES = 3  # builds of a document in the serving process while writes keep landing (see render_here)
WORKER_LABEL_CACHE = 50_000  # IRIs in a worker's label cache (half the serving process's: two workers, and
# every cached label is objects the garbage collector scans)
ENABLED = "kb.docworkers"  # app.extensions flag set by server.wsgi.warm_up


@dataclass
class DocJob:
    request: DocRequest
    settings: dict[str, Any]
    timeout: float

    def run_in_worker(self, store):
        """In the worker process (`server.sparql.pool_worker.worker_main`): the answer, over its checkpoint."""
        return run_in_worker(store, self)


@dataclass
class DocAnswer:
    rendered: Rendered | None  # None: the KB does not describe the thing, or has no such page
    from_copy: bool = False  # built from the worker's in-memory copy of the KB (server.sparql.replica)


def enable(app: Flask) -> None:
    """Build this app's documents in the SPARQL workers (when its store has them and KB_DOC_WORKERS is on)."""
    app.extensions[ENABLED] = True


def _pool():
    if not current_app.extensions.get(ENABLED) or not kbx().settings.get("doc_workers", True):
        return None
    endpoint = current_app.extensions.get("sparql")
    if endpoint is None or not endpoint.uses_workers:
        return None
    pool = endpoint.pool
    front = current_app.extensions.get("kb.fastpath")
    if front is not None and front.in_flight <= 1 and not pool.prefers_workers():
        return None  # a lone request: here, without the round trip (unless the workers answer from memory)
    return pool


def render(req: DocRequest) -> Rendered | None:
    """The rendered document: by an idle worker when there is one, else here."""
    pool = _pool()
    if pool is not None:
        settings = kbx().settings
        answer = pool.run_doc(DocJob(req, settings, float(settings["query_timeout"])), DOC_WAIT)
        if isinstance(answer, DocAnswer):
            _count("worker")
            return answer.rendered
        if isinstance(answer, Stopped):  # past the timeout or the memory limit (its worker is replaced)
            limit = (f"took longer than {settings['query_timeout']:g} s" if answer.reason == "timeout" else
                     f"needed more than {settings['query_memory']} MiB of memory")
            raise ServiceUnavailable(f"Building this document {limit} and was stopped; try again later.",
                                     retry_after=5)
        if answer is not None:  # the worker failed on it: build it here, where any error is reported
            log.warning("a document worker failed on %s (%s); building it in the serving process",
                        req.path, getattr(answer, "message", answer))
    _count("server")
    return render_here(req)


def render_here(req: DocRequest) -> Rendered | None:
    """The document built in this process, from the live store: its queries each see one committed state,
    but a write may land between two of them. When the KB version changed meanwhile, the document (which
    may hold some of both states) is built again, so that what is served, and cached under a version, is
    that version's."""
    for _ in range(LOCAL_TRIES - 1):
        rendered = render_entry(req)
        if rendered is None or kb_state()[0] == rendered.version:
            return rendered
        log.info("the KB changed while %s was built; building it again", req.path)
    return render_entry(req)


def _count(where: str) -> None:
    metrics = current_app.extensions.get("thb-metrics")
    if metrics is not None:
        metrics["documents"].labels(where).inc()


# -- in the worker process ------------------------------------------------------------------------------
_app: Flask | None = None
_app_settings: dict[str, Any] | None = None


def prepare_worker(base_iri: str) -> None:
    """At the worker's start: its app from the settings of the environment (the serving app's, unless `kb serve`
    options override some: the first job then makes it again with those)."""
    from kb import settings as settings_mod

    settings = settings_mod.load()
    if settings["base_iri"] == base_iri:
        _worker_app(settings)


def _worker_app(settings: dict[str, Any]) -> Flask:
    """The worker's Flask app (made on its first document job, again if the settings differ). It is made
    over an empty in-memory store; each job lends it the checkpoint the worker has open, and takes it back,
    so no older checkpoint stays open once the worker has moved on."""
    global _app, _app_settings
    if _app is None or _app_settings != settings:
        from kb.namespaces import Iris
        from kb.store.oxigraph import OxigraphStore

        from . import create_app
        from .http_common import ext_state
        from .labels import LabelCache
        from .wsgi import freeze_startup_objects

        app = create_app(dict(settings), store=OxigraphStore(Iris(settings["base_iri"])), load_if_empty=False)
        with app.app_context():
            ext_state()["label_cache"] = LabelCache(max_entries=WORKER_LABEL_CACHE)
        _app, _app_settings = app, settings
        freeze_startup_objects()
    return _app


_environs: dict[str, dict] = {}


def _context(app: Flask, req: DocRequest):
    """The context a document is rendered in: the app's, and for HTML (its links are made by `url_for`) a
    request's under the script root of the client's request (its environ is made once per root)."""
    if not req.fmt.is_html:
        return app.app_context()
    environ = _environs.get(req.root)
    if environ is None:
        from werkzeug.test import EnvironBuilder

        environ = _environs[req.root] = EnvironBuilder("/", base_url="http://localhost" + req.root + "/").get_environ()
    return app.request_context(dict(environ))


def run_in_worker(store, job: DocJob):
    """The worker's answer to a document job over `store` (the checkpoint it has open)."""
    from .sparql.streaming import Failed

    try:
        app = _worker_app(job.settings)
        kb = app.extensions["kb"]
        idle_store, kb.store = kb.store, store
        try:
            with _context(app, job.request):
                return DocAnswer(render_entry(job.request))
        finally:
            kb.store = idle_store
    except Exception as exc:  # a bug or a failing store: the serving process builds it and reports the error
        return Failed(f"{exc.__class__.__name__}: {exc}")
