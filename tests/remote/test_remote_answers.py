"""How the remote store reads a SPARQL store's answer (kb/store/remote_protocol.py `_parse_results`): checked
to the end and counted before it is used (natively: written as TSV and read back), the same terms as the
answer holds, and a broken answer, even one broken after valid rows, is the store being unavailable, never
a half-read result."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pyoxigraph as ox
import pytest

from kb.store import StoreUnavailable
from kb.store.remote_protocol import _parse_results

EX = "http://example.org/"


@dataclass
class Answer:
    content: bytes
    content_type: str
    headers: dict = field(default_factory=dict)

    def __post_init__(self):
        self.headers = {"Content-Type": self.content_type}


def sample_results() -> ox.QuerySolutions:
    store = ox.Store()
    values = [ox.Literal("tab\tand\nline"), ox.Literal("Kaçakçılık", language="tr"), ox.Literal('"q" \\'),
              ox.Literal("7", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
              ox.BlankNode("n1"), ox.NamedNode(EX + "o?x=1")]
    for i, value in enumerate(values):
        store.add(ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), value))
    store.add(ox.Quad(ox.NamedNode(EX + "s0"), ox.NamedNode(EX + "q"), ox.Literal("extra")))
    return store, f"SELECT ?s ?o ?x WHERE {{ ?s <{EX}p> ?o OPTIONAL {{ ?s <{EX}q> ?x }} }} ORDER BY ?s"


@pytest.mark.parametrize("fmt,media_type", [(ox.QueryResultsFormat.JSON, "application/sparql-results+json"),
                                            (ox.QueryResultsFormat.XML, "application/sparql-results+xml")])
def test_rows_are_counted_and_read_term_for_term(fmt, media_type):
    store, query = sample_results()
    body = store.query(query).serialize(format=fmt)
    result, rows = _parse_results(Answer(body, media_type + "; charset=utf-8"), "test", count=True)
    expected = [tuple(row) for row in store.query(query)]
    assert rows == len(expected) == 6
    assert [str(v) for v in result.variables] == ["?s", "?o", "?x"]
    assert [tuple(row) for row in result] == expected


def test_an_empty_answer_and_an_ask_answer():
    empty = b'{"head": {"vars": ["s"]}, "results": {"bindings": []}}'
    result, rows = _parse_results(Answer(empty, "application/sparql-results+json"), "test", count=True)
    assert rows == 0 and list(result) == []
    result, rows = _parse_results(Answer(b'{"head": {}, "boolean": true}', "application/sparql-results+json"),
                                  "test", count=True)
    assert rows is None and bool(result) is True


@pytest.mark.parametrize("body", [
    b'{"head": {"vars": ["s"]}, "results": {"bindings": [{"s": {"type": "uri", "value": "http://a/1"}}, {"s": {"ty',
    b'{"head": {"vars": ["s"]}, "results": {"bindings": [{"s": {"type": "uri", "value": "http://a/1"}}, 42]}}',
    b"<html>this is { not a SPARQL result",
])
def test_an_answer_broken_after_valid_rows_is_the_store_unavailable(body):
    with pytest.raises(StoreUnavailable, match="not valid SPARQL results"):
        _parse_results(Answer(body, "application/sparql-results+json"), "http://store/sparql", count=True)


def test_virtuoso_blank_node_names_are_read():
    body = (b'{"head": {"vars": ["b"]}, "results": {"bindings": ['
            b'{"b": {"type": "bnode", "value": "nodeID://b10007"}}]}}')
    result, rows = _parse_results(Answer(body, "application/sparql-results+json"), "test", count=True)
    (row,) = list(result)
    assert rows == 1 and isinstance(row[0], ox.BlankNode) and row[0].value == "b10007"


def _state_answer(version: str, graphs: list[str]) -> Answer:
    """A state read's answer as a SPARQL store sends it (?v ?m the version; ?g each registered graph)."""
    rows = [{"v": {"type": "literal", "value": version},
             "m": {"type": "literal", "value": "2026-12-07T04:00:00+00:00",
                   "datatype": "http://www.w3.org/2001/XMLSchema#dateTime"}}]
    rows += [{"g": {"type": "uri", "value": g}} for g in graphs]
    body = json.dumps({"head": {"vars": ["v", "m", "g"]}, "results": {"bindings": rows}}).encode("utf-8")
    return Answer(body, "application/sparql-results+json")


