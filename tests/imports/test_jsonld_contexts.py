"""JSON-LD contexts named by IRI come from local copies only (kb.jsonld_contexts, kb.jsonld_inline): thb-kb's own
context and the publisher's KB_JSONLD_CONTEXTS copies are inlined, wherever the document names them (top level,
arrays, nested nodes, scoped contexts, @import); anything else is refused with the IRI and how to allow it, and
no connection is ever attempted. Parser-level tests; the Graph Store and CLI paths are in
test_jsonld_contexts_paths.py."""

from __future__ import annotations

import json
import time

import pytest
from import_helpers import listener  # noqa: F401 - fixture
from rdflib import Graph
from rdflib.compare import isomorphic

from kb import jsonld_contexts, jsonld_inline, rdfio

JSONLD = rdfio.format_for("jsonld")
OWN = "https://w3id.org/thb-kb/context.jsonld"
EX = "http://example.org/"
AGENCY = "https://w3id.org/thb-kb/id/agency/"


def parse(doc, contexts=None, **kw):
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return rdfio.parse_quads(data, JSONLD, contexts=contexts, **kw)


def graph(quads) -> Graph:
    return rdfio.triples_to_graph(quads)


def turtle(text: str) -> Graph:
    return graph(rdfio.parse_quads(text.encode(), rdfio.format_for("turtle")))


def copies(folder, index: dict, files: dict) -> str:
    """A KB_JSONLD_CONTEXTS folder: `files` name -> context value, `index` IRI -> file name."""
    folder.mkdir(exist_ok=True)
    for name, value in files.items():
        (folder / name).write_text(json.dumps({"@context": value}), encoding="utf-8")
    (folder / "contexts.json").write_text(json.dumps(index), encoding="utf-8")
    return str(folder)


AGENCY_TTL = f"""
@prefix thb: <https://w3id.org/thb-kb/def#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> . @prefix dct: <http://purl.org/dc/terms/> .
@prefix org: <http://www.w3.org/ns/org#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix schema: <https://schema.org/> .
<{AGENCY}x> a thb:Agency , org:FormalOrganization ;
    rdfs:label "X"@en , "Xe"@fr ; skos:prefLabel "X agency"@en ;
    dct:spatial <http://publications.europa.eu/resource/authority/country/TUR> ;
    org:subOrganizationOf <{AGENCY}y> ; schema:startDate "2020-01-31"^^xsd:date ; thb:lable "a typo" .
"""
AGENCY_DOC = {"id": AGENCY + "x", "type": ["Agency", "org:FormalOrganization"],
              "label": {"en": "X", "fr": "Xe"}, "prefLabel": {"en": "X agency"},
              "spatial": "http://publications.europa.eu/resource/authority/country/TUR",
              "subOrganizationOf": AGENCY + "y", "startDate": "2020-01-31", "lable": "a typo"}


# --- thb-kb's own context --------------------------------------------------------------------------

def test_own_context_by_iri_gives_the_triples_of_the_same_data_in_turtle():
    got = graph(parse({"@context": OWN, **AGENCY_DOC}))
    assert isomorphic(got, turtle(AGENCY_TTL))


def test_own_context_under_the_configured_base_and_the_default_base():
    lib = jsonld_contexts.library("http://kb.test/", None)
    assert set(lib.iris()) == {"http://kb.test/context.jsonld", OWN}
    for iri in lib.iris():
        assert isomorphic(graph(parse({"@context": iri, **AGENCY_DOC}, lib)), turtle(AGENCY_TTL))
    with pytest.raises(rdfio.ParseError, match="http://kb.test/context.jsonld"):  # not without that base
        parse({"@context": "http://kb.test/context.jsonld", **AGENCY_DOC})


def test_own_context_in_an_array_in_nested_nodes_and_after_a_local_context():
    doc = {"@context": [OWN, {"agency": AGENCY}], "@graph": [
        {"id": "agency:y", "@context": {"label": "http://example.org/label"}, "label": "plain"},
        {"id": "agency:z", "http://example.org/p": {"@context": OWN, "id": "agency:w", "title": {"en": "T"}}}]}
    got = {(s.n3(), p.n3(), o.n3()) for s, p, o in graph(parse(doc))}
    assert got == {(f"<{AGENCY}y>", f"<{EX}label>", '"plain"'),
                   (f"<{AGENCY}z>", f"<{EX}p>", f"<{AGENCY}w>"),
                   (f"<{AGENCY}w>", "<http://purl.org/dc/terms/title>", '"T"@en')}


