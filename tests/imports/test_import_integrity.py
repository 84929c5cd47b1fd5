"""Checklist D (T-22 .. T-29, T-25 is test_crash_recovery.py), authentication, provenance and history."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from import_helpers import *  # noqa: F401,F403 - fixtures and helpers

from kb import provenance, rdfio
from kb.importer import Importer, ParseFailed, Source, WriterBusy
from kb.store import open_store

ROOT = Path(__file__).resolve().parents[2]
KB = str(ROOT / ".venv" / "bin" / "kb")
BNODES = b"""@prefix ex: <http://example.org/> .
ex:s ex:p [ ex:q "one" ; ex:r [ ex:v "deep" ] ] ; ex:list ( "a" "b" ) .
[] ex:q "anonymous" .
"""


def turtle(name: str, text: str | bytes) -> Source:
    return Source(name, text if isinstance(text, bytes) else text.encode(), rdfio.format_for("turtle"))


# --- T-22, T-23: refused writes keep everything ------------------------------------------------------

def test_t22_malformed_replace_keeps_the_graph_and_the_dataset(gsp, kbstore):
    before = checksum(kbstore)
    graph_before = quads_of(kbstore, G + "base")
    for url in ("/graphs?graph=" + G + "base", "/graph/base", "/graphs?default"):
        r = gsp.put(url, data=b"<http://example.org/a> <http://example.org/b> <broken", headers={**AUTH, "Content-Type": "text/turtle"})
        assert r.status_code == 400
    assert quads_of(kbstore, G + "base") == graph_before
    assert checksum(kbstore) == before
    # a multi-graph write (what the curated build does to the whole dataset) with one bad source: nothing
    imp = Importer(kbstore, import_settings())
    with pytest.raises(ParseFailed):
        imp.import_sources([turtle("good.ttl", agency_ttl("good")), turtle("bad.ttl", b"<a> <b> <c")])
    assert checksum(kbstore) == before


def test_t23_failure_at_90_percent_adds_nothing(kbstore):
    lines = [f"<http://example.org/s{i}> <http://example.org/p> \"{i}\" ." for i in range(10_000)]
    lines[9_000] = "<http://example.org/s9000> <http://example.org/p> ."
    before = checksum(kbstore)
    with pytest.raises(ParseFailed):
        Importer(kbstore, import_settings()).import_sources([turtle("big.ttl", "\n".join(lines))], graph=G + "big")
    assert checksum(kbstore) == before
    assert not kbstore.has_graph(G + "big")


# --- T-24: blank nodes ------------------------------------------------------------------------------

def test_t24_reimport_with_blank_nodes_replace_and_merge(kbstore):
    imp = Importer(kbstore, import_settings())
    first = imp.import_sources([turtle("b.ttl", BNODES)], graph=G + "bn")
    q1 = quads_of(kbstore, G + "bn")
    assert first.added == len(q1) == 10
    assert not any(isinstance(t.subject, ox.BlankNode) or isinstance(t.object, ox.BlankNode) for t in q1)
    skolems = {t.subject.value for t in q1 if t.subject.value.startswith(BASE + ".well-known/genid/")}
    assert len(skolems) == 5  # the two [ ], the anonymous [], the two list cells
    # the same content with other blank node labels and statement order: the same skolem IRIs
    relabelled = b"""@prefix ex: <http://example.org/> .
