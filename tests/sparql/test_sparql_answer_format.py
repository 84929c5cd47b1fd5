"""The answer format chosen per Accept header and `format` parameter (server/sparql/execution.py
`answer_format`): kept per header, it is always what negotiating that header gives, and a refusal is not
kept: the same request is refused again, with the same message."""

from __future__ import annotations

import pytest

from server.sparql import results as res
from server.sparql.execution import answer_format, parse_accept

HEADERS = [None, "", "*/*", "application/sparql-results+json", "application/json",
           "application/sparql-results+xml;q=0.5, text/csv", "text/tab-separated-values;q=0.9, */*;q=0.1",
           "text/turtle", "application/ld+json, application/n-triples;q=0.8", "application/xml",
           "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "image/png"]
PARAMS = [None, "json", "csv", ("rdf+xml", "application/rdf+xml"), "turtle", "nope"]


def _negotiated(kind, header, param):
    try:
        return res.negotiate(kind, parse_accept(header), param)
    except res.NotAcceptable as exc:
        return ("refused", exc.message)


@pytest.mark.parametrize("kind", [res.SELECT, res.ASK, res.GRAPH])
def test_the_kept_choice_is_the_negotiated_one(kind):
    for header in HEADERS:
        for param in PARAMS:
            expected = _negotiated(kind, header, param)
            for _ in range(2):  # the first call negotiates, the second is answered from what was kept
                try:
                    got = answer_format(kind, header, param)
                except res.NotAcceptable as exc:
                    got = ("refused", exc.message)
                assert got == expected, (kind, header, param)


def test_a_refusal_is_raised_every_time():
    misses = answer_format.cache_info().misses
    for _ in range(3):
        with pytest.raises(res.NotAcceptable, match="image/png"):
            answer_format(res.SELECT, "image/png", None)
    assert answer_format.cache_info().misses == misses + 3  # never kept: negotiated again each time
    answer_format(res.SELECT, "text/csv", None)
    hits = answer_format.cache_info().hits
    assert answer_format(res.SELECT, "text/csv", None).name == "csv"
    assert answer_format.cache_info().hits == hits + 1
