"""The document cache keeps each document once, gzipped (a fraction of the bytes of the identity body): clients
that accept gzip get those bytes, the others the same document decompressed; JSON-LD documents are the same
bytes in every process (rdflib orders nodes by a hash-seeded set: they are sorted)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

from ld_sample_data import AGENCY, BASE, EVENTS, sample_app

ROOT = Path(__file__).resolve().parent.parent.parent


def test_one_gzipped_entry_serves_both_kinds_of_client():
    app = sample_app(page_size=100)
    client = app.test_client()
    cache = app.extensions.get("kb.ld")
    url = f"/doc/{AGENCY[len(BASE) + 3:]}.ttl"
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.headers["Content-Encoding"] == "gzip"
    cache = app.extensions["kb.ld"]["cache"]
    entries = [k for k in cache.data if isinstance(k, tuple) and k and k[1:2] == (AGENCY[len(BASE) + 3:],)]
    assert len(entries) == 1
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    assert gzip.decompress(zipped.get_data()) == plain.get_data()
    assert plain.headers["ETag"] == zipped.headers["ETag"] and plain.headers["Link"] == zipped.headers["Link"]
    assert len([k for k in cache.data if isinstance(k, tuple) and k[1:2] == (AGENCY[len(BASE) + 3:],)]) == 1
    assert cache.get(entries[0])[0] == zipped.get_data(), "the cache holds the gzip form"
    # and it weighs what it holds: the gzip bytes, well below the identity body
    assert len(zipped.get_data()) < len(plain.get_data()) / 2
    again = client.get(url, headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304


def test_documents_are_kept_in_a_fraction_of_their_bytes():
    from server.http_common import document_weight

    app = sample_app(page_size=100)
    client = app.test_client()
    sizes = 0
    paths = [e[len(BASE) + 3:] for e in EVENTS + [AGENCY]]
    for path in paths:
        r = client.get(f"/doc/{path}", headers={"Accept": "text/html"})
        assert r.status_code == 200
        sizes += len(r.get_data())
    cache = app.extensions["kb.ld"]["cache"]
    kept = [v for k, v in cache.data.items() if isinstance(k, tuple) and len(k) > 1 and k[1] in paths]
    assert len(kept) == len(paths)
    assert sum(document_weight(v) for v in kept) < sizes / 2


_JSONLD_SCRIPT = """
import sys
sys.path[:0] = [{root!r}]
from kb.namespaces import Iris
from kb.store.oxigraph import OxigraphStore
from server import create_app
store = OxigraphStore(Iris({base!r}), {store!r}, read_only=True)
client = create_app({{"store": "memory", "page_size": 100}}, store=store, load_if_empty=False).test_client()
for path in {paths!r}:
    sys.stdout.buffer.write(client.get("/doc/" + path + ".jsonld").get_data() + b"\\n--\\n")
"""


def test_jsonld_documents_are_the_same_bytes_whatever_the_hash_seed(tmp_path):
    from kb.namespaces import Iris
    from kb.store.oxigraph import OxigraphStore

    from ld_sample_data import sample_store

    folder = tmp_path / "store"
    disk = OxigraphStore(Iris(BASE), folder)
    disk.apply(insert=list(sample_store().quads()))
    disk.close()
    paths = [iri[len(BASE) + 3:] for iri in [AGENCY] + EVENTS[:3]]  # events: blank-node participations
    script = _JSONLD_SCRIPT.format(root=str(ROOT), base=BASE, store=str(folder), paths=paths)
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed, KB_LOG_LEVEL="WARNING")
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, env=env, timeout=120, check=True)
        outputs.append(out.stdout)
    assert outputs[0] == outputs[1]
    docs = outputs[0].split(b"\n--\n")[:-1]
    assert len(docs) == 4 and all(json.loads(d)["@context"] for d in docs)
    graph = json.loads(docs[1])["@graph"]
    assert any(n["@id"].startswith("_:") for n in graph), "an event's participation is a blank node"
    assert [n["@id"] for n in graph] == sorted(n["@id"] for n in graph)