_:x9 ex:q "anonymous" .
_:n2 ex:v "deep" .
_:n1 ex:r _:n2 ; ex:q "one" .
ex:s ex:list ( "a" "b" ) ; ex:p _:n1 .
"""
    again = imp.import_sources([turtle("b.ttl", relabelled)], graph=G + "bn", mode="replace")
    assert (again.added, again.removed) == (0, 0)
    assert quads_of(kbstore, G + "bn") == q1
    merged = imp.import_sources([turtle("b.ttl", BNODES)], graph=G + "bn", mode="merge")
    assert merged.added == 0 and quads_of(kbstore, G + "bn") == q1  # merge: no doubling
    # a different file merged into the same graph never shares a skolem IRI with the first one
    other = imp.import_sources([turtle("c.ttl", b'@prefix ex: <http://example.org/> . [] ex:q "one" .')],
                               graph=G + "bn", mode="merge")
    assert other.added == 1
    new = quads_of(kbstore, G + "bn") - q1
    assert {t.subject.value for t in new}.isdisjoint(skolems)


def test_skolem_iris_dereference(gsp, kbstore):
    Importer(kbstore, import_settings()).import_sources([turtle("b.ttl", BNODES)], graph=G + "bn")
    skolem = next(t.object.value for t in kbstore.triples(G + "bn") if t.predicate.value == "http://example.org/p")
    path = "/" + skolem[len(BASE):]
    r = gsp.get(path, headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    triples = list(ox.parse(r.data, ox.RdfFormat.TURTLE))
    assert any(t.subject.value == skolem and t.object == ox.Literal("one") for t in triples)
    assert gsp.get(path, headers={"Accept": "text/html"}).content_type.startswith("text/html")
    assert gsp.get(path, headers={"Accept": "*/*"}).content_type.startswith("text/turtle")
    assert gsp.get(path, headers={"Accept": "application/n-triples"}).content_type.startswith("application/n-triples")
    assert gsp.get(path, headers={"Accept": "image/png"}).status_code == 406
    assert gsp.get("/.well-known/genid/0123abcd").status_code == 404


# --- T-26, T-27: one writer, readers see snapshots ---------------------------------------------------

class SlowImporter(Importer):
    """An importer whose validation takes `delay` seconds longer (holding the writer slot meanwhile)."""

    delay = 2.0

    def write(self, plan, **kw):
        from kb import batchcheck

        original = batchcheck.check_change

        def slow(*a, **k):
            time.sleep(self.delay)
            return original(*a, **k)

        batchcheck.check_change = slow
        try:
            return super().write(plan, **kw)
        finally:
            batchcheck.check_change = original


def test_t26_second_writer_waits_or_gets_409(gsp_app, kbstore):
    errors, done = [], []

    def slow_import():
        try:
            SlowImporter(kbstore, import_settings()).import_sources([turtle("a.ttl", agency_ttl("first"))], graph=G + "x")
            done.append("first")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=slow_import)
    t.start()
    time.sleep(0.5)
    # a writer with a short bound is refused with 409 over HTTP
    app_settings = dict(gsp_app.extensions["kb"].settings, write_lock_timeout=0.1)
    gsp_app.extensions["kb"].settings = app_settings
    r = gsp_app.test_client().put("/graphs?graph=" + G + "x", data=agency_ttl("second").encode(),
                                  headers={**AUTH, "Content-Type": "text/turtle", "Accept": "application/json"})
    assert r.status_code == 409 and r.get_json()["error"] == "busy"
    # a writer with a long bound waits, then runs after the first one: a serial order
    Importer(kbstore, import_settings(write_lock_timeout=10)).import_sources(
        [turtle("b.ttl", agency_ttl("second"))], graph=G + "x")
    t.join(10)
    assert not errors and done == ["first"]
    subjects = {t.subject.value for t in kbstore.triples(G + "x")}
    assert subjects == {BASE + "id/agency/second"}  # replace after replace: the later one wins


def test_t26_import_concurrent_with_drop_is_serialised(kbstore):
    imp = SlowImporter(kbstore, import_settings())
    t = threading.Thread(target=lambda: imp.import_sources([turtle("a.ttl", agency_ttl("dropme"))], graph=G + "d"))
    t.start()
    time.sleep(0.5)
    with pytest.raises(WriterBusy):
        Importer(kbstore, import_settings(write_lock_timeout=0.1)).drop_graph(G + "d")
    Importer(kbstore, import_settings(write_lock_timeout=10)).drop_graph(G + "d")
    t.join(10)
    assert not kbstore.has_graph(G + "d")  # import then drop: the serial order


def test_t27_readers_see_the_previous_state_until_the_commit(kbstore):
    body = "\n".join(agency_ttl(f"bulk-{i}") for i in range(50))
    before = kbstore.count()
    seen = set()
    imp = SlowImporter(kbstore, import_settings())
    t = threading.Thread(target=lambda: imp.import_sources([turtle("bulk.ttl", body)], graph=G + "bulk"))
    t.start()
    while t.is_alive():
        seen.add(kbstore.count())
        time.sleep(0.01)
    t.join()
    after = kbstore.count()
    assert after > before
    assert before in seen
    partial = seen - {before, after}
    # never a partial state on the embedded store. On Virtuoso DefaultIsolation = 4 (scripts/virtuoso.sh)
    # makes it rare, not impossible: at its default, read committed, a count running while the write
    # committed saw part of it in about one run in three; at 4, in about one full-suite run in twenty
    # (docs/deploy.md). That known lapse of the engine is reported as an expected failure, nothing else is.
    message = f"a reader counted {sorted(partial)} triples ({before} before, {after} after)"
    if partial and hasattr(kbstore, "query_answer"):
        pytest.xfail("Virtuoso 7.2 at DefaultIsolation = 4 let a reader see part of a committing write: " + message)
    assert not partial, message


# --- T-28, T-29: processes and backups ----------------------------------------------------------------

def test_t28_second_process_fails_fast_with_a_clear_message(tmp_path):
    store_dir = tmp_path / "store"
    env = dict(os.environ, KB_STORE=str(store_dir), KB_VALIDATION_TIMEOUT="0")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from kb import settings; from kb.store import open_store\n"
                               "s = open_store(settings.load()); print('open', flush=True); time.sleep(30)"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        t0 = time.monotonic()
        proc = subprocess.run([KB, "import", str(DATA / "base.ttl")], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 2
        assert "another process" in proc.stderr
        assert time.monotonic() - t0 < 30  # it did not wait for the holder to finish
    finally:
        holder.kill()
        holder.wait()


def test_t29_restore_backup_then_rerun_gives_the_same_state(tmp_path):
    settings = import_settings(store=str(tmp_path / "live"))
    store = open_store(settings)
    imp = Importer(store, settings)
    imp.import_sources([Source.from_file(DATA / "base.ttl")], graph=G + "base")
    store.raw.backup(str(tmp_path / "backup"))
    src = turtle("new.ttl", agency_ttl("restored") + BNODES.decode())
    imp.import_sources([src], graph=G + "new")
    data_after = {q for q in store.quads() if q.graph_name.value != store.iris.meta_graph}
    store.close()
    restored = open_store(import_settings(store=str(tmp_path / "backup")))
    assert not restored.has_graph(G + "new")
    Importer(restored, settings).import_sources([src], graph=G + "new")
    assert {q for q in restored.quads() if q.graph_name.value != restored.iris.meta_graph} == data_after


# --- authentication -----------------------------------------------------------------------------------

def test_writes_need_the_token(gsp, kbstore):
    before = checksum(kbstore)
    url = "/graphs?graph=" + G + "auth"
    body = agency_ttl("auth").encode()
    r = gsp.put(url, data=body, content_type="text/turtle")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = gsp.put(url, data=body, content_type="text/turtle", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403
    r = gsp.delete("/graphs?graph=" + G + "base", headers={"Authorization": "Basic eDp5"})
    assert r.status_code == 401
    for reserved in ("meta", "ontology", "shapes"):
        r = gsp.put("/graphs?graph=" + G + reserved, data=body, content_type="text/turtle", headers=AUTH)
        assert r.status_code == 403
    assert checksum(kbstore) == before
    assert gsp.get("/graphs?graph=" + G + "base").status_code == 200  # reads are public


def test_writes_disabled_without_a_configured_token(kbstore):
    from server import create_app

    app = create_app(import_settings(write_token=None), store=kbstore, load_if_empty=False)
    r = app.test_client().put("/graphs?graph=" + G + "x", data=b"", content_type="text/turtle", headers=AUTH)
    assert r.status_code == 403 and b"disabled" in r.data


def test_rejection_report_formats(gsp):
    body = (f'<{BASE}id/agency/nameless> a <https://w3id.org/thb-kb/def#Agency> .').encode()
    url = "/graphs?graph=" + G + "bad"
    r = gsp.put(url, data=body, headers={**AUTH, "Content-Type": "text/turtle", "Accept": "application/json"})
    assert r.status_code == 422
    res = r.get_json()["results"]
    assert res and {"focus", "path", "value", "message", "severity", "shape"} <= set(res[0])
    r = gsp.put(url, data=body, headers={**AUTH, "Content-Type": "text/turtle", "Accept": "text/turtle"})
    assert r.status_code == 422 and r.content_type.startswith("text/turtle")
    report = list(ox.parse(r.data, ox.RdfFormat.TURTLE))
    assert any(t.object == ox.NamedNode("http://www.w3.org/ns/shacl#ValidationReport") for t in report)
    r = gsp.put(url, data=body, headers={**AUTH, "Content-Type": "text/turtle", "Accept": "text/plain"})
    assert r.status_code == 422 and b"VIOLATION" in r.data


# --- provenance and history ---------------------------------------------------------------------------

def test_provenance_record_written_with_the_data(gsp, kbstore):
    import hashlib

    body = agency_ttl("recorded").encode()
    v0 = kbstore.version()
    r = gsp.put("/graphs?graph=" + G + "rec", data=body, headers={**AUTH, "Content-Type": "text/turtle"})
    assert r.status_code == 201
    record = r.get_json()["record"]
    assert record.startswith(BASE + "id/import/") and record in r.headers["Link"]
    assert kbstore.version() != v0
    rows = provenance.history(kbstore, graph=G + "rec")
    assert len(rows) == 1
    row = rows[0]
    assert row["record"] == record and row["mode"] == "replace" and row["added"] == 7 and row["removed"] == 0
    assert row["outcome"] == "conforms"
    assert hashlib.sha256(body).hexdigest() in row["sources"][0]
    assert row["agent"].startswith("write token sha256:") and TOKEN not in str(list(kbstore.quads()))
    # a rejected write leaves no record and keeps the version
    v1 = kbstore.version()
    r = gsp.put("/graphs?graph=" + G + "rec", data=b"<broken", headers={**AUTH, "Content-Type": "text/turtle"})
    assert r.status_code == 400 and kbstore.version() == v1
    assert len(provenance.history(kbstore, graph=G + "rec")) == 1
    # a drop is recorded too
    assert gsp.delete("/graphs?graph=" + G + "rec", headers=AUTH).status_code == 204
    rows = provenance.history(kbstore, graph=G + "rec")
    assert rows[0]["mode"] == "drop" and rows[0]["removed"] == 7


def test_graph_list_shows_provenance(gsp, kbstore):
    gsp.put("/graphs?graph=" + G + "listed", data=agency_ttl("listed").encode(),
            headers={**AUTH, "Content-Type": "text/turtle"})
    data = gsp.get("/graphs", headers={"Accept": "application/json"}).get_json()
    row = next(g for g in data["graphs"] if g["graph"] == G + "listed")
    assert row["triples"] == 7 and row["last_import"]["added"] == 7
    html = gsp.get("/graphs", headers={"Accept": "text/html"})
    assert html.status_code == 200 and (G + "listed").encode() in html.data
    ttl = gsp.get("/graphs", headers={"Accept": "text/turtle"})
    triples = list(ox.parse(ttl.data, ox.RdfFormat.TURTLE))
    assert any(t.subject.value == G + "listed" and t.predicate.value.endswith("wasGeneratedBy") for t in triples)
    # a browser asking for one graph gets a page with its imports and links to its RDF
    page = gsp.get("/graphs?graph=" + G + "listed", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 200 and page.content_type.startswith("text/html")
    record = row["last_import"]["record"]
    assert ('href="/' + record[len(BASE):] + '"').encode() in page.data
    assert gsp.get("/graphs?graph=" + G + "listed", headers={"Accept": "application/x-nonsense"}).status_code == 406
    assert gsp.get("/graphs?graph=" + G + "nothing-here").status_code == 404
    head = gsp.head("/graph/listed", headers={"Accept": "application/n-triples"})
    assert head.status_code == 200 and head.content_type.startswith("application/n-triples") and not head.data
    nt = gsp.get("/graphs?graph=" + G + "listed&format=ntriples")
    assert nt.content_type.startswith("application/n-triples") and len(list(ox.parse(nt.data, ox.RdfFormat.N_TRIPLES))) == 7


def test_import_record_dereferences(gsp, gsp_app, kbstore):
    r = gsp.put("/graphs?graph=" + G + "deref", data=agency_ttl("deref").encode(),
                headers={**AUTH, "Content-Type": "text/turtle"})
    record = r.get_json()["record"]
    if "resources" not in gsp_app.blueprints:
        pytest.skip("server/resources.py (the /id/ dereferencer) is not registered yet")
    path = "/" + record[len(BASE):]
    resp = gsp.get(path, headers={"Accept": "text/turtle"}, follow_redirects=True)
    assert resp.status_code == 200, resp.data[:300]
    triples = list(ox.parse(resp.data, ox.RdfFormat.TURTLE))
    assert any(t.subject.value == record and t.object.value == "http://www.w3.org/ns/prov#Activity" for t in triples)


# --- the command line ---------------------------------------------------------------------------------

def test_cli_import_exit_codes_dry_run_and_history(tmp_path):
    env = dict(os.environ, KB_STORE=str(tmp_path / "store"), KB_VALIDATION_TIMEOUT="0")

    def kb(*args):
        return subprocess.run([KB, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    p = kb("import", str(DATA / "base.ttl"), "--dry-run")
    assert p.returncode == 0 and "Would import 18" in p.stdout
    p = kb("history")
    assert "No imports" in p.stdout  # the dry run wrote nothing
    p = kb("import", str(DATA / "base.ttl"), "--graph", G + "cli")
    assert p.returncode == 0 and "+18 -0" in p.stdout
    bad = tmp_path / "bad.ttl"
    bad.write_text(f"<{BASE}id/agency/nameless> a <https://w3id.org/thb-kb/def#Agency> .\n")
    p = kb("import", str(bad), "--graph", G + "cli", "--merge")
    assert p.returncode == 1 and "VIOLATION" in p.stdout and "nothing was written" in p.stderr
    broken = tmp_path / "broken.ttl"
    broken.write_text("<a> <b> .\n")
    p = kb("import", str(broken))
    assert p.returncode == 1 and "line 1" in p.stderr
    p = kb("import", str(tmp_path / "missing.ttl"))
    assert p.returncode != 0 and "Traceback" not in p.stderr
    p = kb("history")
    assert p.returncode == 0 and p.stdout.count("record:") == 1 and G + "cli" in p.stdout


# --- issue 5 Build 2: a new KB version after every write; the curated load goes through the pipeline -----

def test_an_import_changes_the_etags_of_what_it_touches_and_of_the_kb(gsp, kbstore):
    """"a new KB version (ETags change, caches invalidate)": a client's cached entity document and graph
    are not 'Not Modified' after an import."""
    doc = "/doc/agency/europol"
    graph = "/graphs?graph=" + G + "base"
    before = {p: gsp.get(p, headers={"Accept": "text/turtle"}) for p in (doc, graph)}
    for p, r in before.items():
        assert r.status_code == 200 and r.headers.get("ETag"), p
        assert gsp.get(p, headers={"Accept": "text/turtle", "If-None-Match": r.headers["ETag"]}).status_code == 304
    r = gsp.put("/graphs?graph=" + G + "etag", data=agency_ttl("etag").encode(),
                headers={**AUTH, "Content-Type": "text/turtle"})
    assert r.status_code == 201
    for p, old in before.items():
        after = gsp.get(p, headers={"Accept": "text/turtle", "If-None-Match": old.headers["ETag"]})
        assert after.status_code == 200 and after.headers["ETag"] != old.headers["ETag"], p


def test_kb_load_goes_through_the_import_pipeline_with_a_record():
    """The curated load is one more write of the pipeline: validated, one transaction, a provenance record."""
    from kb import curated

    store = open_store(import_settings())
    assert curated.build(store) is None
    rows = provenance.history(store)
    assert len(rows) == 1
    row = rows[0]
    assert row["agent"] == "curated build (kb load)" and row["outcome"] == "conforms" and row["mode"] == "replace"
    assert row["added"] == store.count() - store.count(store.iris.meta_graph)
    assert set(row["graphs"]) == set(store.graphs()) - {store.iris.meta_graph}
    assert len(row["sources"]) >= 3 and all("sha256:" in s for s in row["sources"])
    # the public record names the files as the repository does, never by a local path
    from pathlib import Path

    checkout = str(Path(curated.__file__).resolve().parent.parent)
    dump = "\n".join(str(q) for q in store.quads())
    assert checkout not in dump
    assert any("kb/data/agencies.ttl" in s for s in row["sources"]), row["sources"]
