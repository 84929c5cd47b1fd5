"""/dumps/: every dump round-trips (same triples or quads as the store), gzip files are real gzip served as
application/gzip without Content-Encoding, ETags follow the KB version, 304 on If-None-Match."""

from __future__ import annotations

import gzip
import io
import urllib.request

import pyoxigraph as ox
import pytest
from rdflib import Dataset, Graph

from conftest import BASE, LiveServer

TRIPLE_DUMPS = {"kb.nt.gz": ox.RdfFormat.N_TRIPLES, "kb.ttl": ox.RdfFormat.TURTLE,
                "kb.jsonld": ox.RdfFormat.JSON_LD}


def distinct_triples(store) -> set:
    return {(r["s"], r["p"], r["o"]) for r in store.query("SELECT DISTINCT ?s ?p ?o { GRAPH ?g { ?s ?p ?o } }")}


def body(resp) -> bytes:
    data = resp.get_data()
    return gzip.decompress(data) if resp.mimetype == "application/gzip" else data


@pytest.mark.parametrize("name", list(TRIPLE_DUMPS))
def test_triple_dumps_round_trip(metadata_app, metadata_store, name):
    resp = metadata_app.test_client().get(f"/dumps/{name}")
    assert resp.status_code == 200
    triples = {(t.subject, t.predicate, t.object) for t in ox.parse(body(resp), TRIPLE_DUMPS[name])}
    assert triples == distinct_triples(metadata_store)
    # and rdflib, what many harvesters use, reads the same number of triples
    fmt = {"kb.nt.gz": "nt", "kb.ttl": "turtle", "kb.jsonld": "json-ld"}[name]
    assert len(Graph().parse(data=body(resp), format=fmt)) == len(triples)


def test_nquads_dump_keeps_the_graphs(metadata_app, metadata_store):
    resp = metadata_app.test_client().get("/dumps/kb.nq.gz")
    quads = list(ox.parse(gzip.decompress(resp.get_data()), ox.RdfFormat.N_QUADS))
    assert len(quads) == metadata_store.count()
    assert {q.graph_name.value for q in quads} == set(metadata_store.graphs())
    ds = Dataset().parse(data=gzip.decompress(resp.get_data()), format="nquads")
    assert len(list(ds.quads((None, None, None, None)))) == metadata_store.count()


def test_media_types_and_encoding(metadata_app):
    client = metadata_app.test_client()
    expected = {"kb.nt.gz": "application/gzip", "kb.nq.gz": "application/gzip", "kb.ttl": "text/turtle",
                "kb.jsonld": "application/ld+json"}
    for name, mimetype in expected.items():
        resp = client.get(f"/dumps/{name}")
        assert resp.mimetype == mimetype, name
        assert "Content-Encoding" not in resp.headers, name
        assert int(resp.headers["Content-Length"]) == len(resp.get_data())
        if name.endswith(".gz"):
            assert resp.get_data()[:2] == b"\x1f\x8b"  # the gzip magic number
            gzip.decompress(resp.get_data())  # a complete, valid gzip stream (checks the CRC)
        head = client.head(f"/dumps/{name}")
        assert head.status_code == 200 and head.headers["Content-Length"] == resp.headers["Content-Length"]
    assert client.get("/dumps/kb.rdf").status_code == 404
    assert client.get("/dumps/..%2Fsecret").status_code == 404


def test_etag_follows_the_kb_version(metadata_app, metadata_store):
    client = metadata_app.test_client()
    first = client.get("/dumps/kb.nt.gz")
    etag = first.headers["ETag"]
    assert client.get("/dumps/kb.nt.gz", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/dumps/kb.ttl", headers={"If-None-Match": etag}).status_code == 200
    before = gzip.decompress(first.get_data())
    new = ox.NamedNode(BASE + "id/report/new-report")
    metadata_store.add_to_graph(BASE + "graph/fixture", [
        ox.Triple(new, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), ox.Literal("New", language="en"))])
    after = client.get("/dumps/kb.nt.gz", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    text = gzip.decompress(after.get_data())
    assert b"new-report" in text and b"new-report" not in before
    assert len(list(ox.parse(text, ox.RdfFormat.N_TRIPLES))) == len(distinct_triples(metadata_store))


def test_index_lists_the_dumps(metadata_app):
    client = metadata_app.test_client()
    page = client.get("/dumps/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    for name in ("kb.nt.gz", "kb.nq.gz", "kb.ttl", "kb.jsonld"):
        assert f'href="/dumps/{name}"'.encode() in page.data
    assert client.get("/dumps").status_code in (301, 308)


def test_download_over_real_http(metadata_app, metadata_store):
    """Through a real socket: the file streams with a Content-Length that matches what arrives."""
    server = LiveServer(metadata_app)
    try:
        with urllib.request.urlopen(server.url + "/dumps/kb.nt.gz", timeout=30) as resp:
            data = resp.read()
            assert resp.headers["Content-Type"] == "application/gzip"
            assert int(resp.headers["Content-Length"]) == len(data)
            assert resp.headers.get("Content-Encoding") is None
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            assert len(list(ox.parse(gz.read(), ox.RdfFormat.N_TRIPLES))) == len(distinct_triples(metadata_store))
    finally:
        server.stop()


def test_range_requests_let_a_download_resume(metadata_app):
    client = metadata_app.test_client()
    full = client.get("/dumps/kb.nt.gz").get_data()
    part = client.get("/dumps/kb.nt.gz", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.get_data() == full[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(full)}"


def test_dumps_dir_setting_and_cleanup_of_old_versions(metadata_store, tmp_path):
    import os
    import time

    from conftest import make_settings
    from server import create_app

    app = create_app(make_settings(dumps_dir=str(tmp_path)), store=metadata_store, load_if_empty=False)
    foreign = tmp_path / "not-a-dump-folder"
    foreign.mkdir()
    old = tmp_path / ("0" * 16)  # the folder of an older KB version, written two hours ago
    old.mkdir()
    (old / "kb.ttl").write_text("old")
    two_hours_ago = time.time() - 7200
    for path in (foreign, old):
        os.utime(path, (two_hours_ago, two_hours_ago))
    resp = app.test_client().get("/dumps/kb.ttl")
    assert resp.status_code == 200
    written = list(tmp_path.glob("*/kb.ttl"))
    assert len(written) == 1 and written[0].read_bytes() == resp.get_data()
    assert not old.exists(), "the older version's dumps are removed"
    assert foreign.exists(), "folders that are not ours are left alone"
