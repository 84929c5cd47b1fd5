"""Safe parsing: every format, positions in errors, no DTDs, no remote contexts."""

import pytest

from kb import rdfio

TTL = b'@prefix ex: <http://example.org/> .\nex:a ex:p "x"@en .\n'


@pytest.mark.parametrize("name,data", [
    ("turtle", TTL),
    ("ntriples", b'<http://example.org/a> <http://example.org/p> "x"@en .\n'),
    ("nquads", b'<http://example.org/a> <http://example.org/p> "x"@en <http://example.org/g> .\n'),
    ("trig", b'<http://example.org/g> { <http://example.org/a> <http://example.org/p> "x"@en }\n'),
    ("jsonld", b'{"@context": {"ex": "http://example.org/"}, "@id": "ex:a", "ex:p": {"@value": "x", "@language": "en"}}'),
    ("rdfxml", b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
               b'xmlns:ex="http://example.org/"><rdf:Description rdf:about="http://example.org/a">'
               b'<ex:p xml:lang="en">x</ex:p></rdf:Description></rdf:RDF>'),
])
def test_every_format_parses_to_the_same_triple(name, data):
    quads = rdfio.parse_quads(data, rdfio.BY_NAME[name])
    assert [(q.subject.value, q.predicate.value, q.object.value, q.object.language) for q in quads] == [
        ("http://example.org/a", "http://example.org/p", "x", "en")]


def test_syntax_error_has_line_and_column():
    with pytest.raises(rdfio.ParseError) as info:
        rdfio.parse_quads(b'@prefix ex: <http://e/> .\nex:a ex:b ex:c ;\n ex:d "x .', rdfio.BY_NAME["turtle"], source="f.ttl")
    assert info.value.line == 3 and info.value.column is not None
    assert "f.ttl" in str(info.value)


def test_xml_entities_are_refused_before_parsing():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>')
    with pytest.raises(rdfio.ParseError, match="DOCTYPE"):
        rdfio.parse_quads(bomb, rdfio.BY_NAME["rdfxml"])


@pytest.mark.parametrize("ctx", ['"http://127.0.0.1:9/ctx.jsonld"', '"file:///etc/passwd"',
                                 '[{"ex": "http://example.org/"}, "http://127.0.0.1:9/c"]'])
def test_remote_and_file_jsonld_contexts_are_refused(ctx):
    doc = ('{"@context": %s, "@id": "http://example.org/a", "http://example.org/p": "x"}' % ctx).encode()
    with pytest.raises(rdfio.ParseError, match="context"):
        rdfio.parse_quads(doc, rdfio.BY_NAME["jsonld"])


def test_deeply_nested_json_is_refused():
    doc = b'{"@id": "http://example.org/a", "http://example.org/p": ' + b"[" * 200 + b"]" * 200 + b"}"
    with pytest.raises(rdfio.ParseError):
        rdfio.parse_quads(doc, rdfio.BY_NAME["jsonld"])


def test_format_lookup_by_name_media_type_and_extension():
    assert rdfio.format_for("ttl").name == "turtle"
    assert rdfio.format_for(media_type="application/ld+json; charset=utf-8").name == "jsonld"
    assert rdfio.format_for(filename="x.nq").name == "nquads"
    with pytest.raises(ValueError, match="extension"):
        rdfio.format_for(filename="x.docx")
