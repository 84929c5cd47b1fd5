"""Checklist A (T-01 .. T-11): hostile or broken inputs on the import path are refused with a clear 4xx,
no outbound connection or file read happens, and the store is left exactly as it was."""

from __future__ import annotations

import http.client
import resource
import sys
import time

import pytest
from import_helpers import *  # noqa: F401,F403 - fixtures and helpers

from kb.importer import Importer, ParseFailed, Source, TooLarge
from kb import rdfio

GRAPH = G + "base"
URL = "/graphs?graph=" + GRAPH


def put(client, body: bytes, ctype: str, **headers):
    return client.put(URL, data=body, headers={**AUTH, "Content-Type": ctype, **headers})


def unchanged(store, before):
    assert checksum(store) == before, "a refused import changed the store"


# --- T-01, T-02: JSON-LD contexts ------------------------------------------------------------------

def test_t01_remote_jsonld_context_refused_without_connection(gsp, kbstore, listener):
    before = checksum(kbstore)
    for ctx in (f"http://127.0.0.1:{listener.port}/x", "http://169.254.169.254/latest/meta-data/"):
        body = ('{"@context": "%s", "@id": "https://w3id.org/thb-kb/id/agency/x", "name": "x"}' % ctx).encode()
        r = put(gsp, body, "application/ld+json")
        assert r.status_code == 400, r.data
        assert b"context" in r.data
    time.sleep(0.3)
    assert listener.hits == 0
    unchanged(kbstore, before)


_opened: list[str] = []


def _audit(event, args):
    if event == "open" and args and isinstance(args[0], str) and args[0].startswith("/etc/passwd"):
        _opened.append(args[0])


sys.addaudithook(_audit)


def test_t02_file_jsonld_context_and_import_refused_without_open(gsp, kbstore):
    before = checksum(kbstore)
    _opened.clear()
    bodies = [b'{"@context": "file:///etc/passwd", "@id": "urn:x:a", "urn:x:p": "v"}',
              b'{"@context": {"@import": "file:///etc/passwd"}, "@id": "urn:x:a", "urn:x:p": "v"}']
    for body in bodies:
        r = put(gsp, body, "application/ld+json")
        assert r.status_code == 400, r.data
    assert _opened == []
    unchanged(kbstore, before)


# --- T-03, T-04, T-05: XML entities ------------------------------------------------------------------

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
 <!ENTITY a "lollollollollollollollollollol">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
  <rdf:Description rdf:about="http://example.org/a"><ex:p>&h;</ex:p></rdf:Description>
</rdf:RDF>"""


def test_t03_billion_laughs_refused_quickly_without_memory_growth(gsp, kbstore):
    before = checksum(kbstore)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.monotonic()
    r = put(gsp, LAUGHS, "application/rdf+xml")
    elapsed = time.monotonic() - t0
    assert r.status_code == 400
    assert b"DOCTYPE" in r.data
    assert elapsed < 5, "a hang guard: the refusal happens before any expansion"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0 < 50 * 1024  # KiB
    unchanged(kbstore, before)
    assert gsp.get("/graphs?graph=" + GRAPH).status_code == 200  # the app still serves


def test_t04_external_entity_and_dtd_refused(gsp, kbstore, listener):
    before = checksum(kbstore)
    bodies = [
        b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
<rdf:Description rdf:about="http://example.org/a"><ex:p>&x;</ex:p></rdf:Description></rdf:RDF>""",
        (f"""<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:{listener.port}/d.dtd">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
<rdf:Description rdf:about="http://example.org/a"><ex:p>v</ex:p></rdf:Description></rdf:RDF>""").encode(),
    ]
    for body in bodies:
        r = put(gsp, body, "application/rdf+xml")
        assert r.status_code == 400, r.data
    time.sleep(0.3)
    assert listener.hits == 0
    unchanged(kbstore, before)
    hostname = open("/etc/hostname").read().strip() if __import__("os").path.exists("/etc/hostname") else None
    if hostname:
        assert not any(hostname in str(q.object) for q in kbstore.quads())


def test_t05_trix_is_not_an_accepted_format(gsp, kbstore):
    """TriX is not parsed at all (415), so neither T-03 nor T-04 can reach a TriX parser."""
    before = checksum(kbstore)
    body = LAUGHS.replace(b"rdf:RDF", b"TriX")
    for ctype in ("application/trix", "application/trix+xml"):
        r = put(gsp, body, ctype)
        assert r.status_code == 415, r.data
    unchanged(kbstore, before)


# --- T-06, T-07: nesting -----------------------------------------------------------------------------

@pytest.mark.parametrize("opening,closing", [("[ :p ", " ]"), ("( ", " )")])
def test_t06_deeply_nested_turtle_refused(gsp, kbstore, opening, closing):
    before = checksum(kbstore)
    n = 100_000
    body = ("@prefix : <http://example.org/> . :a :p " + opening * n + ":x" + closing * n + " .").encode()
    r = put(gsp, body, "text/turtle")
    assert r.status_code == 400, r.data[:300]
    assert b"nested" in r.data
    unchanged(kbstore, before)
    assert gsp.get("/graphs?graph=" + GRAPH).status_code == 200


def test_t07_deeply_nested_jsonld_refused(gsp, kbstore):
    before = checksum(kbstore)
    n = 10_000
    body = ('{"@id": "urn:x:a", "urn:x:p": ' + '{"urn:x:p": ' * n + '"v"' + "}" * n + "}").encode()
    r = put(gsp, body, "application/ld+json")
    assert r.status_code == 400, r.data[:300]
    unchanged(kbstore, before)


