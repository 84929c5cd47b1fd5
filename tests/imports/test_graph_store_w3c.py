"""The W3C SPARQL 1.1 Graph Store HTTP Protocol tests, read from ../shared/w3c at test time.

graph-store-protocol/ (manifest-direct.ttl, manifest-indirect.ttl): every entry runs, each on a fresh
empty KB, request by request, through a real HTTP server on loopback. Adaptations, all mechanical:
- the endpoint: `/gsp?...` is our `/graphs?...`; direct identification `/gsp/NAME` is our `/graph/NAME`
  (graph IRI `{base}graph/NAME`: direct identification covers the KB's own graph IRIs);
- writes carry `Authorization: Bearer <token>` (the KB's writes are never anonymous);
- blank nodes are stored as skolem IRIs (`{base}.well-known/genid/...`), so a response graph is compared
  with the expected one after turning skolem IRIs back into blank nodes (RDF 1.1 §3.5 allows exactly this
  replacement), then by graph isomorphism.

http-rdf-update/ (deprecated by the W3C in favour of the above; the requests are Markdown in
rdfs:comment): parsed and run in order on one KB, with `$GRAPHSTORE$` = our endpoint. Expected "200 OK" of a
write is met by any 2xx (the protocol allows 200 or 204). Inapplicable cases are listed in INAPPLICABLE.
"""

from __future__ import annotations

import re
import urllib.request
from urllib.error import HTTPError

import pytest
from import_helpers import *  # noqa: F401,F403 - fixtures and helpers
from rdflib import BNode, Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic

from conftest import SHARED

W3C = SHARED / "w3c" / "sparql" / "sparql11"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
STATUS = {"OK": {200}, "Created": {201}, "NoContent": {204}, "NotFound": {404}, "StatusCode2xx": set(range(200, 300))}
GENID = re.compile(re.escape(BASE + ".well-known/genid/"))

INAPPLICABLE = {
    "post__existing_graph": "its body is not Turtle (the triple lacks the final '.'); the same case with valid "
                            "Turtle is graph-store-protocol's post_get_post_get_*, which runs",
    "get_of_post__existing_graph": "depends on post__existing_graph",
    "post__multipart_formdata": "its parts are not Turtle (no final '.'); covered by post_get_post_get_*",
    "get_of_post__multipart_formdata": "depends on post__multipart_formdata",
}


def _manifest_path():
    if not W3C.is_dir():
        pytest.skip(f"{W3C} is missing")
    return W3C


def _list(g: Graph, node):
    return list(Collection(g, node)) if node is not None else []


def load_gsp_cases():
    if not W3C.is_dir():
        return []
    cases = []
    for name in ("manifest-direct.ttl", "manifest-indirect.ttl"):
        g = Graph().parse(W3C / "graph-store-protocol" / name, format="turtle")
        manifest = next(g.subjects(MF.entries, None))
        for entry in _list(g, g.value(manifest, MF.entries)):
            action = g.value(entry, MF.action)
            requests = []
            for req in _list(g, g.value(action, HT.requests)):
                resp = g.value(req, HT.resp)
                requests.append({
                    "method": str(g.value(req, HT.methodName)),
                    "path": str(g.value(req, HT.absolutePath)),
                    "headers": {str(g.value(h, HT.fieldName)).lower(): str(g.value(h, HT.fieldValue))
                                for h in _list(g, g.value(req, HT.headers))},
                    "body": _body(g, req),
                    "status": set().union(*(STATUS[str(s).rsplit("#", 1)[1]] for s in g.objects(resp, MF.expectedStatus))),
                    "resp_headers": {str(g.value(h, HT.fieldName)).lower(): str(g.value(h, HT.fieldValue))
                                     for h in _list(g, g.value(resp, HT.headers))},
                    "resp_body": _body(g, resp),
                    "location": g.value(resp, MF.expectedLocation),
                })
            cases.append(pytest.param(requests, id=str(entry).rsplit("#", 1)[1]))
    return cases


def _body(g, node):
    body = g.value(node, HT.body)
    return None if body is None else str(g.value(body, CNT.chars))


def _url(server, path: str, location: str | None) -> str:
    if location is not None:
        path = path.replace("$LOCATION$", location)
    if path.startswith("/gsp?"):
        path = "/graphs?" + path[len("/gsp?"):]
    elif path.startswith("/gsp/"):
        path = "/graph/" + path[len("/gsp/"):]
    elif path == "/gsp":
        path = "/graphs"
    return server.url + path


def _send(url, method, headers, body):
    req = urllib.request.Request(url, method=method, headers=headers,
                                 data=None if body is None else body.encode("utf-8"))
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict((k.lower(), v) for k, v in resp.headers.items()), resp.read()
    except HTTPError as err:
        return err.code, dict((k.lower(), v) for k, v in err.headers.items()), err.read()


def deskolemise(g: Graph) -> Graph:
    out = Graph()
    nodes = {}

    def fix(t):
        if isinstance(t, URIRef) and GENID.match(str(t)):
            return nodes.setdefault(str(t), BNode())
        return t

    for s, p, o in g:
        out.add((fix(s), p, fix(o)))
    return out


def same_graph(actual: bytes, expected: str) -> bool:
    got = deskolemise(Graph().parse(data=actual.decode("utf-8"), format="turtle"))
    return isomorphic(got, Graph().parse(data=expected, format="turtle"))


