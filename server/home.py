"""The home page (counts, latest events, events per year, entry points) and the health check."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import Blueprint, current_app, jsonify, render_template, request, url_for

from kb.namespaces import SCHEMA, THB
from kb.stats import class_counts
from kb.store import StoreError

from .catalog import KEYWORDS
from .charts import bar_chart
from .iris import IriMap
from .labels import DEFAULT_LANG, best_labels
from .entity_view import json_in_script
from .metadata_common import kb, per_version

bp = Blueprint("home", __name__)

LATEST = 8
CLASS_NAMES = {"Action": "Actions", "Programme": "Programmes", "Convention": "Conventions", "Agency": "Agencies",
               "Event": "Events", "Report": "Reports", "SourceDocument": "Source documents"}
# the class index pages (server/pages.py, `/class/<name>`), linked from the counts when that module is loaded
INDEX_NAMES = {"Action": "action", "Programme": "programme", "Convention": "convention", "Agency": "agency",
               "Event": "event", "Report": "report", "SourceDocument": "document"}


@dataclass
class EventItem:
    iri: str
    path: str | None
    label: str
    start: str


def latest_events(store, base: str, limit: int = LATEST) -> list[EventItem]:
    """The events with the latest start dates, each with its best label (English first)."""
    q = (f"SELECT ?e (MAX(STR(?d)) AS ?start) WHERE {{ ?e a <{THB.Event}> ; <{SCHEMA.startDate}> ?d }} "
         f"GROUP BY ?e ORDER BY DESC(?start) ?e LIMIT {int(limit)}")
    rows = [(row["e"].value, row["start"].value) for row in store.query(q)]
    labels = best_labels(store, [iri for iri, _ in rows], [DEFAULT_LANG])  # the rule of the entity pages
    imap = IriMap(base)
    return [EventItem(iri, imap.local_url(iri), labels.get(iri) or iri.rsplit("/", 1)[-1], start[:10])
            for iri, start in rows]


def events_per_year(store) -> list[tuple[int, int]]:
    q = f"""SELECT ?y (COUNT(DISTINCT ?e) AS ?n) WHERE {{
      {{ SELECT ?e (MIN(STR(?d)) AS ?start) WHERE {{ ?e a <{THB.Event}> ; <{SCHEMA.startDate}> ?d }} GROUP BY ?e }}
      BIND(SUBSTR(?start, 1, 4) AS ?y) FILTER(REGEX(?y, "^[0-9]{{4}}$"))
    }} GROUP BY ?y ORDER BY ?y"""
    return [(int(row["y"].value), int(row["n"].value)) for row in store.query(q)]


def home_data(state) -> dict:
    store, base = state.store, state.iris.base
    counts = class_counts(store)
    return {
        "classes": [{"name": CLASS_NAMES.get(c, c), "count": n, "index": INDEX_NAMES.get(c)}
                    for c, n in counts.items()],
        "triples": store.count(),
        "events": latest_events(store, base),
        "per_year": events_per_year(store),
        "modified": store.last_modified(),
    }


def dataset_jsonld(*, root: str, settings: dict, dataset: str, modified, keywords) -> str:
    """schema.org Dataset markup for the landing page (what Google Dataset Search and other crawlers read),
    safe inside <script>: '<', '>' and '&' are escaped as JSON unicode escapes."""
    from . import dumps

    doc = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "@id": dataset,
        "name": "thb-kb: international cooperation against trafficking in human beings",
        "description": ("Linked Open Data on international cooperation against trafficking in human beings and "
                        "the smuggling of migrants: funded actions, programmes, conventions, agencies, events "
                        "and reports, each with its source."),
        "url": root,
        "license": settings["license"],
        "isAccessibleForFree": True,
        "keywords": list(keywords),
        "inLanguage": "en",
        "dateModified": modified.isoformat(),
        "publisher": {"@type": "Organization", "name": settings["publisher_name"]},
        "creator": {"@type": "Organization", "name": settings["publisher_name"]},
        "distribution": [{"@type": "DataDownload", "contentUrl": root + "dumps/" + d.name,
                          "encodingFormat": d.media_type} for d in dumps.DUMP_FILES],
        "subjectOf": {"@type": "DataCatalog", "url": root + "catalog"},
    }
    return json_in_script(doc)


@bp.get("/")
def home():
    version, data = per_version("home", home_data)
    chart = bar_chart(data["per_year"], title="Events per year")
    has_index = "pages.class_index" in current_app.view_functions
    index_href = {c["index"]: url_for("pages.class_index", name=c["index"])
                  for c in data["classes"] if has_index and c["index"] and c["count"]}
    jsonld = dataset_jsonld(root=request.url_root, settings=kb().settings, dataset=kb().iris.dataset,
                            modified=data["modified"], keywords=KEYWORDS)
    return render_template("home.html", data=data, chart=chart, version=version, base=kb().iris.base,
                           index_href=index_href, dataset_jsonld=jsonld)


COUNT_WAIT = 0.05  # seconds /healthz waits for a count in progress (a small KB's count is there at once)


class TripleCount:
    """The triple count of the store's current version, counted in a background thread: counting is a full
    scan (seconds at millions of triples), and a health check must answer at once, also right after start."""

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._known: tuple[str, int] | None = None  # (version, triples)
        self._running: threading.Thread | None = None

    def get(self, version: str, wait: float = 0.0) -> int | None:
        """The count for `version`, or None while it is being counted (a count starts if none runs)."""
        known = self._known
        if known is not None and known[0] == version:
            return known[1]
        with self._lock:
            thread = self._running
            if thread is None or not thread.is_alive():
                thread = self._running = threading.Thread(target=self._count, name="thb-kb-count", daemon=True)
                thread.start()
        if wait > 0:
            thread.join(wait)
            known = self._known
            if known is not None and known[0] == version:
                return known[1]
        return None

    def _count(self) -> None:
        try:
            version = self.store.version()
            self._known = (version, self.store.count())
        except Exception as exc:  # a background thread: log; the health check reports the store's state itself
            logging.getLogger("thb-kb").warning("counting the triples failed: %s", exc)


def triple_count(state) -> TripleCount:
    counter = current_app.extensions.get("thb-triple-count")
    if counter is None:
        counter = current_app.extensions.setdefault("thb-triple-count", TripleCount(state.store))
    return counter


@bp.get("/healthz")
def healthz():
    """200 with the KB version and size when the store answers; 503 (JSON) when it does not. The size is
    null (and `counting` true) until the background count of the current version is done."""
    state = kb()
    store = state.store
    try:
        store.query("ASK { }")  # a real round trip: the version and counts below may come from caches
        version = store.version()
        modified = store.last_modified()
    except StoreError as exc:  # the store is down (or locked, or timing out): say so, do not crash
        return jsonify(status="unavailable", store=store.describe(), error=str(exc)), 503
    triples = triple_count(state).get(version, wait=COUNT_WAIT)
    resp = jsonify(status="ok", store=store.describe(), version=version, triples=triples,
                   counting=triples is None, last_modified=modified.isoformat())
    resp.headers["Cache-Control"] = "no-store"
    return resp
