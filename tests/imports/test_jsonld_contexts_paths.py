"""JSON-LD contexts on every path into the KB: the Graph Store protocol (PUT/POST bodies), `kb import` and
`kb validate` accept thb-kb's own context and the publisher's KB_JSONLD_CONTEXTS copies, and refuse any other
named context with a message (400 / exit 1), leaving the store unchanged and connecting nowhere."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner
from import_helpers import AUTH, BASE, DATA, G, agency_ttl, base_store, checksum, import_settings, listener  # noqa: F401
from rdflib.compare import isomorphic

from kb import rdfio
from kb.cli import cli

OWN = BASE + "context.jsonld"
SCHEMA_COPY = {"@vocab": "https://schema.org/"}


def agency_jsonld(slug: str, context="https://w3id.org/thb-kb/context.jsonld") -> bytes:
    """agency_ttl(slug) written as JSON-LD with thb-kb's context."""
    return json.dumps({
        "@context": context, "id": f"{BASE}id/agency/{slug}", "type": "Agency",
        "label": {"en": slug.title()}, "prefLabel": {"en": slug.title()},
        "description": {"en": "An agency for the tests."},
        "classification": f"{BASE}id/concept/agency-type/police",
        "source": f"{BASE}id/document/europol-report-2020",
        "wasDerivedFrom": f"{BASE}id/document/europol-report-2020"}).encode()


def same_triples(got, ttl: str) -> bool:
    want = rdfio.parse_quads(ttl.encode(), rdfio.format_for("turtle"))
    return isomorphic(rdfio.triples_to_graph(got), rdfio.triples_to_graph(want))


@pytest.fixture()
def folder(tmp_path):
    """A KB_JSONLD_CONTEXTS folder with one copy: a schema.org-like context mapped from two IRIs."""
    d = tmp_path / "contexts"
    d.mkdir()
    (d / "schema.jsonld").write_text(json.dumps({"@context": [OWN, SCHEMA_COPY]}))
    (d / "contexts.json").write_text(json.dumps({"https://ctx.test/kb-and-schema.jsonld": "schema.jsonld"}))
    return str(d)


@pytest.fixture()
def store():
    return base_store()


@pytest.fixture()
def client(store, folder):
    from server import create_app

    app = create_app(import_settings(jsonld_contexts=folder), store=store, load_if_empty=False)
    app.testing = True
    return app.test_client()


def put(client, graph: str, body: bytes, method: str = "put", **headers):
    return getattr(client, method)("/graphs?graph=" + graph, data=body,
                                   headers={**AUTH, "Content-Type": "application/ld+json", **headers})


# --- the Graph Store protocol ------------------------------------------------------------------------------

def test_graph_store_accepts_the_own_and_a_configured_context(client, store):
    r = put(client, G + "jl", agency_jsonld("jl"))
    assert r.status_code in (200, 201, 204), r.data
    assert same_triples(store.triples(G + "jl"), agency_ttl("jl"))
    r = put(client, G + "jl2", agency_jsonld("jl2", context="https://ctx.test/kb-and-schema.jsonld"), method="post")
    assert r.status_code in (200, 201, 204), r.data
    assert same_triples(store.triples(G + "jl2"), agency_ttl("jl2"))


def test_graph_store_refuses_unknown_contexts_with_400_and_writes_nothing(client, store, listener):
    before = checksum(store)
    ref = f"http://127.0.0.1:{listener.port}/ctx.jsonld"
    bodies = [agency_jsonld("x", context=ref), agency_jsonld("x", context=[OWN, ref]),
              agency_jsonld("x", context={"@version": 1.1, "@import": ref}),
              agency_jsonld("x", context=[OWN, {"@version": 1.1, "t": {"@id": "http://e.test/t", "@context": ref}}])]
    for body in bodies:
        for method in ("put", "post"):
            r = put(client, G + "base", body, method=method, Accept="application/json")
            assert r.status_code == 400, r.data
            err = r.get_json()
            assert err["error"] == "parse-error" and ref in err["message"] and "KB_JSONLD_CONTEXTS" in err["message"]
    r = put(client, G + "base", agency_jsonld("x", context="file:///etc/passwd"))
    assert r.status_code == 400 and b"file:" in r.data
    time.sleep(0.3)
    assert listener.hits == 0
    assert checksum(store) == before


