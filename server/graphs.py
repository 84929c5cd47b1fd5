"""The SPARQL 1.1 Graph Store HTTP Protocol, over the import pipeline.

- `/graphs?graph=IRI`, `/graphs?default` (indirect identification) and `/graph/NAME` (direct
  identification of `{base}graph/NAME`): GET/HEAD public, with content negotiation; PUT replaces, POST
  merges, DELETE drops. Writes need `Authorization: Bearer <KB_WRITE_TOKEN>`; with no token configured,
  writes are disabled (403). Every write goes through kb.importer: validated, atomic, recorded.
- `POST /graphs` with no graph creates a new graph `{base}graph/upload-...` (201 + Location).
- `GET /graphs` with no graph lists the graphs with their provenance (HTML, JSON or Turtle).
- `GET /.well-known/genid/HASH` dereferences the skolem IRIs the importer mints for blank nodes.

The protocol's "default graph" is the named graph `{base}graph/default`: the SPARQL default graph of this
KB is the union of all graphs, which no client should replace in one PUT.
"""

from __future__ import annotations

import json

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from kb import rdfio
from kb.importer import ImportFailed, Importer, Source, TooLarge, UnsupportedFormat
from kb.namespaces import PREFIXES
from kb.provenance import history, token_id

from .http_common import bearer_refusal

bp = Blueprint("graphs", __name__)


@bp.record_once
def _prewarm(state) -> None:
    """With writes enabled and a validation timeout, start the validation worker at once (first import fast)."""
    settings = state.app.config.get("KB_SETTINGS") or {}
    if settings.get("write_token") and settings.get("validation_timeout"):
        from kb.shacl_runner import prewarm

        prewarm()

RDF_TYPES = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml",
             "application/trig", "application/n-quads"]
LIST_TYPES = ["text/html", "application/json", "text/turtle"]
ERROR_TYPES = ["text/plain", "application/json", "text/turtle"]


def _kb():
    return current_app.extensions["kb"]


def _accept():
    """The request's Accept header without media type parameters (`text/turtle; charset=utf-8` is a request
    for Turtle, which Werkzeug would not match with the offer `text/turtle`)."""
    from werkzeug.datastructures import MIMEAccept

    return MIMEAccept([(value.split(";")[0].strip(), q) for value, q in request.accept_mimetypes])


def _local(iri: str) -> str:
    """The URL on this server of an IRI under the base (links in pages stay on the server that shows them)."""
    base = _kb().iris.base
    return request.script_root + "/" + iri[len(base):] if iri.startswith(base) else iri


# --- errors and reports ------------------------------------------------------------------------------

def _error(exc: ImportFailed) -> Response:
    mt = _accept().best_match(ERROR_TYPES, default="text/plain")
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="thb-kb"'
    if mt == "application/json":
        body, ctype = json.dumps(exc.as_dict(), indent=2), "application/json"
    elif mt == "text/turtle":
        body, ctype = _report_turtle(exc), "text/turtle; charset=utf-8"
    else:
        body = exc.message + "\n"
        if exc.report is not None:
            body += "\n" + exc.report.text() + "\n"
        ctype = "text/plain; charset=utf-8"
    return Response(body, status=exc.status, content_type=ctype, headers=headers)


def _report_turtle(exc: ImportFailed) -> str:
    from rdflib import BNode, Graph, Literal
    from rdflib.namespace import RDF, RDFS, SH

    if exc.report is not None:
        g = exc.report.graph
    else:
        g = Graph()
        node = BNode()
        g.add((node, RDF.type, SH.ValidationReport))
        g.add((node, SH.conforms, Literal(False)))
        g.add((node, RDFS.comment, Literal(exc.message)))
    g.bind("sh", str(SH))
    return g.serialize(format="turtle")


class _HttpError(ImportFailed):
    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status, self.kind = status, kind


