"""The store interface on the embedded Oxigraph store (in memory and on disk) and on the remote SPARQL
store (a real Virtuoso on loopback): the same tests."""

import io
import subprocess
import sys

import pyoxigraph as ox
import pytest

from kb.namespaces import Iris
from kb.store import StoreError, StoreLocked
from kb.store.oxigraph import OxigraphStore

IRIS = Iris("https://w3id.org/thb-kb/")
G = IRIS.graph("test")
EX = "http://example.org/"


def t(s, p, o):
    return ox.Triple(ox.NamedNode(EX + s), ox.NamedNode(EX + p), ox.Literal(o))


@pytest.fixture(params=["memory", "disk", "virtuoso"])
def store(request, tmp_path):
    if request.param == "virtuoso":
        s = request.getfixturevalue("virtuoso").empty_store()
    else:
        s = OxigraphStore(IRIS, None if request.param == "memory" else tmp_path / "store")
    yield s
    s.close()


def test_empty_store_has_a_version_and_no_graphs(store):
    assert store.graphs() == []
    assert store.version() == "empty"
    assert store.count() == 0


def test_replace_add_drop_and_versions(store):
    v1 = store.replace_graph(G, [t("a", "p", "1"), t("b", "p", "2")])
    assert store.version() == v1
    assert store.count(G) == 2
    v2 = store.add_to_graph(G, [t("c", "p", "3")])
    assert v2 != v1 and store.count(G) == 3
    store.replace_graph(G, [t("z", "p", "9")])
    assert store.count(G) == 1
    assert G in store.graphs() and store.has_graph(G)
    store.drop_graph(G)
    assert not store.has_graph(G) and G not in store.graphs()


def test_last_modified_moves_forward(store):
    store.replace_graph(G, [t("a", "p", "1")])
    first = store.last_modified()
    store.add_to_graph(G, [t("b", "p", "1")])
    assert store.last_modified() > first


def test_default_graph_is_the_union_of_graphs(store):
    store.replace_graph(IRIS.graph("one"), [t("a", "p", "1")])
    store.replace_graph(IRIS.graph("two"), [t("b", "p", "2")])
    rows = list(store.query(f"SELECT ?s WHERE {{ ?s <{EX}p> ?o }} ORDER BY ?s"))
    assert [r["s"].value for r in rows] == [EX + "a", EX + "b"]
    only_one = list(store.query(f"SELECT ?s WHERE {{ ?s <{EX}p> ?o }}", default_graph=[IRIS.graph("one")]))
    assert [r["s"].value for r in only_one] == [EX + "a"]


def test_a_failed_write_changes_nothing(store):
    store.replace_graph(G, [t("a", "p", "1")])
    before = (store.version(), store.count())
    bad = ox.Quad(ox.NamedNode(EX + "x"), ox.NamedNode(EX + "p"), ox.Literal("1"), ox.NamedNode(G))
    # a write whose update text the store rejects: nothing of it may remain
    with pytest.raises(StoreError):
        store.apply(insert=[bad], drop=["not an iri>"])
    assert (store.version(), store.count()) == before


def test_dump_round_trips(store):
    store.replace_graph(G, [t("a", "p", "1"), t("b", "p", "é")])
    out = io.BytesIO()
    store.dump(out, ox.RdfFormat.N_QUADS)
    quads = list(ox.parse(out.getvalue(), ox.RdfFormat.N_QUADS))
    assert sum(1 for q in quads if q.graph_name == ox.NamedNode(G)) == 2
    out = io.BytesIO()
    store.dump(out, ox.RdfFormat.TURTLE, G)
    assert len(list(ox.parse(out.getvalue(), ox.RdfFormat.TURTLE))) == 2


def test_second_writer_process_fails_fast_with_a_message(tmp_path):
    path = tmp_path / "store"
    first = OxigraphStore(IRIS, path)
    code = ("import sys; sys.path.insert(0, '.');\n"
            "from kb.store.oxigraph import OxigraphStore; from kb.namespaces import Iris\n"
            "from kb.store import StoreLocked\n"
            f"try:\n    OxigraphStore(Iris('https://w3id.org/thb-kb/'), {str(path)!r})\n"
            "except StoreLocked as e:\n    print('LOCKED', e); sys.exit(3)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    first.close()
    assert proc.returncode == 3, proc.stderr
    assert "another process" in proc.stdout


def test_data_survives_reopening(tmp_path):
    s = OxigraphStore(IRIS, tmp_path / "store")
    v = s.replace_graph(G, [t("a", "p", "1")])
    s.close()
    s2 = OxigraphStore(IRIS, tmp_path / "store")
    assert s2.version() == v and s2.count(G) == 1
    s2.close()


def test_version_read_once_is_kept_until_the_next_write_and_never_goes_stale(tmp_path):
    store = OxigraphStore(IRIS, None)
    v1 = store.replace_graph(G, [t("a", "p", "1")])
    assert store.version() == v1
    # the cached value is the stored one: a second handle on the same data agrees
    assert store.version() == store.version() == v1
    v2 = store.add_to_graph(G, [t("b", "p", "2")])
    assert v2 != v1 and store.version() == v2
    failed_before = store.version()
    with pytest.raises(StoreError):
        store.apply(insert=[], drop=["not an iri>"])
    assert store.version() == failed_before
