"""Every property the curated KB uses is shown by a label, not by its local name: the ontology labels its own
terms, and server.labels labels the reused vocabularies (m8g, time, prov, spdx...)."""

from __future__ import annotations

import pytest

from conftest import BASE
from kb.namespaces import Iris
from server.labels import INVERSE_LABELS, PROPERTY_LABELS, Vocabulary

THB = BASE + "def#"


def test_every_reused_property_of_the_kb_has_a_label(curated_store):
    vocab = Vocabulary().refresh(curated_store, Iris(BASE), curated_store.version())
    skip = (BASE + "graph/ontology", BASE + "graph/shapes")
    rows = curated_store.query(f"SELECT DISTINCT ?p WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
                               f"FILTER(?g NOT IN (<{skip[0]}>, <{skip[1]}>)) }}")
    used = {r["p"].value for r in rows}
    assert len(used) > 30
    unlabelled = sorted(p for p in used if p not in vocab.labels and p not in PROPERTY_LABELS)
    assert not unlabelled, unlabelled


def test_the_label_tables_hold_iris_only():
    """(A `Namespace.format` is str.format, not the IRI `m8g:format`.)"""
    for table in (PROPERTY_LABELS, INVERSE_LABELS):
        bad = [k for k in table if not k.startswith(("http://", "https://"))]
        assert not bad, bad


def test_an_event_shows_its_attendance_mode_by_label(client, curated_store):
    rows = list(curated_store.query(f"SELECT ?e WHERE {{ ?e a <{THB}Event> ; <http://data.europa.eu/m8g/format> ?f }} "
                                    "ORDER BY ?e LIMIT 1"))
    path = rows[0]["e"].value[len(BASE) + 3:]
    page = client.get(f"/doc/{path}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert '<span title="http://data.europa.eu/m8g/format">attendance mode</span>' in page
