"""ontology/context.jsonld is a correct context for the KB: every term names an IRI the ontology defines or a
reused vocabulary the KB uses, every ontology term has one, each coercion (@id, a datatype, a language map) is
what the ontology, the shapes and the curated data say, and the curated KB written as JSON-LD with it (naming
it by IRI, as a contributor would) gives exactly the triples of the Turtle files."""

from __future__ import annotations

import json
from collections import defaultdict

import pyoxigraph as ox
import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from kb import jsonld_contexts, paths, rdfio
from kb.namespaces import PREFIXES

THB = PREFIXES["thb"]
RDF_TYPE = PREFIXES["rdf"] + "type"
LANG_STRING = PREFIXES["rdf"] + "langString"
XSD_STRING = PREFIXES["xsd"] + "string"
OWL, SH = PREFIXES["owl"], PREFIXES["sh"]
CONTEXT_IRI = "https://w3id.org/thb-kb/context.jsonld"


@pytest.fixture(scope="module")
def ctx() -> dict:
    doc = json.loads(jsonld_contexts.OWN_CONTEXT.read_text(encoding="utf-8"))
    assert set(doc) == {"@context"} and isinstance(doc["@context"], dict)
    return doc["@context"]


def is_prefix(value) -> bool:
    return isinstance(value, str) and value.endswith(("/", "#"))


def expand(value: str, ctx: dict) -> str:
    prefix, _, local = value.partition(":")
    if local and not local.startswith("//") and is_prefix(ctx.get(prefix)):
        return ctx[prefix] + local
    return value


def terms(ctx: dict) -> dict[str, tuple[str, str | None, str | None]]:
    """term -> (IRI, @type coercion expanded, @container) for every term that is neither a prefix nor a keyword
    alias."""
    out = {}
    for term, d in ctx.items():
        if term.startswith("@") or is_prefix(d) or (isinstance(d, str) and d.startswith("@")):
            continue
        d = {"@id": d} if isinstance(d, str) else d
        assert set(d) <= {"@id", "@type", "@container"}, (term, d)
        coercion = d.get("@type")
        out[term] = (expand(d["@id"], ctx), coercion if coercion in (None, "@id") else expand(coercion, ctx),
                     d.get("@container"))
    return out


def quads(files) -> list[ox.Quad]:
    return [q for f in files for q in rdfio.read_file(f)]


@pytest.fixture(scope="module")
def ontology() -> list[ox.Quad]:
    return quads(paths.ontology_files())


@pytest.fixture(scope="module")
def curated() -> list[ox.Quad]:
    return quads(paths.data_files())


def declared(ontology, *kinds: str) -> set[str]:
    wanted = {OWL + k for k in kinds}
    return {q.subject.value for q in ontology if q.predicate.value == RDF_TYPE and q.object.value in wanted
            and isinstance(q.subject, ox.NamedNode)}


def kind_of(term) -> str:
    if isinstance(term, (ox.NamedNode, ox.BlankNode)):
        return "@id"
    return LANG_STRING if term.language else term.datatype.value


def evidence(ontology, curated) -> dict[str, set[str]]:
    """Property IRI -> the kinds of value the KB says it takes: from the ontology (object properties, ranges),
    the shapes (sh:datatype, sh:class, sh:nodeKind, sh:node, sh:in of its property shapes) and the values the
    ontology and the curated data give it."""
    kinds: dict[str, set[str]] = defaultdict(set)
    for iri in declared(ontology, "ObjectProperty"):
        kinds[iri].add("@id")
    ranges = {q.subject.value: q.object.value for q in ontology if q.predicate.value == PREFIXES["rdfs"] + "range"}
    for iri in declared(ontology, "DatatypeProperty"):
        if iri in ranges:
            kinds[iri].add(ranges[iri])
    shapes = Graph()
    for f in paths.shape_files():
        rdfio.triples_to_graph(rdfio.read_file(f), shapes)
    rows = shapes.query(f"""
        PREFIX sh: <{SH}>
        SELECT ?path ?datatype ?node WHERE {{
            ?shape sh:path ?path . FILTER isIRI(?path)
            OPTIONAL {{ ?shape sh:datatype ?datatype }}
            OPTIONAL {{ ?shape sh:class|sh:node|sh:in|sh:or ?node }}
            OPTIONAL {{ ?shape sh:nodeKind ?node FILTER (?node IN (sh:IRI, sh:BlankNodeOrIRI, sh:BlankNode)) }}
        }}""")
    for path, datatype, node in rows:
        if datatype is not None:
            kinds[str(path)].add(str(datatype))
        if node is not None:
            kinds[str(path)].add("@id")
    for q in ontology + curated:
        if q.predicate.value != RDF_TYPE:
            kinds[q.predicate.value].add(kind_of(q.object))
    return kinds


def test_prefixes_and_vocab(ctx):
    assert ctx["@vocab"] == THB, "keys that are not terms map into thb: (a misspelt key fails the shapes)"
    prefixes = {k: v for k, v in ctx.items() if is_prefix(v) and not k.startswith("@")}
    assert prefixes == PREFIXES, "the context's prefixes are kb.namespaces.PREFIXES"
    assert {k for k, v in ctx.items() if isinstance(v, str) and v.startswith("@") and not k.startswith("@")} \
        == {"id", "type"}


