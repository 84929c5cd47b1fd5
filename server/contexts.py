"""`/context.jsonld`: thb-kb's own JSON-LD context, so that its IRI `{base}context.jsonld` dereferences.

The body is `ontology/context.jsonld` as it is (`application/ld+json`), with a strong ETag from its content,
`Cache-Control` from the settings and `Access-Control-Allow-Origin: *`: JSON-LD processors in browsers fetch
contexts cross-origin. Imports never fetch it: kb.jsonld_contexts serves the same file to the parser locally.

Registering this blueprint also checks `KB_JSONLD_CONTEXTS` once, so a server whose folder of local copies
cannot be used does not start (with the reason), instead of failing on the first JSON-LD import.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, request
from flask_cors import CORS

from kb import jsonld_contexts

from .http_common import check_request

bp = Blueprint("contexts", __name__)
bp.before_request(check_request)
CORS(bp, origins="*", send_wildcard=True, supports_credentials=False, methods=["GET", "HEAD", "OPTIONS"],
     max_age=86400)


@bp.record_once
def _check(state) -> None:
    settings = state.app.config.get("KB_SETTINGS") or {}
    try:
        jsonld_contexts.from_settings(settings)
    except jsonld_contexts.ContextConfigError as exc:
        raise ValueError(f"the JSON-LD contexts cannot be used: {exc}") from None


@bp.get("/context.jsonld")
def context() -> Response:
    body = jsonld_contexts.OWN_CONTEXT.read_bytes()
    resp = Response(body, content_type="application/ld+json")
    resp.set_etag(hashlib.sha256(body).hexdigest()[:32])
    resp.headers["Cache-Control"] = current_app.config["KB_SETTINGS"]["cache_control"]
    return resp.make_conditional(request)
