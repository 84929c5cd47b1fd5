"""The row cap's reader (`server.sparql.results.capped_tsv`): pyoxigraph writes the rows as TSV into a buffer
that stops it one row past the cap; the text is parsed back into the answer's format. These tests hold it to
the rows pyoxigraph itself gives, term for term, at and around the cap."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from server.sparql import results as res

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def awkward_store() -> ox.Store:
    """Terms that TSV must escape or that are easy to get wrong: tabs, line breaks, quotes, backslashes,
    non-ASCII, language tags, datatypes, blank nodes, and a variable left unbound."""
    store = ox.Store()
    values = [
        ox.Literal("tab\there"), ox.Literal("line\nbreak\r\nand return"), ox.Literal('quote " and \\ backslash'),
        ox.Literal("Kaçakçılık", language="tr"), ox.Literal("\u2028separator\u2029"), ox.Literal(""),
        ox.Literal("42", datatype=ox.NamedNode(XSD + "integer")),
        ox.Literal("2024-05-01", datatype=ox.NamedNode(XSD + "date")),
        ox.NamedNode(EX + "caf%C3%A9?q=1#frag"), ox.BlankNode("b1"),
    ]
    for i, value in enumerate(values):
        store.add(ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), value))
    store.add(ox.Quad(ox.NamedNode(EX + "s0"), ox.NamedNode(EX + "other"), ox.Literal("only s0")))
    return store


QUERY = f"SELECT ?s ?o ?extra WHERE {{ ?s <{EX}p> ?o OPTIONAL {{ ?s <{EX}other> ?extra }} }} ORDER BY ?s"


def rows(solutions) -> list[tuple]:
    return [tuple(row) for row in solutions]


@pytest.mark.parametrize("cap", [1, 5, 9, 10, 11, 1000])
def test_capped_rows_are_pyoxigraphs_own_term_for_term(cap):
    store = awkward_store()
    expected = rows(store.query(QUERY))
    assert len(expected) == 10
    tsv, truncated = res.capped_tsv(store.query(QUERY), cap)
    back = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
    assert [str(v) for v in back.variables] == ["?s", "?o", "?extra"]
    assert rows(back) == expected[:cap]
    assert truncated is (cap < 10)


def test_every_format_is_written_from_the_capped_rows():
    store = awkward_store()
    fmt_by_name = {f.name: f for f in res.FORMATS}
    for name in ("json", "xml", "tsv"):
        fmt = fmt_by_name[name]
        prepared = res.prepare(store.query(QUERY), fmt, 4)
        assert prepared.truncated and prepared.headers == {res.TRUNCATED_HEADER: "true", res.LIMIT_HEADER: "4"}
        out = Collect()
        res.write(prepared, out)
        parsed = ox.parse_query_results(out.data, format=fmt.results)
        assert rows(parsed) == rows(store.query(QUERY))[:4], name
    csv = Collect()
    res.write(res.prepare(store.query(QUERY), fmt_by_name["csv"], 4), csv)
    assert csv.data.decode().startswith("s,o,extra\r\n") and csv.data.count(b"\r\n") >= 5


def test_no_rows_and_no_variables():
    store = awkward_store()
    tsv, truncated = res.capped_tsv(store.query(f"SELECT ?s WHERE {{ ?s <{EX}nothing> ?o }}"), 3)
    assert not truncated and rows(ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)) == []
    tsv, truncated = res.capped_tsv(store.query("SELECT * WHERE { }"), 3)  # one row, no variables
    assert not truncated
    assert len(rows(ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV))) == 1


def test_reading_stops_near_the_cap_on_a_large_result():
    """A million-row answer capped at 10 is not read to its end: the buffer holds the rows kept and at most
    one more piece of pyoxigraph's writer."""
    store = ox.Store()
    store.extend(ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), ox.Literal(f"value {i}"))
                 for i in range(200_000))
    buffer = res._CappedBuffer(11)
    with pytest.raises(res._Enough):
        store.query("SELECT ?s ?o WHERE { ?s ?p ?o }").serialize(buffer, ox.QueryResultsFormat.TSV)
    held = sum(len(part) for part in buffer.parts)
    assert buffer.full and buffer.parts[-1].endswith(b"\n") and held < 64 * 1024  # all: about 8 MB
    tsv, truncated = res.capped_tsv(store.query("SELECT ?s ?o WHERE { ?s ?p ?o }"), 10)
    assert truncated and tsv.count(b"\n") == 11


class Collect:
    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)
