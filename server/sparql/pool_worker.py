"""A query worker process: it opens the checkpoint each job names (read-only, reopened when it changes), runs
the job and sends back its answer (see `pool`); once its in-memory copy of that checkpoint is loaded
(`replica`, KB_QUERY_REPLICA) it answers from the copy. Started as
`python -m server.sparql.pool FD BASE_IRI [REPLICA_QUADS]`."""

from __future__ import annotations

import logging
import os

from .execution import Job, Outcome
from .pool_stream import PREPARE, STOP, _Sender
from .replica import Replica
from .streaming import Cancelled, Failed

log = logging.getLogger("thb-kb.sparql")


def worker_main(conn, base_iri: str, replica_quads: int = 0) -> None:
    """The worker process: open checkpoints read-only, run jobs, send back outcomes."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops the workers
    import importlib

    importlib.import_module("rdflib.plugins.sparql.parser")  # build the grammar before saying ready
    try:  # and the app that renders documents (server.docworkers), so that the first one does not wait for it
        importlib.import_module("server.docworkers").prepare_worker(base_iri)
    except Exception as exc:  # the first document job makes it, or reports what fails
        log.warning("a worker could not prepare for documents: %s", exc)

    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore

    from .execution import execute

    iris = Iris(base_iri)
    replica = Replica(iris, replica_quads)
    store, current = None, None
    conn.send("ready")
    parent = os.getppid()
    while True:
        try:
            if not conn.poll(5.0):
                if os.getppid() != parent:
                    return  # the serving process is gone
                continue
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        if message == STOP:  # for a stream that had already ended
            continue
        if isinstance(message[0], str) and message[0] == PREPARE:  # the pool names the newest checkpoint: copy it into memory meanwhile
            replica.want(message[1])
            continue
        job, path = message
        replica.want(path)
        sender = _Sender(conn)
        try:
            try:
                copy = replica.store_for(path)
                if copy is not None:
                    store, current = copy, None  # the checkpoint on disk is closed: the copy answers
                elif path != current:
                    store = None
                    store = OxigraphStore(iris, path, read_only=True)
                    current = path
            except Exception as exc:  # opening the checkpoint failed
                current = None
                sender(Outcome.error(503, f"the store cannot be read now: {exc}", **{"Retry-After": "5"}))
            else:
                try:
                    if isinstance(job, Job):
                        execute(store, job, _tagged(sender) if current is None else sender)
                    else:  # a job that answers in one message (a document: server.docworkers)
                        answer = job.run_in_worker(store)
                        if current is None and hasattr(answer, "from_copy"):
                            answer.from_copy = True
                        sender(answer)
                except Cancelled:
                    pass
                except Exception as exc:  # a bug: answer (or cut the stream) rather than die
                    try:
                        sender(Failed(f"the query failed: {exc.__class__.__name__}"))
                    except Cancelled:
                        pass
            sender.finish()
        except (EOFError, OSError):
            return


def _tagged(sender):
    """The sender of an answer from the in-memory copy: its Server-Timing says so (`store;desc="memory"`)."""
    def send(message) -> None:
        if isinstance(message, Outcome) and message.status == 200:
            timing = message.headers.get("Server-Timing")
            message.headers["Server-Timing"] = (timing + ", " if timing else "") + 'store;desc="memory"'
        sender(message)
    return send