# --- T-08, T-09: sizes -------------------------------------------------------------------------------

def test_t08_body_over_limit_and_chunked_body_get_413(kbstore):
    from server import create_app

    from conftest import LiveServer

    limit = 20_000
    app = create_app(import_settings(max_body=limit), store=kbstore, load_if_empty=False)
    before = checksum(kbstore)
    client = app.test_client()
    body = b"# " + b"x" * (limit - 3) + b"\n"
    assert len(body) == limit
    r = client.put(URL, data=body, headers={**AUTH, "Content-Type": "text/turtle"})
    assert r.status_code in (201, 204), r.data  # exactly at the limit: accepted (an empty graph)
    at_limit = checksum(kbstore)
    r = client.put(URL, data=body + b"#", headers={**AUTH, "Content-Type": "text/turtle"})
    assert r.status_code == 413
    assert checksum(kbstore) == at_limit
    server = LiveServer(app)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.putrequest("PUT", URL)
        conn.putheader("Authorization", AUTH["Authorization"])
        conn.putheader("Content-Type", "text/turtle")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b"# " + b"y" * 4094 + b"\n"
        try:
            for _ in range(10):  # 40 kB, twice the limit, no Content-Length
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close the connection as soon as it answered 413
        resp = conn.getresponse()
        assert resp.status == 413
        conn.close()
    finally:
        server.stop()
    assert checksum(kbstore) == at_limit != before  # only the write at the limit changed the store


def test_t09_multipart_abuse_is_refused_fast(gsp, kbstore):
    before = checksum(kbstore)
    boundary = "b0undary"
    many = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"\r\n\r\nx\r\n" for i in range(100_000))
    many += f"--{boundary}--\r\n"
    big_field = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n" + "a" * 600_000
                 + f"\r\n--{boundary}--\r\n")
    crlf_file = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.ttl\"\r\n"
                 f"Content-Type: text/turtle\r\n\r\n\r\n" + "z" * 3_000_000 + f"\r\n--{boundary}--\r\n")
    for body in (many, big_field, crlf_file):
        t0 = time.process_time()
        r = gsp.post(URL, data=body.encode(), headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert r.status_code in (400, 413), (r.status_code, r.data[:200])
        assert time.process_time() - t0 < 5  # hang guard
    unchanged(kbstore, before)


# --- T-10, T-11: errors and media types ----------------------------------------------------------

def test_t10_syntax_error_reports_line_and_changes_nothing(gsp, kbstore):
    before = checksum(kbstore)
    lines = [f"<http://example.org/s{i}> <http://example.org/p> \"{i}\" ." for i in range(1000)]
    lines[499] = "<http://example.org/s499> <http://example.org/p> \"unterminated ."
    r = gsp.put(URL, data="\n".join(lines).encode(), headers={**AUTH, "Content-Type": "text/turtle",
                                                             "Accept": "application/json"})
    assert r.status_code == 400
    err = r.get_json()
    assert err["error"] == "parse-error"
    assert err["line"] in (500, 501)  # the statement's line (1-based), or the next one where the string ends
    unchanged(kbstore, before)


def test_t11_wrong_unknown_and_non_utf8_media_types(gsp, kbstore):
    before = checksum(kbstore)
    turtle = (DATA / "base.ttl").read_bytes()
    assert put(gsp, turtle, "application/ld+json").status_code == 400        # Turtle labelled JSON-LD
    assert put(gsp, turtle, "application/x-nonsense").status_code == 415     # unknown type
    utf16 = turtle.decode("utf-8").encode("utf-16")
    assert put(gsp, utf16, "text/turtle").status_code == 400                  # UTF-16 body
    assert put(gsp, utf16, "text/turtle; charset=utf-16").status_code == 415  # declared non-UTF-8
    r = gsp.put(URL, data=turtle, headers=AUTH)                               # no Content-Type at all
    assert r.status_code == 400
    unchanged(kbstore, before)


def test_importer_limits_without_http(kbstore):
    """The same refusals on the CLI path (kb.importer directly)."""
    imp = Importer(kbstore, import_settings())
    before = checksum(kbstore)
    with pytest.raises(TooLarge):
        imp.import_sources([Source("big.ttl", b"#" * 101, rdfio.format_for("turtle"))], max_bytes=100)
    with pytest.raises(ParseFailed) as info:
        imp.import_sources([Source("x.ttl", b"<a> <b> .", rdfio.format_for("turtle"))])
    assert info.value.line == 1
    unchanged(kbstore, before)


def test_every_format_the_foundation_reads_imports_the_same_triples(kbstore):
    """Build 2, "safe parse (every format the foundation reads)": the same conformant data as Turtle,
    N-Triples, JSON-LD (inline context), RDF/XML, TriG and N-Quads imports as the same triples."""
    from kb.importer import Importer, Source

    turtle = agency_ttl("every-format").encode()
    reference = {q.triple for q in rdfio.parse_quads(turtle, rdfio.format_for("turtle"))}
    assert len(reference) == 7
    imp = Importer(kbstore, import_settings())
    for info in rdfio.FORMATS:
        if info.quads and info.name != "jsonld":
            body = ox.serialize([ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(G + "ignored"))
                                 for t in reference], format=info.ox)
        else:
            body = ox.serialize(list(reference), format=info.ox)
        graph = G + "format-" + info.name
        result = imp.import_sources([Source(f"data{info.extensions[0]}", body, info)], graph=graph)
        assert result.added == 7, info.name
        assert set(kbstore.triples(graph)) == reference, info.name
