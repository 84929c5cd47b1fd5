"""The import workload: 1,000-triple batches into the big KB, and one big file, through `kb import`
(validated, committed; wall clock, Python start included, as a contributor or a CI job runs it)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from . import generate
from .peers import ROOT, VENV_BIN

KB = str(VENV_BIN / "kb")


def available() -> tuple[bool, str]:
    out = subprocess.run([KB, "import", "--help"], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        return False, "`kb import` does not exist yet (issue 5)"
    return True, ""


def _import(store: Path, path: Path, graph: str, timeout: float) -> tuple[float | None, int, str]:
    env = dict(os.environ, KB_STORE=str(store))
    t0 = time.perf_counter()
    try:
        out = subprocess.run([KB, "import", str(path), "--graph", graph], capture_output=True, text=True,
                             env=env, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, -1, f"timed out after {timeout:.0f} s"
    return time.perf_counter() - t0, out.returncode, " ".join((out.stdout + out.stderr)[-300:].split())


def batches(store_src: Path, size: int, seed: int, folder: Path, *, n: int = 5, timeout: float = 120) -> dict:
    """Import n batches of ~1,000 triples (new events referencing the KB's agencies, actions, places,
    documents) one after the other into a copy of the big store."""
    ok, why = available()
    if not ok:
        return {"what": "1,000-triple import into the big KB (median)", "value": None, "note": why}
    store = folder / "import-store"
    if store.exists():
        shutil.rmtree(store)
    shutil.copytree(store_src, store)
    world = generate.rebuild_world(size, seed)
    times, notes = [], []
    for k in range(n):
        path = folder / f"batch-{k}.nt"
        with open(path, "w", encoding="utf-8") as fh:
            generate.batch(fh, world, 1000, k)
        secs, code, tail = _import(store, path, f"https://w3id.org/thb-kb/graph/bench-batch-{k}", timeout)
        if secs is None or code != 0:
            notes.append(f"batch {k}: exit {code}: {tail.strip()[-200:]}")
            continue
        times.append(secs)
    shutil.rmtree(store, ignore_errors=True)
    label = generate.size_label(size)
    return {"what": f"1,000-triple import into the {label} KB (median of {len(times)})",
            "value": statistics.median(times) if times else None, "unit": " s", "size": label,
            "runs": times, "note": "; ".join(notes)}


def big_file(data: Path, size: int, folder: Path, *, timeout: float = 600) -> dict:
    """Import the whole generated file into an empty store; triples per second."""
    label = generate.size_label(size)
    what = f"{label}-triple file import into an empty store"
    ok, why = available()
    if not ok:
        return {"what": what, "value": None, "note": why}
    store = folder / "import-big-store"
    if store.exists():
        shutil.rmtree(store)
    secs, code, tail = _import(store, data, "https://w3id.org/thb-kb/graph/bench-import", timeout)
    shutil.rmtree(store, ignore_errors=True)
    if secs is None:
        return {"what": what, "value": size / timeout, "unit": " triples/s", "size": label,
                "note": f"did not finish in {timeout:.0f} s: the rate is an upper bound"}
    if code == 1 and "does not conform" in tail:
        # the generated data conforms (tests/bench check it against the shapes), so this rejection is the
        # importer's; an import that succeeded would have taken at least as long: the rate is an upper bound
        return {"what": what, "value": size / secs, "unit": " triples/s", "size": label, "seconds": secs,
                "note": f"REJECTED after {secs:.0f} s although the file conforms (upper bound): {tail.strip()[-160:]}"}
    if code != 0:
        return {"what": what, "value": None, "note": f"exit {code}: {tail.strip()[-200:]}"}
    return {"what": what, "value": size / secs, "unit": " triples/s", "size": label, "seconds": secs, "note": ""}


def http_batches(store_src: Path, size: int, seed: int, folder: Path, workdir: Path, *, n: int = 5,
                 timeout: float = 120) -> dict:
    """The same batches through a running server: `PUT /graphs?graph=IRI` (Graph Store Protocol, bearer
    token), one after the other; request to response (validated and committed), the server warm."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from .peers import start_thbkb

    label = generate.size_label(size)
    what = f"1,000-triple import into the {label} KB over HTTP (PUT /graphs)"
    store = folder / "import-http-store"
    if store.exists():
        shutil.rmtree(store)
    shutil.copytree(store_src, store)
    token = "bench-write-token"
    peer = start_thbkb("thb-kb (writes)", str(store), workdir, extra_env={"KB_WRITE_TOKEN": token})
    world = generate.rebuild_world(size, seed)
    times, notes = [], []
    try:
        for k in range(n + 1):  # the first one warms the validation worker up; not counted
            path = folder / f"batch-http-{k}.nt"
            with open(path, "w", encoding="utf-8") as fh:
                generate.batch(fh, world, 1000, 100 + k)
            graph = f"https://w3id.org/thb-kb/graph/bench-http-batch-{k}"
            url = f"{peer.doc_base}/graphs?{urllib.parse.urlencode({'graph': graph})}"
            req = urllib.request.Request(url, data=path.read_bytes(), method="PUT", headers={
                "Content-Type": "application/n-triples", "Authorization": f"Bearer {token}"})
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    resp.read()
                    status = resp.status
            except urllib.error.HTTPError as exc:
                status = exc.code
                notes.append(f"batch {k}: HTTP {status}: {' '.join(exc.read()[:200].decode('utf-8', 'replace').split())}")
            secs = time.perf_counter() - t0
            if status in (200, 201, 204) and k > 0:
                times.append(secs)
            if status == 404 or status == 405:
                break
    finally:
        peer.stop()
        shutil.rmtree(store, ignore_errors=True)
    return {"what": f"{what} (median of {len(times)}, after one warm-up)",
            "value": statistics.median(times) if times else None, "unit": " s", "size": label, "runs": times,
            "note": "; ".join(notes)}