def _authorize() -> str:
    """The agent description of an authorised writer; raises _HttpError (401/403) otherwise."""
    token = _kb().settings.get("write_token")
    refusal = bearer_refusal(token)
    if refusal == "disabled":
        raise _HttpError(403, "writes-disabled", "writes are disabled on this server (no KB_WRITE_TOKEN is set)")
    if refusal == "missing":
        raise _HttpError(401, "unauthorized", "this write needs an 'Authorization: Bearer <token>' header")
    if refusal == "wrong":
        raise _HttpError(403, "forbidden", "the bearer token is not valid for writes")
    return f"write token {token_id(token)} ({request.remote_addr or 'unknown address'})"


# --- graph identification ----------------------------------------------------------------------------

def _indirect_graph() -> str | None:
    if "default" in request.args:
        if "graph" in request.args:
            raise _HttpError(400, "bad-request", "give either ?default or ?graph=IRI, not both")
        return _kb().iris.graph("default")
    names = request.args.getlist("graph")
    if len(names) > 1:
        raise _HttpError(400, "bad-request", "give one ?graph= parameter")
    if not names:
        return None
    try:
        return ox.NamedNode(names[0]).value
    except ValueError:
        raise _HttpError(400, "bad-request", f"not a valid graph IRI: {names[0]!r}") from None


# --- reads -------------------------------------------------------------------------------------------

def _get_graph(graph: str) -> Response:
    store = _kb().store
    if not store.has_graph(graph):
        return Response(f"no graph {graph}\n", status=404, content_type="text/plain; charset=utf-8")
    accept = request.headers.get("Accept")
    forced = request.args.get("format")
    if forced:
        try:
            mt = rdfio.format_for(forced).media_type
        except ValueError as exc:
            return Response(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")
    else:
        mt = _accept().best_match(["text/html"] + RDF_TYPES, default="text/turtle")
        if mt == "text/html" and _accept()["text/html"] > _accept()["text/turtle"]:
            return _graph_page(graph)
        mt = _accept().best_match(RDF_TYPES) if accept else "text/turtle"
    if accept and mt is None:
        return Response("no acceptable RDF format; offered: " + ", ".join(RDF_TYPES) + "\n", status=406,
                        content_type="text/plain; charset=utf-8")
    mt = mt or "text/turtle"
    info = rdfio.format_for(media_type=mt)
    tag = f"{store.version()}-{info.name}"  # one per KB version and representation (Vary: Accept)
    headers = {"Vary": "Accept", "ETag": f'W/"{tag}"'}
    if request.if_none_match.contains_weak(tag):  # the client's copy is current: no body
        return Response(status=304, headers=headers)
    if request.method == "HEAD":
        return Response(b"", status=200, content_type=f"{mt}; charset=utf-8", headers=headers)
    triples = list(store.triples(graph))
    if info.name in ("trig", "nquads"):
        g = ox.NamedNode(graph)
        data = ox.serialize([ox.Quad(t.subject, t.predicate, t.object, g) for t in triples], format=info.ox,
                            **({"prefixes": PREFIXES} if info.name == "trig" else {}))
    else:
        data = ox.serialize(triples, format=info.ox, **({"prefixes": PREFIXES} if info.name == "turtle" else {}))
    return Response(data, status=200, content_type=f"{mt}; charset=utf-8", headers=headers)


def _graph_page(graph: str) -> Response:
    """A browser asking for a graph gets a page about it with links to its RDF (the protocol's GET with
    `format=`), not a download."""
    store = _kb().store
    records = history(store, graph=graph, limit=20)
    formats = [(f.name, f.media_type) for f in rdfio.FORMATS]
    html = render_template("graph.html", local=_local, graph=graph, triples=store.count(graph), records=records, formats=formats)
    return Response(html, content_type="text/html; charset=utf-8", headers={"Vary": "Accept"})


def _graph_list() -> Response:
    kb = _kb()
    store = kb.store
    counts = {}
    for row in store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"):
        if isinstance(row["g"], ox.NamedNode):
            counts[row["g"].value] = int(row["n"].value)
    records = history(store, limit=1000)
    rows = []
    for g in sorted(counts):
        mine = [r for r in records if g in r["graphs"]]
        rows.append({"graph": g, "triples": counts[g], "imports": len(mine), "last_import": mine[0] if mine else None})
    mt = _accept().best_match(LIST_TYPES, default="text/html")
    if mt == "application/json":
        return Response(json.dumps({"graphs": rows}, indent=2), content_type="application/json")
    if mt == "text/turtle":
        return Response(_list_turtle(rows), content_type="text/turtle; charset=utf-8")
    return Response(render_template("graphs.html", rows=rows, local=_local), content_type="text/html; charset=utf-8")


def _list_turtle(rows: list[dict]) -> bytes:
    sd = "http://www.w3.org/ns/sparql-service-description#"
    void = "http://rdfs.org/ns/void#"
    prov = "http://www.w3.org/ns/prov#"
    xsd_int = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
    triples = []
    for r in rows:
        g = ox.NamedNode(r["graph"])
        triples += [ox.Triple(g, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), ox.NamedNode(sd + "NamedGraph")),
                    ox.Triple(g, ox.NamedNode(sd + "name"), g),
                    ox.Triple(g, ox.NamedNode(void + "triples"), ox.Literal(str(r["triples"]), datatype=xsd_int))]
        if r["last_import"]:
            triples.append(ox.Triple(g, ox.NamedNode(prov + "wasGeneratedBy"), ox.NamedNode(r["last_import"]["record"])))
    return ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes={"sd": sd, "void": void, "prov": prov})


