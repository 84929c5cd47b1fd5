"""The change feed, `/changes`: every write of the KB, newest first, for harvesters that mirror it.

Each write leaves an import record in the metadata graph (kb.provenance: when, which graphs, replace, merge
or drop, triples added and removed, the validation outcome). The feed is a Linked Data Event Stream
(`ldes:EventStream`, timestamp path `prov:endedAtTime`) whose members are those records, with their
statements; it is paged with Hydra like the other collections, and `?since=<xsd:dateTime>` keeps only the
writes that ended after that moment, so a mirror asks for what is new since its last visit. HTML for
people, RDF in the document formats; validators follow the KB version.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, render_template, request

from kb.namespaces import PREFIXES

from . import negotiation
from .documents import paging_triples
from .http_common import (LRU, abort_with, check_request, ext_state, finish, gzip_bytes, kb_state, kbx,
                          not_acceptable, not_modified, requested_page, serialize)

bp = Blueprint("changes", __name__)
bp.before_request(check_request)

LDES, TREE, HYDRA = "https://w3id.org/ldes#", "https://w3id.org/tree#", "http://www.w3.org/ns/hydra/core#"
PROV, RDF_TYPE, RDFS_LABEL = "http://www.w3.org/ns/prov#", PREFIXES["rdf"] + "type", PREFIXES["rdfs"] + "label"
XSD = PREFIXES["xsd"]


def _since() -> dt.datetime | None:
    value = request.args.get("since")
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        abort_with(400, f"since must be a date and time such as 2024-05-01T12:00:00Z, not {value[:40]!r}.")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _records(store, meta: str, since: dt.datetime | None, page: int, size: int) -> tuple[list[str], int]:
    """The record IRIs of one page, newest first, and how many records there are in all."""
    flt = ""
    if since is not None:
        stamp = since.astimezone(dt.timezone.utc).isoformat()
        flt = f'FILTER(?end > "{stamp}"^^<{XSD}dateTime>)'
    where = f"GRAPH <{meta}> {{ ?rec a <{PROV}Activity> ; <{PROV}endedAtTime> ?end }} {flt}"
    total = next((int(r["n"].value) for r in store.query(f"SELECT (COUNT(DISTINCT ?rec) AS ?n) WHERE {{ {where} }}")), 0)
    rows = store.query(f"SELECT ?rec ?end WHERE {{ {where} }} ORDER BY DESC(?end) ?rec "
                       f"LIMIT {size} OFFSET {(page - 1) * size}")
    return [r["rec"].value for r in rows], total


def _statements(store, meta: str, records: list[str]) -> list[ox.Triple]:
    """What the records say, their hash parts (`#agent`, `#source-1`) included."""
    if not records:
        return []
    values = " ".join(f"<{r}>" for r in records)
    q = (f"SELECT DISTINCT ?s ?p ?o WHERE {{ VALUES ?rec {{ {values} }} GRAPH <{meta}> {{ ?s ?p ?o }} "
         f'FILTER(?s = ?rec || STRSTARTS(STR(?s), CONCAT(STR(?rec), "#"))) }}')
    return [ox.Triple(r["s"], r["p"], r["o"]) for r in store.query(q)]


def _page_url(since: str | None, k: int, absolute_base: str | None = None) -> str:
    params = {"since": since} if since else {}
    if k > 1:
        params["page"] = str(k)
    head = (absolute_base + "changes") if absolute_base else (request.script_root + "/changes")
    return head + (f"?{urlencode(params)}" if params else "")


def _feed_triples(feed: str, records: list[str], statements: list[ox.Triple], total: int, page: int,
                  pages: int, since: str | None, base: str) -> list[ox.Triple]:
    n = ox.NamedNode
    triples = [ox.Triple(n(feed), n(RDF_TYPE), n(LDES + "EventStream")),
               ox.Triple(n(feed), n(RDF_TYPE), n(HYDRA + "Collection")),
               ox.Triple(n(feed), n(RDFS_LABEL), ox.Literal("Changes to the knowledge base", language="en")),
               ox.Triple(n(feed), n(LDES + "timestampPath"), n(PROV + "endedAtTime")),
               ox.Triple(n(feed), n(HYDRA + "totalItems"), ox.Literal(str(total), datatype=n(XSD + "integer")))]
    triples += [ox.Triple(n(feed), n(TREE + "member"), n(r)) for r in records]
    if pages > 1 or since:
        triples += paging_triples(feed, lambda k: _page_url(since, k, base), page, pages)
    return triples + statements


@bp.route("/changes", methods=["GET", "HEAD"])
def changes():
    kb = kbx()
    since = _since()
    since_q = request.args.get("since")
    page = requested_page()
    fmt = negotiation.request_format(request)
    if fmt is None:
        return not_acceptable(lambda f: _page_url(since_q, page))
    version, modified = kb_state()
    etag = f"changes-{version}-{fmt.suffix}-{page}-{since_q or ''}"
    vary = "Accept"
    if not_modified(etag, modified):
        return finish(None, None, fmt, etag=etag, modified=modified, links=[], content_location=None, vary=vary)
    cache: LRU = ext_state()["cache"]
    key = ("changes", version, fmt.name, page, since_q, request.script_root)
    hit = cache.get(key)
    if hit is None:
        size = kb.settings["page_size"]
        meta = kb.iris.meta_graph
        records, total = _records(kb.store, meta, since, page, size)
        pages = max(1, -(-total // size))
        if page > pages:
            abort_with(404, f"The change feed has {pages} page(s).")
        statements = _statements(kb.store, meta, records)
        if fmt.is_html:
            body = _html(records, statements, total, page, pages, since_q).encode("utf-8")
        else:
            body = serialize(_feed_triples(kb.iris.base + "changes", records, statements, total, page, pages,
                                           since_q, kb.iris.base), fmt)
        links = [f'<{_page_url(since_q, k)}>; rel="{rel}"'
                 for rel, k in (("first", 1), ("last", pages), ("prev", page - 1), ("next", page + 1)) if 1 <= k <= pages]
        hit = (body, gzip_bytes(body), links)
        cache.put(key, hit)
    body, gz, links = hit
    return finish(body, gz, fmt, etag=etag, modified=modified, links=links, content_location=None, vary=vary)


def _html(records: list[str], statements: list[ox.Triple], total: int, page: int, pages: int,
          since: str | None) -> str:
    imap = ext_state()["imap"]
    by_subject: dict[str, dict[str, list]] = {}
    for t in statements:
        by_subject.setdefault(t.subject.value, {}).setdefault(t.predicate.value, []).append(t.object.value)
    thb = kbx().iris.base + "def#"
    rows = []
    for rec in records:
        p = by_subject.get(rec, {})
        one = lambda key: (p.get(key) or [""])[0]  # noqa: E731
        rows.append({
            "href": imap.local_url(rec, request.script_root), "label": one(RDFS_LABEL) or rec,
            "name": "Import " + rec.rsplit("/", 1)[-1],
            "ended": one(PROV + "endedAtTime")[:19].replace("T", " "), "mode": one(thb + "importMode"),
            "graphs": [(g, imap.local_url(g, request.script_root)) for g in sorted(p.get(thb + "targetGraph", []))],
            "added": one(thb + "triplesAdded"), "removed": one(thb + "triplesRemoved"),
            "outcome": one(thb + "validationOutcome"),
        })
    return render_template("changes.html", rows=rows, total=total, page=page, pages=pages, since=since,
                           page_url=lambda k: _page_url(since, k), formats=negotiation.RDF_FORMATS)