def test_a_state_answer_equal_to_the_last_one_is_not_parsed_again(monkeypatch):
    """Every query reads the KB's state beside it; an answer with the same bytes as the last one is the same
    state and is taken as it is, and any other answer is read: a new version, another list of graphs."""
    from kb import settings as settings_mod
    from kb.namespaces import Iris
    from kb.store import remote, remote_state

    store = remote.RemoteStore(Iris("https://w3id.org/thb-kb/"), "http://127.0.0.1:9/sparql", settings_mod.load({}))
    parsed = []
    real = remote_state._parse_results
    monkeypatch.setattr(remote_state, "_parse_results", lambda *a, **k: parsed.append(1) or real(*a, **k))
    first = store._snapshot_of(_state_answer("v1", [EX + "g1"]))
    again = store._snapshot_of(_state_answer("v1", [EX + "g1"]))
    assert again is first and len(parsed) == 1 and store.seen_state == first.state
    moved = store._snapshot_of(_state_answer("v2", [EX + "g1"]))
    assert moved.version == "v2" and moved.state != first.state and len(parsed) == 2
    regraphed = store._snapshot_of(_state_answer("v2", [EX + "g1", EX + "g2"]))
    assert regraphed.graphs == [EX + "g1", EX + "g2"] and regraphed.state != moved.state
    assert store.seen_state == regraphed.state and len(parsed) == 3
    back = store._snapshot_of(_state_answer("v1", [EX + "g1"]))  # the same bytes as the first, not the last
    assert back.state == first.state and len(parsed) == 4
    store.close()


def test_the_state_token_names_the_version_and_the_graphs():
    from kb.store.remote import Snapshot

    when = dt.datetime(2026, 12, 7, tzinfo=dt.timezone.utc)
    one = Snapshot.of("v1", when, [EX + "g1"])
    assert one.state.startswith("v1/") and one.state == Snapshot.of("v1", when, [EX + "g1"]).state
    assert one.state != Snapshot.of("v1", when, [EX + "g1", EX + "g2"]).state  # a graph registered by hand
    assert one.state != Snapshot.of("v2", when, [EX + "g1"]).state


def test_quote_plus_is_urllibs():
    import urllib.parse

    from kb.store.remote_protocol import quote_plus

    every = "".join(chr(i) for i in range(1, 0x800)) + "\U0001F600 ü é ~/+%&="
    for text in (every, "", "SELECT * WHERE { ?s ?p ?o }", "a/b c", "\x00"):
        assert quote_plus(text) == urllib.parse.quote_plus(text)
        assert quote_plus(text, b"/") == urllib.parse.quote_plus(text.encode("utf-8"), safe="/")
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate: refused, as urllib does
        quote_plus("\udc80")


@pytest.mark.parametrize("form", ["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"])
def test_a_query_goes_as_sparqlwrapper_describes_it(form, monkeypatch):
    """A query's request is made from SPARQLWrapper's description of the first one (`_query_template`):
    the same URL, headers and body as SPARQLWrapper gives for each query, with the dataset and timeout."""
    from kb import settings as settings_mod
    from kb.namespaces import Iris
    from kb.store import remote
    from kb.store.remote_protocol import _dataset_params

    store = remote.RemoteStore(Iris("https://w3id.org/thb-kb/"), "http://127.0.0.1:9/sparql", settings_mod.load({}))
    sent = []
    monkeypatch.setattr(store, "_start_request", lambda url, body, headers, **kw: sent.append((url, body, headers)))
    texts = [f"{form} WHERE {{ ?s ?p ?o }}", 'SELECT * { ?s ?p "a/b c&d=e+f%20 ü\U0001F600" } # é\n',
             f"PREFIX ex: <http://example.org/a?b=c#d>\n{form} {{ ex:x ?p ?o FILTER(?o != 'x\\ty') }}"]
    datasets = [None, (["http://example.org/g1"], ["http://example.org/g1", "http://example.org/g 2?x=&y"]),
                ([], [])]
    for text in texts:
        for dataset in datasets:
            for timeout in (None, 2.5):
                del sent[:]
                store._start_query(text, form, dataset, timeout)
                full = None if dataset is None else (dataset[0] or [store._empty], dataset[1] or [store._empty])
                params = _dataset_params(full) + ([("timeout", "2500")] if timeout else [])
                described = store._request(store._query_wrapper(text, form), store._query_accept(form), params)
                assert sent == [described]
    assert store._query_templates[form] is not None  # made once, from SPARQLWrapper's own description
    store.close()
