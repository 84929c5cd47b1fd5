"""`/sparql/queries`: the admin API over the running queries (see server.sparql.running).

* `GET /sparql/queries`: the queries being evaluated now, oldest first, as JSON (`{"queries": [...]}`, each
  with id, state, client, started, elapsed_s, timeout_s, worker_pid, cancellable, query) or as an HTML table
  when HTML is preferred.
* `GET /sparql/queries/{id}`: one of them (404 once it has ended).
* `DELETE /sparql/queries/{id}`: stop it. 200 once its evaluation is stopped, with `answered`: whether its
  client already has its 503 (false for a streamed answer whose client is not reading: the transfer is cut
  at its next read); 404 when there is no such query (it may have just ended), 409 when the store cannot
  stop a running evaluation (the in-memory store).

Every route needs `Authorization: Bearer <KB_WRITE_TOKEN>`: 401 without it, 403 with a wrong token or when
no token is set (the admin API is then off, like writes). Answers are JSON, or text/plain when asked for.
"""

from __future__ import annotations

import json
import time

from flask import Blueprint, Response, render_template, request

from ..http_common import bearer_refusal
from .protocol import endpoint

bp = Blueprint("sparql_queries", __name__)

STOP_WAIT = 2.0  # seconds DELETE waits for the stopped query's client to have its answer


def _answer(status: int, data: dict, **headers: str) -> Response:
    accept = request.accept_mimetypes
    if "message" in data and accept["text/plain"] > accept["application/json"]:
        return Response(data["message"] + "\n", status, headers=headers, content_type="text/plain; charset=utf-8")
    return Response(json.dumps(data, indent=2) + "\n", status, headers=headers, content_type="application/json")


def _refused() -> Response | None:
    """None when the request carries the admin token; else the 401/403 answer."""
    refusal = bearer_refusal(endpoint().settings.get("write_token"))
    if refusal == "disabled":
        return _answer(403, {"error": "admin-disabled",
                             "message": "the admin API is off on this server (no KB_WRITE_TOKEN is set)"})
    if refusal == "missing":
        return _answer(401, {"error": "unauthorized",
                             "message": "the admin API needs an 'Authorization: Bearer <token>' header"},
                       **{"WWW-Authenticate": 'Bearer realm="thb-kb"'})
    if refusal == "wrong":
        return _answer(403, {"error": "forbidden", "message": "the bearer token is not valid here"})
    return None


@bp.route("/sparql/queries", methods=["GET"])
def running_queries():
    refused = _refused()
    if refused is not None:
        return refused
    ep = endpoint()
    now = time.time()
    queries = [t.as_dict(now) for t in ep.running.list()]
    best = request.accept_mimetypes.best_match(["application/json", "text/html"], default="application/json")
    if best == "text/html" and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]:
        response = Response(render_template("queries.html", queries=queries, cancellable=ep.cancellable))
    else:
        response = _answer(200, {"queries": queries, "cancellable": ep.cancellable})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Vary"] = "Accept, Authorization"
    return response


@bp.route("/sparql/queries/<ticket_id>", methods=["GET", "DELETE"])
def running_query(ticket_id: str):
    refused = _refused()
    if refused is not None:
        return refused
    ep = endpoint()
    ticket = ep.running.get(ticket_id)
    if ticket is None:
        return _answer(404, {"error": "not-found",
                             "message": f"no running query has the id {ticket_id!r} (it may have ended)"})
    if request.method == "GET":
        response = _answer(200, ticket.as_dict())
        response.headers["Cache-Control"] = "no-store"
        return response
    if not ticket.cancellable:
        return _answer(409, {"error": "not-cancellable",
                             "message": "queries on an in-memory store cannot be stopped (pyoxigraph cannot "
                                        "interrupt an evaluation there); it ends at its own pace"})
    ticket.cancel()  # the evaluation stops now: the worker was sent SIGKILL, or the connection shut down
    deadline = time.monotonic() + STOP_WAIT
    while ep.running.get(ticket_id) is ticket and time.monotonic() < deadline:
        time.sleep(0.02)
    answered = ep.running.get(ticket_id) is not ticket
    note = "its client got 503" if answered else "its client's answer is cut at its next read"
    return _answer(200, {"id": ticket_id, "stopped": True, "answered": answered,
                         "message": f"query {ticket_id} was stopped; {note}"})