def test_only_changed_contexts_are_rewritten_and_lines_keep_their_numbers():
    data = (b'{"@context": [\n  "' + OWN.encode() + b'",\n  {"ex": "http://example.org/"}\n],\n'
            b' "@id": "http://example.org/a",\n "ex:p": "x"}')
    out = jsonld_inline.inline(data, jsonld_contexts.default_library())
    assert out.count(b"\n") == data.count(b"\n") and out.endswith(data[data.index(b'],'):][1:])
    plain = b'{"@context": {"ex": "http://example.org/"}, "@id": "ex:a", "ex:p": 1.10000000000000000001}'
    assert jsonld_inline.inline(plain, jsonld_contexts.default_library()) is plain  # untouched, byte for byte


def test_json_errors_keep_line_and_column_with_a_context_named():
    bad = ('{"@context": "%s",\n "id": "http://example.org/a",\n "label": {"en": "x",}}' % OWN).encode()
    with pytest.raises(rdfio.ParseError) as info:
        parse(bad, source="bad.jsonld")
    third = bad.decode().splitlines()[2]
    assert (info.value.line, info.value.column) == (3, third.index(",}") + 2)  # the "}" where a key should be
    assert "bad.jsonld" in str(info.value)


def test_json_literals_are_data_never_contexts(listener):
    ctx_iri = f"http://127.0.0.1:{listener.port}/ctx"
    doc = {"@id": EX + "a", EX + "j": {"@value": {"@context": ctx_iri, "x": [1]}, "@type": "@json"}}
    (q,) = parse(doc)
    assert json.loads(q.object.value) == {"@context": ctx_iri, "x": [1]}
    time.sleep(0.2)
    assert listener.hits == 0


# --- publisher copies (KB_JSONLD_CONTEXTS) --------------------------------------------------------------

def test_a_configured_context_is_inlined(tmp_path):
    folder = copies(tmp_path / "ctx", {"https://schema.org/": "schema.jsonld", "https://schema.org": "schema.jsonld"},
                    {"schema.jsonld": {"@vocab": "https://schema.org/", "startDate": {"@type": "xsd:date"},
                                       "xsd": "http://www.w3.org/2001/XMLSchema#"}})
    lib = jsonld_contexts.library(None, folder)
    for iri in ("https://schema.org/", "https://schema.org"):
        got = graph(parse({"@context": iri, "@id": EX + "e", "@type": "Event", "startDate": "2024-01-02"}, lib))
        assert isomorphic(got, turtle(f'<{EX}e> a <https://schema.org/Event> ; <https://schema.org/startDate> '
                                      f'"2024-01-02"^^<http://www.w3.org/2001/XMLSchema#date> .'))
    with pytest.raises(rdfio.ParseError, match="https://schema.org/"):  # not allowed without the folder
        parse({"@context": "https://schema.org/", "@id": EX + "e", "name": "x"})