@pytest.fixture()
def empty_server(request, store_kind):
    """A real HTTP server over an empty store: in-memory Oxigraph, or the KB emptied on the scratch Virtuoso."""
    from kb.store import open_store
    from server import create_app

    from conftest import LiveServer

    settings = kind_settings(request, store_kind)
    store = request.getfixturevalue("virtuoso").empty_store() if store_kind == "virtuoso" else open_store(settings)
    app = create_app(settings, store=store, load_if_empty=False)
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.mark.parametrize("requests", load_gsp_cases())
def test_w3c_graph_store_protocol(empty_server, requests):
    _manifest_path()
    location = None
    for i, r in enumerate(requests):
        headers = dict(r["headers"])
        if r["method"] in ("PUT", "POST", "DELETE"):
            headers["Authorization"] = AUTH["Authorization"]
        status, resp_headers, body = _send(_url(empty_server, r["path"], location), r["method"], headers, r["body"])
        assert status in r["status"], (i, r["method"], r["path"], status, body[:300])
        if r["location"] is not None:
            location = resp_headers["location"]
        for name, value in r["resp_headers"].items():
            assert resp_headers.get(name, "").replace(" ", "").lower() == value.replace(" ", "").lower(), (i, name)
        if r["resp_body"] is not None and r["method"] != "HEAD":
            assert same_graph(body, r["resp_body"]), (i, body.decode()[:500])


# --- the deprecated http-rdf-update suite -------------------------------------------------------------

def load_update_cases():
    if not W3C.is_dir():
        return []
    g = Graph().parse(W3C / "http-rdf-update" / "manifest.ttl", format="turtle")
    manifest = next(g.subjects(MF.entries, None))
    out = []
    for entry in _list(g, g.value(manifest, MF.entries)):
        comments = [str(c) for c in g.objects(entry, URIRef("http://www.w3.org/2000/01/rdf-schema#comment"))
                    if "#### Request" in str(c)]
        out.append((str(entry).rsplit("#", 1)[1], comments[0]))
    return out


def _block(text: str) -> tuple[str, dict, str]:
    lines = [line[4:] if line.startswith("    ") else line for line in text.strip("\n").split("\n")]
    first, rest = lines[0].strip(), lines[1:]
    headers, i = {}, 0
    while i < len(rest) and rest[i].strip() and re.match(r"^[A-Za-z-]+: ", rest[i]):
        k, _, v = rest[i].partition(": ")
        headers[k.lower()] = v.strip()
        i += 1
    return first, headers, "\n".join(rest[i:]).strip()


def test_w3c_http_rdf_update_deprecated_suite(empty_server):
    _manifest_path()
    cases = load_update_cases()
    assert len(cases) == 18
    host = "www.example"
    newpath = None
    ran = []

    def subst(s: str) -> str:
        s = s.replace("http://$HOST$/$GRAPHSTORE$/", BASE + "graph/")
        s = s.replace("$HOST$", host)
        if newpath:
            s = s.replace("$NEWPATH$", newpath)
        return s

    for name, comment in cases:
        if name in INAPPLICABLE:
            continue
        req_text, _, resp_text = comment.partition("#### Response")
        req_line, req_headers, req_body = _block(req_text.split("#### Request", 1)[1])
        status_line, resp_headers, resp_body = _block(resp_text)
        method, target, _ = req_line.split(" ")
        target = subst(target)
        if target.startswith("$GRAPHSTORE$?"):
            path = "/graphs?" + target[len("$GRAPHSTORE$?"):]
        elif target.startswith("$GRAPHSTORE$/"):
            path = "/graph/" + target[len("$GRAPHSTORE$/"):]
        elif target == "$GRAPHSTORE$":
            path = "/graphs"
        else:
            path = "/" + target[len(BASE):] if target.startswith(BASE) else target
        headers = {k: subst(v) for k, v in req_headers.items() if k != "host"}
        if method in ("PUT", "POST", "DELETE"):
            headers["Authorization"] = AUTH["Authorization"]
        if name == "delete__existing_graph":
            # the suite deletes person/2.ttl without ever creating it: create it first
            _send(empty_server.url + "/graph/person/2.ttl", "PUT",
                  {"Content-Type": "text/turtle", **AUTH}, "<urn:x:a> <urn:x:b> <urn:x:c> .")
        body = subst(req_body).replace("\n", "\r\n") if "multipart" in headers.get("content-type", "") else subst(req_body)
        status, got_headers, data = _send(empty_server.url + path, method, headers, body or None)
        expected = int(status_line.split(" ")[0])
        if method in ("PUT", "POST", "DELETE") and expected == 200:
            assert 200 <= status < 300, (name, status, data[:300])
        else:
            assert status == expected, (name, status, data[:300])
        if "location" in resp_headers:
            newpath = "/" + got_headers["location"][len(BASE):]
        if method == "GET" and resp_body:
            assert same_graph(data, subst(resp_body)), (name, data.decode()[:400])
        if "content-type" in resp_headers:
            assert got_headers["content-type"].replace(" ", "") == resp_headers["content-type"].replace(" ", "")
        ran.append(name)
    assert len(ran) == 18 - len(INAPPLICABLE)
