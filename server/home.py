"""The home page and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template

from kb.stats import kb_stats

bp = Blueprint("home", __name__)


def kb():
    return current_app.extensions["kb"]


@bp.get("/")
def home():
    stats = kb_stats(kb().store)
    return render_template("home.html", stats=stats, base=kb().iris.base)


@bp.get("/healthz")
def healthz():
    store = kb().store
    try:
        version = store.version()
    except Exception as exc:  # the store is down: say so, do not crash
        return jsonify(status="unavailable", error=str(exc)), 503
    return jsonify(status="ok", version=version, store=store.describe())