def test_copies_naming_copies_scoped_contexts_relative_references_and_base(tmp_path):
    folder = copies(tmp_path / "ctx", {"https://ctx.test/a.jsonld": "a.jsonld", "https://ctx.test/b.jsonld": "b.jsonld"},
                    {"a.jsonld": ["b.jsonld", {"@version": 1.1, "@base": "http://ignored.test/",
                                               "T": {"@id": EX + "T", "@context": "https://ctx.test/b.jsonld"}}],
                     "b.jsonld": {"@base": "http://ignored-too.test/", "q": EX + "q",
                                  "n": {"@id": EX + "n", "@type": "@id"}}})
    lib = jsonld_contexts.library(None, folder)
    doc = {"@context": "https://ctx.test/a.jsonld", "@id": EX + "s", "@type": "T", "q": "v", "n": "rel"}
    got = {(s.n3(), p.n3(), o.n3()) for s, p, o in graph(parse(doc, lib, base_iri="http://doc.test/d"))}
    assert got == {(f"<{EX}s>", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", f"<{EX}T>"),
                   (f"<{EX}s>", f"<{EX}q>", '"v"'),
                   (f"<{EX}s>", f"<{EX}n>", "<http://doc.test/rel>")}  # the copy's @base is ignored


def test_import_merges_the_copy_under_the_importing_context(tmp_path):
    folder = copies(tmp_path / "ctx", {"https://ctx.test/base.jsonld": "base.jsonld"},
                    {"base.jsonld": {"@protected": True, "p": EX + "p", "r": EX + "r"}})
    lib = jsonld_contexts.library(None, folder)
    doc = {"@context": {"@version": 1.1, "@import": "https://ctx.test/base.jsonld", "r": EX + "r2"},
           "@id": EX + "s", "p": "1", "r": "2"}
    got = {(p.n3(), o.n3()) for _, p, o in graph(parse(doc, lib))}
    assert got == {(f"<{EX}p>", '"1"'), (f"<{EX}r2>", '"2"')}
    scoped = {"@context": {"@version": 1.1, "k": {"@id": EX + "k", "@context": {"@import": "https://ctx.test/base.jsonld"}}},
              "@id": EX + "s", "k": {"p": "3"}}
    assert (f"<{EX}p>", '"3"') in {(p.n3(), o.n3()) for _, p, o in graph(parse(scoped, lib))}


def test_a_changed_copy_is_used_at_once(tmp_path):
    folder = copies(tmp_path / "ctx", {"https://ctx.test/c": "c.jsonld"}, {"c.jsonld": {"p": EX + "one"}})
    doc = {"@context": "https://ctx.test/c", "@id": EX + "s", "p": "v"}
    assert parse(doc, jsonld_contexts.library(None, folder))[0].predicate.value == EX + "one"
    time.sleep(0.01)
    (tmp_path / "ctx" / "c.jsonld").write_text(json.dumps({"@context": {"p": EX + "second"}}))
    assert parse(doc, jsonld_contexts.library(None, folder))[0].predicate.value == EX + "second"


# --- refusals ----------------------------------------------------------------------------------------

def places(ref: str) -> list[dict]:
    """A document naming `ref` as a context in every place a context can be named."""
    node = {"@id": EX + "a", EX + "p": "v"}
    return [
        {"@context": ref, **node},
        {"@context": [{"ex": EX}, ref], **node},
        {"@id": EX + "a", EX + "p": {"@context": ref, "@id": EX + "b"}},
        {"@graph": [[{"@context": [ref], **node}]]},
        {"@context": {"@version": 1.1, "t": {"@id": EX + "t", "@context": ref}}, **node},
        {"@context": {"@version": 1.1, "T": {"@id": EX + "T", "@context": [None, ref]}}, "@type": "T", **node},
        {"@context": {"@version": 1.1, "@import": ref}, **node},
        {"@context": [{"@version": 1.1, "t": {"@id": EX + "t", "@context": {"@import": ref}}}], **node},
    ]


def test_unknown_remote_contexts_are_refused_everywhere_without_a_connection(listener):
    ref = f"http://127.0.0.1:{listener.port}/context.jsonld"
    for doc in places(ref):
        with pytest.raises(rdfio.ParseError) as info:
            parse(doc, source="in.jsonld")
        msg = str(info.value)
        assert ref in msg and "KB_JSONLD_CONTEXTS" in msg and "contexts.json" in msg and OWN in msg, msg
    time.sleep(0.3)
    assert listener.hits == 0


def test_file_contexts_and_relative_references_are_refused():
    for ref, says in (("file:///etc/passwd", "file:"), ("FILE:/etc/hostname", "file:"),
                      ("context.jsonld", "relative"), ("../ctx/c.jsonld", "relative"), ("", "relative")):
        for doc in places(ref):
            with pytest.raises(rdfio.ParseError, match=says):
                parse(doc)


def test_a_copy_naming_a_context_that_is_not_allowed_is_refused(tmp_path):
    folder = copies(tmp_path / "ctx", {"https://ctx.test/a": "a.jsonld"},
                    {"a.jsonld": [OWN, "https://elsewhere.test/c"]})
    with pytest.raises(rdfio.ParseError, match="https://elsewhere.test/c"):
        parse({"@context": "https://ctx.test/a", "@id": EX + "a"}, jsonld_contexts.library(None, folder))


def test_cycles_are_refused(tmp_path):
    folder = copies(tmp_path / "ctx", {"https://ctx.test/a": "a.jsonld", "https://ctx.test/b": "b.jsonld",
                                       "https://ctx.test/self": "self.jsonld", "https://ctx.test/i": "imports.jsonld"},
                    {"a.jsonld": ["https://ctx.test/b"], "b.jsonld": {"t": {"@id": EX + "t", "@context": "a"}},
                     "self.jsonld": {"t": {"@id": EX + "t", "@context": {"@import": "https://ctx.test/self"}}},
                     "imports.jsonld": {"@import": "https://ctx.test/b"}})
    lib = jsonld_contexts.library(None, folder)
    with pytest.raises(rdfio.ParseError, match="cycle: <https://ctx.test/a> -> <https://ctx.test/b> -> <https://ctx.test/a>"):
        parse({"@context": "https://ctx.test/a", "@id": EX + "a"}, lib)
    with pytest.raises(rdfio.ParseError, match="cycle: <https://ctx.test/self> -> <https://ctx.test/self>"):
        parse({"@context": {"@import": "https://ctx.test/self"}, "@id": EX + "a"}, lib)
    with pytest.raises(rdfio.ParseError, match="an imported context may not @import another"):  # JSON-LD 1.1
        parse({"@context": {"@import": "https://ctx.test/i"}, "@id": EX + "a"}, lib)
    # the same context twice side by side is no cycle
    assert parse({"@context": [OWN, OWN], "id": EX + "a", "label": {"en": "x"}})


def test_an_over_deep_chain_is_refused(tmp_path):
    n = jsonld_inline.MAX_CHAIN
    index = {f"https://ctx.test/{i}": f"{i}.jsonld" for i in range(n + 1)}
    files = {f"{i}.jsonld": [f"https://ctx.test/{i + 1}"] for i in range(n)} | {f"{n}.jsonld": {"p": EX + "p"}}
    lib = jsonld_contexts.library(None, copies(tmp_path / "ctx", index, files))
    assert parse({"@context": "https://ctx.test/1", "@id": EX + "a", "p": "v"}, lib)  # MAX_CHAIN copies: fine
    with pytest.raises(rdfio.ParseError, match=f"more than {n} levels"):
        parse({"@context": "https://ctx.test/0", "@id": EX + "a", "p": "v"}, lib)


def test_inlining_is_bounded_in_size():
    many = {"@graph": [{"@context": OWN, "id": f"{EX}n{i}"} for i in range(4000)]}
    with pytest.raises(rdfio.ParseError, match="bytes of them"):
        parse(many)
    assert len(parse({"@graph": [{"@context": OWN, "id": f"{EX}n{i}", "name": "x"} for i in range(200)]})) == 200


def test_deep_nesting_is_refused_inside_contexts_and_literals_too():
    deep = [[]]
    for _ in range(80):
        deep = [deep]
    for doc in ({"@id": EX + "a", EX + "p": deep}, {"@context": {"ex": EX, "x": {"@id": EX + "x", "y": deep}}},
                {"@id": EX + "a", EX + "j": {"@value": deep, "@type": "@json"}}):
        with pytest.raises(rdfio.ParseError, match="nested deeper"):
            parse(doc)


# --- the folder's configuration ------------------------------------------------------------------------

@pytest.mark.parametrize("index,files,says", [
    (None, {}, "no contexts.json"),
    ("{not json", {}, "not valid JSON at line 1"),
    (["a"], {}, "must be a JSON object"),
    ({"ftp://x.test/c": "c.jsonld"}, {"c.jsonld": {}}, "not an absolute http"),
    ({"file:///c": "c.jsonld"}, {"c.jsonld": {}}, "not an absolute http"),
    ({OWN: "c.jsonld"}, {"c.jsonld": {}}, "thb-kb's own context"),
    ({"https://x.test/c": "../outside.jsonld"}, {}, "outside the folder"),
    ({"https://x.test/c": "/etc/passwd"}, {}, "relative to the folder"),
    ({"https://x.test/c": "missing.jsonld"}, {}, "does not exist"),
    ({"https://x.test/c": "c.jsonld"}, {"c.jsonld": "not a context document"}, "not a JSON-LD context document"),
])
def test_an_unusable_folder_is_refused_with_the_reason(tmp_path, index, files, says):
    folder = tmp_path / "ctx"
    folder.mkdir()
    (tmp_path / "outside.jsonld").write_text('{"@context": {}}')
    for name, doc in files.items():
        (folder / name).write_text(json.dumps({"@context": doc} if isinstance(doc, dict) else doc))
    if index is not None:
        (folder / "contexts.json").write_text(index if isinstance(index, str) else json.dumps(index))
    with pytest.raises(jsonld_contexts.ContextConfigError, match=says):
        jsonld_contexts.library(None, str(folder))


def test_a_missing_folder_is_refused():
    with pytest.raises(jsonld_contexts.ContextConfigError, match="not a folder"):
        jsonld_contexts.from_settings({"jsonld_contexts": "/nonexistent/contexts"})
