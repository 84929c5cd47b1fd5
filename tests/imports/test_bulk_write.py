"""Bulk writes on the embedded store (kb/store/oxigraph.py): a pure insert of BULK_QUADS quads or more goes
through pyoxigraph's atomic bulk loader, with a pending-version record that makes data and version change
together; a crash between the bulk load and the version update is finished when the store is opened again."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyoxigraph as ox
import pytest
from import_helpers import *  # noqa: F401,F403 - fixtures and helpers

from kb.importer import Importer, Source
from kb.namespaces import Iris
from kb.store import open_store
from kb.store import oxigraph as oxstore
from kb.store.oxigraph import OxigraphStore

ROOT = Path(__file__).resolve().parents[2]
IRIS = Iris(BASE)


def quads(n: int, graph: str = G + "bulk", start: int = 0) -> list[ox.Quad]:
    g = ox.NamedNode(graph)
    p = ox.NamedNode("http://example.org/p")
    return [ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), p, ox.Literal(f"value {i}"), g)
            for i in range(start, start + n)]


def test_a_large_pure_insert_is_bulk_loaded_whole_with_a_new_version(tmp_path):
    store = OxigraphStore(IRIS, tmp_path / "store")
    store.apply(insert=quads(10))
    before = store.version()
    said: list[str] = []
    version = store.apply(insert=quads(oxstore.BULK_QUADS, start=10), progress=said.append)
    assert any("bulk-loading" in m for m in said), said
    assert version != before and store.version() == version
    assert store.count(G + "bulk") == oxstore.BULK_QUADS + 10
    assert store._pending() == [], "the pending-version record outlived the write"
    # the version is the dataset's own now, read again from the store (not from the in-process cache)
    store._version_cache = None
    assert store.version() == version
    store.close()


@pytest.mark.parametrize("path", ["disk", "memory"])
def test_replacing_a_new_graph_by_a_bulk_write_keeps_the_data(tmp_path, path):
    """Store.replace_graph drops the graph and inserts: for a graph that holds nothing, a pure insert."""
    store = OxigraphStore(IRIS, tmp_path / "store" if path == "disk" else None)
    triples = [q.triple for q in quads(oxstore.BULK_QUADS + 5)]
    said: list[str] = []
    store.apply(drop=[G + "bulk"], insert=quads(oxstore.BULK_QUADS + 5), progress=said.append)
    assert any("bulk-loading" in m for m in said)
    assert set(store.triples(G + "bulk")) == set(triples)
    store.replace_graph(G + "new", triples)
    assert store.count(G + "new") == len(triples)
    store.close()


def test_a_bulk_sized_write_that_deletes_is_one_transaction(tmp_path):
    store = OxigraphStore(IRIS, tmp_path / "store")
    store.apply(insert=quads(5))
    said: list[str] = []
    store.apply(insert=quads(oxstore.BULK_QUADS, start=5), delete=quads(5), progress=said.append)
    assert not any("bulk-loading" in m for m in said)
    assert store.count(G + "bulk") == oxstore.BULK_QUADS
    store.close()


def test_replacing_a_graph_by_an_import_writes_only_the_difference(tmp_path, monkeypatch):
    """Replace mode: the target keeps the triples the new file shares with it; an unchanged re-import writes
    only its provenance record; with a low bulk threshold, a pure addition is bulk-loaded."""
    monkeypatch.setattr(oxstore, "BULK_QUADS", 1)
    settings = import_settings(store=str(tmp_path / "store"))
    store = open_store(settings)
    imp = Importer(store, settings)
    src = Source.from_file(DATA / "base.ttl")
    first = imp.import_sources([src], graph=G + "base")
    content = set(store.triples(G + "base"))
    assert content and len(content) == first.added  # the first import, bulk-loaded, wrote the whole file
    again = imp.import_sources([src], graph=G + "base")
    assert (again.added, again.removed) == (0, 0)
    assert set(store.triples(G + "base")) == content
    assert again.version != first.version  # the record is a write: a new version
    assert store._pending() == []
    store.close()


CRASH_CHILD = textwrap.dedent("""
    import os, signal, sys
    import pyoxigraph as ox
    from kb.namespaces import Iris
    from kb.store import oxigraph as oxstore
    store = oxstore.OxigraphStore(Iris(sys.argv[2]), sys.argv[1])
    def crash(self, drop=()):
        if self._pending():
            os.kill(os.getpid(), signal.SIGKILL)  # a crash right after the bulk load, before step 2
    oxstore.OxigraphStore._finish_pending = crash
    g = ox.NamedNode(sys.argv[2] + "graph/bulk")
    p = ox.NamedNode("http://example.org/p")
    store.apply(insert=[ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), p, ox.Literal(str(i)), g)
                        for i in range(oxstore.BULK_QUADS)])
    print("not killed")