# --- writes ------------------------------------------------------------------------------------------

def _sources(name: str) -> list[Source]:
    """The request body as import sources: one RDF body, or the file parts of a multipart/form-data body."""
    kb = _kb()
    limit = kb.settings["max_body"]
    ctype = request.mimetype
    try:
        if ctype == "multipart/form-data":
            parts = []
            for field, storage in request.files.items(multi=True):
                fmt = _format(storage.mimetype or "", storage.mimetype_params.get("charset"), storage.filename)
                parts.append(Source(storage.filename or field, storage.read(limit + 1), fmt))
            if not parts:
                raise _HttpError(400, "bad-request", "the multipart body has no file part")
            return parts
        data = _read_body(limit)
    except RequestEntityTooLarge:
        raise TooLarge(f"the request body is over the limit of {limit} bytes (KB_MAX_BODY)") from None
    if not ctype:
        raise _HttpError(400, "bad-request", "a Content-Type header naming an RDF format is required")
    return [Source(name, data, _format(ctype, request.mimetype_params.get("charset"), None))]


def _read_body(limit: int) -> bytes:
    """The body, at most `limit` bytes, also when it comes chunked with no Content-Length (413 beyond)."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    stream = request.stream
    parts, size = [], 0
    while True:
        block = stream.read(min(65536, limit + 1 - size))
        if not block:
            break
        parts.append(block)
        size += len(block)
        if size > limit:
            raise RequestEntityTooLarge()
    return b"".join(parts)


def _format(ctype: str, charset: str | None, filename: str | None) -> rdfio.RdfFormatInfo:
    if charset and charset.lower().replace("-", "") not in ("utf8", "usascii"):
        raise UnsupportedFormat(f"charset {charset} is not supported: send UTF-8")
    try:
        if ctype in ("", "application/octet-stream") and filename:
            return rdfio.format_for(filename=filename)
        return rdfio.format_for(media_type=ctype)
    except ValueError as exc:
        raise UnsupportedFormat(str(exc)) from None


def _write(graph: str | None, method: str) -> Response:
    kb = _kb()
    agent = _authorize()
    importer = Importer(kb.store, kb.settings)
    created_new = False
    if graph is None:
        if method != "POST":
            raise _HttpError(400, "bad-request", "name the graph: ?graph=IRI or ?default")
        from kb.provenance import new_import_id

        graph = kb.iris.graph("upload-" + new_import_id())
        created_new = True
    if graph in importer.reserved():
        raise _HttpError(403, "reserved-graph", f"{graph} is reserved (metadata, ontology, shapes) and cannot be written")
    if method == "DELETE":
        if not kb.store.has_graph(graph):
            return Response(f"no graph {graph}\n", status=404, content_type="text/plain; charset=utf-8")
        result = importer.drop_graph(graph, agent=agent)
        return _written(result, 204)
    mode = "replace" if method == "PUT" else "merge"
    sources = _sources("HTTP " + method + " body")
    result = importer.import_sources(sources, graph=graph, mode=mode, agent=agent,
                                     max_bytes=kb.settings["max_body"], base_iri=graph)
    if created_new:
        resp = _written(result, 201)
        resp.headers["Location"] = graph
        return resp
    return _written(result, 201 if graph in result.created else 204)


def _written(result, status: int) -> Response:
    headers = {}
    if result.record:
        headers["Link"] = f'<{result.record}>; rel="http://www.w3.org/ns/prov#has_provenance"'
    if status == 204:
        return Response(status=204, headers=headers)
    body = {"graphs": result.graphs, "mode": result.mode, "added": result.added, "removed": result.removed,
            "record": result.record, "version": result.version}
    return Response(json.dumps(body, indent=2), status=status, content_type="application/json", headers=headers)


def _dispatch(graph: str | None) -> Response:
    try:
        if request.method in ("GET", "HEAD"):
            if graph is None:
                return _graph_list()
            return _get_graph(graph)
        return _write(graph, request.method)
    except ImportFailed as exc:
        return _error(exc)


@bp.route("/graphs", methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
def graph_store():
    try:
        graph = _indirect_graph()
    except ImportFailed as exc:
        return _error(exc)
    return _dispatch(graph)


@bp.route("/graph/<path:name>", methods=["GET", "HEAD", "PUT", "POST", "DELETE"])
def graph_direct(name: str):
    try:
        graph = ox.NamedNode(_kb().iris.graph(name)).value
    except ValueError:
        return Response("not a valid graph name\n", status=400, content_type="text/plain; charset=utf-8")
    return _dispatch(graph)


@bp.route("/.well-known/genid/<string:key>", methods=["GET", "HEAD"])
def genid(key: str):
    """Describe a skolem IRI (a blank node of an import): its triples, in the format asked for."""
    kb = _kb()
    if not key.isalnum():
        return Response("not found\n", status=404, content_type="text/plain; charset=utf-8")
    iri = ox.NamedNode(f"{kb.iris.base}.well-known/genid/{key}")
    triples = set()
    for row in kb.store.query(f"SELECT ?p ?o WHERE {{ GRAPH ?g {{ {iri} ?p ?o }} }}"):
        triples.add(ox.Triple(iri, row["p"], row["o"]))
    for row in kb.store.query(f"SELECT ?s ?p WHERE {{ GRAPH ?g {{ ?s ?p {iri} }} }}"):
        triples.add(ox.Triple(row["s"], row["p"], iri))
    if not triples:
        return Response(f"nothing is known about {iri.value}\n", status=404, content_type="text/plain; charset=utf-8")
    accept = _accept()
    if request.headers.get("Accept") and accept["text/html"] > accept["text/turtle"]:
        rows = sorted(triples, key=lambda t: (t.subject != iri, str(t.predicate), str(t.object)))
        return Response(render_template("genid.html", iri=iri.value, rows=rows, local=_local), content_type="text/html; charset=utf-8",
                        headers={"Vary": "Accept"})
    mt = accept.best_match(RDF_TYPES[:4]) if request.headers.get("Accept") else "text/turtle"
    if mt is None:
        return Response("no acceptable format; offered: text/html, " + ", ".join(RDF_TYPES[:4]) + "\n", status=406,
                        content_type="text/plain; charset=utf-8")
    info = rdfio.format_for(media_type=mt)
    data = ox.serialize(sorted(triples, key=str), format=info.ox,
                        **({"prefixes": PREFIXES} if info.name == "turtle" else {}))
    return Response(data, content_type=f"{mt}; charset=utf-8", headers={"Vary": "Accept"})