def test_every_term_names_an_ontology_term_or_a_reused_vocabulary_the_kb_uses(ctx, ontology, curated):
    defined = declared(ontology, "Class", "ObjectProperty", "DatatypeProperty", "AnnotationProperty")
    reused = [ns for prefix, ns in PREFIXES.items() if prefix not in ("thb", "thbsh")]
    shapes = quads(paths.shape_files())
    used = {q.predicate.value for q in ontology + curated} | {q.object.value for q in ontology + curated + shapes
                                                            if q.predicate.value in (RDF_TYPE, SH + "path")}
    found = terms(ctx)
    assert len(found) > 50
    for term, (iri, coercion, _) in found.items():
        if iri.startswith(THB):
            assert iri in defined, f"{term} -> {iri}: the ontology does not define it"
        else:
            assert any(iri.startswith(ns) for ns in reused), f"{term} -> {iri}: not in a reused vocabulary"
            assert iri in used, f"{term} -> {iri}: the ontology, the shapes and the data never use it"
        if coercion not in (None, "@id"):
            assert any(coercion.startswith(ns) for ns in reused), (term, coercion)


def test_every_ontology_term_has_a_term(ctx, ontology):
    named = {iri for iri, _, _ in terms(ctx).values()}
    missing = {iri for iri in declared(ontology, "Class", "ObjectProperty", "DatatypeProperty")
               if iri.startswith(THB)} - named
    assert not missing, f"ontology terms without a context term: {sorted(missing)}"


def test_coercions_are_what_the_ontology_shapes_and_data_say(ctx, ontology, curated):
    kinds = evidence(ontology, curated)
    for term, (iri, coercion, container) in terms(ctx).items():
        seen = kinds.get(iri, set())
        if iri in declared(ontology, "Class") or term[0].isupper():
            assert (coercion, container) == (None, None) and not seen, term
            continue
        if seen == {"@id"}:
            assert (coercion, container) == ("@id", None), f"{term}: its values are IRIs: type it @id"
        elif seen == {LANG_STRING}:
            assert (coercion, container) == (None, "@language"), f"{term}: language-tagged text: a language map"
        elif len(seen) == 1 and seen != {XSD_STRING}:
            assert (coercion, container) == (next(iter(seen)), None), f"{term}: typed {seen}, context {coercion}"
        else:  # plain strings, mixed kinds, or no evidence: no coercion that could be wrong
            assert (coercion, container) == (None, None), f"{term}: {seen} does not support {coercion or container}"


def write_jsonld(triples: list[ox.Triple], ctx: dict) -> tuple[dict, int, set[str]]:
    """The triples as one JSON-LD document naming the context by IRI, written with its terms wherever the
    term's coercion fits the value; (document, triples written with terms, predicates written in full)."""
    by_iri = {iri: (term, coercion, container) for term, (iri, coercion, container) in terms(ctx).items()}
    nodes: dict[str, dict] = {}
    with_terms, in_full = 0, set()

    def ident(node) -> str:
        return f"_:{node.value}" if isinstance(node, ox.BlankNode) else node.value

    def expanded(o) -> dict:
        if isinstance(o, (ox.NamedNode, ox.BlankNode)):
            return {"@id": ident(o)}
        if o.language:
            return {"@value": o.value, "@language": o.language}
        return {"@value": o.value, "@type": o.datatype.value}

    for t in triples:
        node = nodes.setdefault(ident(t.subject), {"id": ident(t.subject)})
        p, o = t.predicate.value, t.object
        if p == RDF_TYPE:
            term = by_iri.get(o.value, (o.value,))[0]
            node.setdefault("type", []).append(term)
            with_terms += 1
            continue
        term, coercion, container = by_iri.get(p, (None, None, None))
        kind = kind_of(o)
        if term and coercion == "@id" and kind == "@id":
            node.setdefault(term, []).append(ident(o))
        elif term and container == "@language" and kind == LANG_STRING:
            node.setdefault(term, {}).setdefault(o.language, []).append(o.value)
        elif term and coercion not in (None, "@id") and kind == coercion:
            node.setdefault(term, []).append(o.value)
        elif term and coercion is None and container is None:
            node.setdefault(term, []).append(o.value if kind == XSD_STRING else expanded(o))
        else:
            node.setdefault(p, []).append(expanded(o))
            in_full.add(p)
            continue
        with_terms += 1
    return {"@context": CONTEXT_IRI, "@graph": list(nodes.values())}, with_terms, in_full


def test_the_curated_kb_in_json_ld_with_the_context_gives_the_same_triples(ctx, curated):
    triples = [q.triple for q in curated]
    doc, with_terms, in_full = write_jsonld(triples, ctx)
    parsed = rdfio.parse_quads(json.dumps(doc).encode(), rdfio.format_for("jsonld"), source="curated.jsonld")
    assert isomorphic(rdfio.triples_to_graph(triples), rdfio.triples_to_graph(parsed))
    named = {iri for iri, _, _ in terms(ctx).values()}
    assert not in_full & named, f"values the context's coercion cannot write: {sorted(in_full & named)}"
    assert with_terms >= 0.95 * len(triples), (with_terms, len(triples), sorted(in_full))


def test_the_json_ld_example_of_contributing_data_is_its_turtle_agency():
    import re

    text = (paths.PACKAGE.parent / "docs" / "contributing-data.md").read_text(encoding="utf-8")
    (example,) = [b for b in re.findall(r"```json\n(.*?)```", text, re.S) if CONTEXT_IRI in b]
    (agency,) = [b for b in re.findall(r"```turtle\n(.*?)```", text, re.S) if "a thb:Agency" in b]
    got = rdfio.parse_quads(example.encode(), rdfio.format_for("jsonld"), source="contributing-data.md")
    want = rdfio.parse_quads(agency.encode(), rdfio.format_for("turtle"))
    assert len(got) == len(want) > 10
    assert isomorphic(rdfio.triples_to_graph(got), rdfio.triples_to_graph(want))