""")


def test_a_crash_between_the_bulk_load_and_the_version_update_is_finished_at_the_next_opening(tmp_path):
    path = tmp_path / "store"
    store = OxigraphStore(IRIS, path)
    store.apply(insert=quads(3, graph=G + "other"))
    old = store.version()
    store.close()
    del store
    gc.collect()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", CRASH_CHILD, str(path), BASE], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -9, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    # a reader sees the whole write and its new version already
    reader = OxigraphStore(IRIS, path, read_only=True)
    pending = reader._pending()
    assert len(pending) == 1
    assert reader.version() == pending[0][1] != old
    assert reader.count(G + "bulk") == oxstore.BULK_QUADS
    del reader
    gc.collect()
    # opening for writing finishes step 2: the dataset's own version is the pending one, the record is gone
    store = OxigraphStore(IRIS, path)
    assert store._pending() == []
    store._version_cache = None
    assert store.version() == pending[0][1]
    assert store.count(G + "bulk") == oxstore.BULK_QUADS and store.count(G + "other") == 3
    store.close()


@pytest.mark.slow
def test_sigkill_during_bulk_loads_leaves_none_or_all(tmp_path):
    """pyoxigraph's bulk loader ingests its SST files in one RocksDB call: a process killed at any moment of a
    bulk write leaves the store as before it or with the whole write (and its version)."""
    import random
    import time

    path = tmp_path / "store"
    store = OxigraphStore(IRIS, path)
    store.apply(insert=quads(3, graph=G + "other"))
    store.close()
    del store
    gc.collect()
    child = textwrap.dedent("""
        import sys
        import pyoxigraph as ox
        from kb.namespaces import Iris
        from kb.store.oxigraph import OxigraphStore
        store = OxigraphStore(Iris(sys.argv[2]), sys.argv[1])
        g = ox.NamedNode(sys.argv[2] + "graph/bulk" + sys.argv[3])
        p = ox.NamedNode("http://example.org/p")
        batch = [ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), p, ox.Literal(str(i)), g) for i in range(200000)]
        print("go", flush=True)
        store.apply(insert=batch)
        print("done", flush=True)
    """)
    rng = random.Random(7)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    outcomes = []
    for i in range(8):
        proc = subprocess.Popen([sys.executable, "-c", child, str(path), BASE, str(i)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "go"
        time.sleep(rng.uniform(0.3, 3.0))
        proc.kill()
        proc.wait()
        store = OxigraphStore(IRIS, path)
        n = store.count(G + f"bulk{i}")
        assert n in (0, 200000), f"half a bulk write: {n} quads"
        assert store._pending() == []
        assert store.count(G + "other") == 3
        outcomes.append(n)
        store.close()
        del store
        gc.collect()
    print("bulk writes left whole / not at all:", outcomes)


def _sst_files(folder: Path) -> int:
    return sum(1 for f in folder.iterdir() if f.suffix == ".sst")


@pytest.fixture
def compact_small_stores(monkeypatch):
    """Compaction is only worth it from COMPACT_MIN_BYTES (hundreds of MB): these tests' stores are small."""
    monkeypatch.setattr(oxstore, "COMPACT_MIN_BYTES", 0)