def test_the_server_does_not_start_with_an_unusable_folder(tmp_path, store):
    from server import create_app

    with pytest.raises(ValueError, match="KB_JSONLD_CONTEXTS=.*no contexts.json"):
        create_app(import_settings(jsonld_contexts=str(tmp_path)), store=store, load_if_empty=False)


# --- kb import -----------------------------------------------------------------------------------------------

def kb(*args, **env):
    return CliRunner().invoke(cli, list(args), env={"KB_VALIDATION_TIMEOUT": "0", "KB_JSONLD_CONTEXTS": None, **env})


def on_disk(path):
    from conftest import make_settings
    from kb.store import open_store

    st = open_store(make_settings(store=str(path)))
    try:
        return checksum(st)
    finally:
        st.close()


def test_kb_import_accepts_own_and_configured_contexts_and_refuses_others(tmp_path, folder, listener):
    store = str(tmp_path / "store")
    assert kb("import", "--store", store, str(DATA / "base.ttl"), "--graph", G + "base").exit_code == 0
    files = {}
    for name, body in (("own.jsonld", agency_jsonld("jl")),
                       ("configured.jsonld", agency_jsonld("jl2", "https://ctx.test/kb-and-schema.jsonld")),
                       ("unknown.jsonld", agency_jsonld("jl3", f"http://127.0.0.1:{listener.port}/c.jsonld"))):
        files[name] = tmp_path / name
        files[name].write_bytes(body)
    r = kb("import", "--store", store, str(files["own.jsonld"]))
    assert r.exit_code == 0, r.output
    before = on_disk(tmp_path / "store")
    r = kb("import", "--store", store, str(files["configured.jsonld"]))  # not allowed without the folder
    assert r.exit_code == 1 and "https://ctx.test/kb-and-schema.jsonld" in r.output and "KB_JSONLD_CONTEXTS" in r.output
    r = kb("import", "--store", store, str(files["unknown.jsonld"]), "--jsonld-contexts", folder)
    assert r.exit_code == 1 and f"127.0.0.1:{listener.port}" in r.output and "refused" in r.output
    assert on_disk(tmp_path / "store") == before
    r = kb("import", "--store", store, str(files["configured.jsonld"]), "--jsonld-contexts", folder)
    assert r.exit_code == 0, r.output
    r = kb("import", "--store", store, str(files["configured.jsonld"]), "--graph", G + "env", KB_JSONLD_CONTEXTS=folder)
    assert r.exit_code == 0, r.output
    r = kb("import", "--store", store, str(files["own.jsonld"]), "--jsonld-contexts", str(tmp_path / "nope"))
    assert r.exit_code == 2 and "not a folder" in r.output
    time.sleep(0.3)
    assert listener.hits == 0


# --- kb validate ---------------------------------------------------------------------------------------------

def test_kb_validate_reads_json_ld_with_allowed_contexts_and_reports_the_others(tmp_path, folder, listener):
    (tmp_path / "own.jsonld").write_bytes(agency_jsonld("jl"))
    (tmp_path / "configured.jsonld").write_bytes(agency_jsonld("jl2", "https://ctx.test/kb-and-schema.jsonld"))
    ref = f"http://127.0.0.1:{listener.port}/c.jsonld"
    (tmp_path / "unknown.jsonld").write_bytes(agency_jsonld("jl3", ref))
    # the agencies cite a source document that only the test KB holds: bring it as context
    r = kb("validate", "--context", str(DATA), str(tmp_path / "own.jsonld"))
    assert r.exit_code == 0, r.output
    r = kb("validate", "--context", str(DATA), "--jsonld-contexts", folder, str(tmp_path / "configured.jsonld"))
    assert r.exit_code == 0, r.output
    r = kb("validate", "--context", str(DATA), str(tmp_path / "configured.jsonld"))
    assert r.exit_code == 1 and "https://ctx.test/kb-and-schema.jsonld" in r.output
    r = kb("validate", "--context", str(DATA), "--jsonld-contexts", folder, str(tmp_path / "unknown.jsonld"))
    assert r.exit_code == 1 and ref in r.output and "does not parse as jsonld" in r.output
    r = kb("validate", "--jsonld-contexts", str(tmp_path / "nope"), str(tmp_path / "own.jsonld"))
    assert r.exit_code == 2 and "not a folder" in r.output
    time.sleep(0.3)
    assert listener.hits == 0