def test_a_bulk_write_that_is_most_of_the_store_is_followed_by_a_compaction(tmp_path, compact_small_stores):
    """A bulk load's SST files overlap the store's and RocksDB merges them only slowly; a bulk write that adds
    a large share of the store is compacted at once (fewer files to read for every query from then on)."""
    n = oxstore.BULK_QUADS * 3
    control = ox.Store(str(tmp_path / "control"))  # the same two bulk loads without the compactions
    for start in (0, n):
        control.bulk_load(ox.serialize(quads(n, start=start), format=ox.RdfFormat.N_QUADS), ox.RdfFormat.N_QUADS)
    control.flush()
    uncompacted = _sst_files(tmp_path / "control")
    del control
    store = OxigraphStore(IRIS, tmp_path / "store")
    said: list[str] = []
    store.apply(insert=quads(n), progress=said.append)
    store.apply(insert=quads(n, start=n), progress=said.append)  # half of the store: overlapping files
    assert store.compactions == 2 and sum("compacting" in m for m in said) == 2, said
    assert _sst_files(tmp_path / "store") < uncompacted
    assert store.count(G + "bulk") == 2 * n
    store.close()


def test_a_store_below_the_size_worth_compacting_is_not_compacted(tmp_path):
    store = OxigraphStore(IRIS, tmp_path / "store")
    store.apply(insert=quads(oxstore.BULK_QUADS * 3))
    assert store._sst_bytes() < oxstore.COMPACT_MIN_BYTES and store.compactions == 0
    store.close()


def test_a_bulk_write_that_is_a_small_share_of_the_store_is_not_compacted(tmp_path, compact_small_stores):
    store = OxigraphStore(IRIS, tmp_path / "store")
    store.apply(insert=quads(oxstore.BULK_QUADS * 10))
    assert store.compactions == 1
    said: list[str] = []
    store.apply(insert=quads(oxstore.BULK_QUADS, start=oxstore.BULK_QUADS * 10), progress=said.append)
    assert store.compactions == 1 and not any("compacting" in m for m in said), said
    assert store.count(G + "bulk") == oxstore.BULK_QUADS * 11
    store.close()


def test_the_query_workers_checkpoint_is_made_again_after_a_compaction(tmp_path, monkeypatch, compact_small_stores):
    """A query that arrives while the store is being compacted checkpoints the uncompacted files; the next one
    gets a checkpoint of the compacted store (server.sparql.pool keys checkpoints by version and compactions)."""
    from server.sparql.pool import WorkerPool

    store = OxigraphStore(IRIS, tmp_path / "store")
    store.apply(insert=quads(10))
    pool = WorkerPool(store, 1, BASE)
    try:
        first = pool._current_checkpoint()
        assert pool._current_checkpoint() == first  # the same state: the same checkpoint
        during: list[str] = []
        files_during: list[int] = []
        real = store.raw.optimize

        def optimize_while_a_query_arrives():
            during.append(pool._current_checkpoint())
            files_during.append(_sst_files(Path(during[0])))
            real()

        monkeypatch.setattr(store, "_store", _Wrapped(store.raw, optimize_while_a_query_arrives))
        store.apply(insert=quads(oxstore.BULK_QUADS * 2, start=10))
        assert store.compactions == 1 and len(during) == 1 and during[0] != first
        after = pool._current_checkpoint()
        assert after not in (first, during[0])
        assert _sst_files(Path(after)) < files_during[0]
    finally:
        pool.close()
        store.close()


class _Wrapped:
    """A pyoxigraph Store with one method replaced (its own attributes cannot be set)."""

    def __init__(self, inner, optimize):
        self._inner, self.optimize = inner, optimize

    def __getattr__(self, name):
        return getattr(self._inner, name)
