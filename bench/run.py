"""One benchmark run: for each data size, start the peers on the same data, run the workloads, stop them;
then the CLI timings, the import workload and the start-up measurement; the results as JSON and tables."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import cli_timings, generate, imports, load, machine, peers, queries
from .peers import Peer
from .targets import PEER_ENGINE, PEER_RDFLIB, PEER_THB, PEER_THB_VIRTUOSO, PEER_VIRTUOSO

RESULTS = Path(__file__).resolve().parent / "results"
SPARQL_JSON = "application/sparql-results+json"


@dataclass
class Config:
    mode: str
    sizes: list[int]
    peers: set[str]
    query_reps: int = 5
    query_budget: float = 10.0  # seconds per (peer, query) series, after the first request
    query_timeout: float = 30.0
    connections: tuple[int, ...] = (1, 8, 16)
    load_seconds: float = 4.0
    load_reps: int = 3  # runs at 8 and 16 connections (one at 1 connection, and one below `light_below`)
    light_below: int = 1_000_000
    rdflib_max: int = 1_000_000  # rdflib-endpoint is not run above this size (memory, load time)
    cli_reps: int = 3
    imports: bool = True
    import_timeout: float = 120.0
    cli: bool = True
    startups: int = 3
    profile: bool = True
    profile_at: str = "1M"
    seed: int = 42


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _stamp(data: Path) -> str:
    st = data.stat()
    return f"{data.name} {st.st_size} {int(st.st_mtime)}"


def generator_hash() -> str:
    """A fingerprint of what the generator writes (a small world's bytes): cached data files stay valid
    across refactors and are regenerated when the output changes."""
    import io

    buf = io.StringIO()
    generate.generate(buf, 20_000, 1, with_ontology=False)
    return hashlib.sha256(buf.getvalue().encode()).hexdigest()[:16]


def ensure_data(size: int, cfg: Config, results: dict) -> Path:
    label = generate.size_label(size)
    data = RESULTS / "data" / f"kb-{label}-seed{cfg.seed}.nt"
    stamp = data.with_name(data.name + ".stamp")
    want = generator_hash()
    if data.exists() and stamp.exists() and json.loads(stamp.read_text())["hash"] == want:
        info = json.loads(stamp.read_text())
        if "entities" not in queries.load_pools(data):
            generate.refresh_params(data, size, cfg.seed)
        results.setdefault("generation", {})[label] = {"seconds": info["seconds"], "note": "cached (same generator)"}
        return data
    log(f"generating {label} triples")
    t0 = time.perf_counter()
    generate.write_dataset(data, size, cfg.seed)
    secs = time.perf_counter() - t0
    stamp.write_text(json.dumps({"hash": want, "seconds": secs}))
    results.setdefault("generation", {})[label] = {"seconds": secs, "note": ""}
    return data


def ensure_store(data: Path) -> tuple[Path, float, str]:
    folder = RESULTS / "stores" / data.stem
    marker = folder.with_name(folder.name + ".loaded")
    if folder.exists() and marker.exists() and marker.read_text().split("|")[0] == _stamp(data):
        return folder, float(marker.read_text().split("|")[1]), "store reused (bulk-loaded earlier)"
    log(f"bulk-loading {data.name} into the embedded store")
    secs = peers.build_embedded_store(data, folder)
    marker.write_text(f"{_stamp(data)}|{secs}")
    return folder, secs, "bulk load (pyoxigraph Store.bulk_load)"


def doc_path(iri: str, suffix: str) -> str:
    rest = iri.split("/id/", 1)[1]
    return "/doc/" + urllib.parse.quote(rest) + "." + suffix


def _probe(peer: Peer) -> str | None:
    url = peer.sparql_url + "?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"})
    try:
        status, body = peers.http_get(url, timeout=30)
    except OSError as exc:
        return f"SPARQL endpoint unreachable: {exc}"
    return None if status == 200 else f"{peer.sparql_path} answered HTTP {status} (endpoint not there yet?)"


def _wait_idle(peer: Peer, timeout: float) -> None:
    try:
        peers.wait_ready(peer.sparql_url + "?" + urllib.parse.urlencode({"query": "ASK {}"}), None, timeout,
                         interval=1.0)
    except RuntimeError:
        pass


def run_queries(live: list[Peer], pools: dict, cfg: Config, res: dict) -> None:
    for t in queries.templates():
        variants = [t.render(pools, i) for i in range(cfg.query_reps)]
        rows_seen = {}
        for p in live:
            # a warm-up round of the same variants first, not counted (other nonces: no cache answers it):
            # every peer's caches (Virtuoso's buffers, RocksDB's open files and blocks in each query worker)
            # then hold what the query reads, as in a server that has been up for a while
            warm = [queries.query_path(p.sparql_path, v, f"{t.name}-warm-{i}") for i, v in enumerate(variants)]
            if load.latency_series(p.host_port, warm, SPARQL_JSON, timeout=cfg.query_timeout,
                                   budget=cfg.query_budget).timeouts:
                _wait_idle(p, cfg.query_timeout * 5)
            targets = [queries.query_path(p.sparql_path, v, f"{t.name}-{i}") for i, v in enumerate(variants)]
            with machine.CpuWatch(_pids(p, live)) as watch:
                s = load.latency_series(p.host_port, targets, SPARQL_JSON, timeout=cfg.query_timeout,
                                        budget=cfg.query_budget)
            r = {"median_ms": s.median * 1000 if s.median is not None else None, "n": len(s.times),
                 "rows": s.rows, "timeouts": s.timeouts, "timeout_s": cfg.query_timeout, "error": s.error,
                 "cpu": watch.as_dict()}
            other = watch.other_s / watch.seconds if watch.seconds else 0.0
            if watch.seconds >= 1.0 and other > 0.3:  # a peer still evaluating a query whose client gave up,
                # say (shorter windows are below the 10 ms resolution of the kernel's CPU counters)
                res["notes"].append(f"{t.name} on {p.name}: other work took {other:.2f} cores meanwhile")
            res["queries"].setdefault(p.name, {})[t.name] = r
            rows_seen[p.name] = s.rows
            if s.timeouts:
                _wait_idle(p, cfg.query_timeout * 5)
        counts = {k: v for k, v in rows_seen.items() if v is not None}
        if len(set(counts.values())) > 1:
            values = list(counts.values())
            usual = max(set(values), key=values.count)
            res["notes"].append(f"{t.name}: result rows differ between peers for the same query: {counts}")
            for name, v in counts.items():
                if v != usual:
                    res["queries"][name][t.name]["rows_ok"] = False
        log(f"  {t.name}: " + ", ".join(f"{n} {r[t.name]['median_ms'] or float('nan'):.1f} ms"
                                         for n, r in res["queries"].items() if t.name in r))


def _pids(peer: Peer, live: list[Peer]) -> list[int]:
    """The processes that serve `peer`'s requests: its own, and for thb-kb on Virtuoso the Virtuoso too."""
    def own(p: Peer) -> int | None:
        return p.proc.pid if p.proc is not None else getattr(p, "pid", None)

    pids = [own(peer)]
    if peer.name == PEER_THB_VIRTUOSO:
        pids += [own(p) for p in live if p.name == PEER_VIRTUOSO]
    return [p for p in pids if p]


def _reps(cfg: Config, size: int, connections: int) -> int:
    return cfg.load_reps if connections >= 8 and size >= cfg.light_below else 1


def run_mix(live: list[Peer], pools: dict, cfg: Config, res: dict, size: int) -> None:
    for p in live:
        targets = queries.mix_paths(p.sparql_path, pools)
        base = f"http://{p.host_port}"
        for c in cfg.connections:
            slow = p.name == PEER_RDFLIB
            best, runs = load.concurrent(base, targets, SPARQL_JSON, c, cfg.load_seconds * (3 if slow else 1),
                                         1 if slow else _reps(cfg, size, c), timeout=cfg.query_timeout,
                                         server_pids=_pids(p, live))
            res["mix"].setdefault(p.name, {})[str(c)] = best.as_dict() | {"runs": [r.rps for r in runs]}
            log(f"  mix {p.name} c={c}: {best.rps:.1f} req/s p99 {best.p99_ms:.1f} ms errors {best.errors}")
            if slow and best.errors:
                _wait_idle(p, cfg.query_timeout * 5)


def run_deref(live: list[Peer], thb: Peer | None, pools: dict, cfg: Config, res: dict, size: int) -> None:
    entities = pools["entities"]
    if thb is not None:
        status, _ = peers.http_get(thb.doc_base + doc_path(entities[0], "ttl"), accept="text/turtle")
        if status != 200:
            res["deref_note"] = f"/doc/... answered HTTP {status}: entity documents not there yet (issue 3)"
            res["notes"].append(res["deref_note"])
        else:
            for kind, accept in (("ttl", "text/turtle"), ("html", "text/html")):
                targets = [doc_path(e, kind) for e in entities]
                for c in cfg.connections:
                    best, runs = load.concurrent(thb.doc_base, targets, accept, c, cfg.load_seconds,
                                                 cfg.load_reps if c == 16 and size >= cfg.light_below else 1,
                                                 server_pids=_pids(thb, live))
                    res["deref"].setdefault(PEER_THB, {}).setdefault(kind, {})[str(c)] = best.as_dict()
                    log(f"  doc .{kind} c={c}: {best.rps:.1f} req/s p99 {best.p99_ms:.1f} ms errors {best.errors}")
                # the same with 100 entities requested over and over (the document cache then answers)
                hot = targets[:100]
                best, _ = load.concurrent(thb.doc_base, hot, accept, 16, cfg.load_seconds, 1,
                                          server_pids=_pids(thb, live))
                res["deref"][PEER_THB].setdefault(f"{kind} (100 hot entities)", {})["16"] = best.as_dict()
    for p in live:
        if p.name in (PEER_RDFLIB, PEER_VIRTUOSO):
            targets = [queries.query_path(p.sparql_path, f"DESCRIBE <{e}>") for e in entities]
            for c in (1, 16):
                best, _ = load.concurrent(f"http://{p.host_port}", targets, "text/turtle", c, cfg.load_seconds, 1,
                                          timeout=cfg.query_timeout, server_pids=_pids(p, live))
                res["deref"].setdefault(p.name, {}).setdefault("DESCRIBE", {})[str(c)] = best.as_dict()
                log(f"  DESCRIBE {p.name} c={c}: {best.rps:.1f} req/s p99 {best.p99_ms:.1f} ms")


def profile_server(thb: Peer, pools: dict, res: dict) -> None:
    """py-spy samples of thb-kb under the query mix and the document workloads (where the time goes)."""
    from .profile import profile_under_load

    entities = pools["entities"]
    jobs = {"sparql": (queries.mix_paths(thb.sparql_path, pools), SPARQL_JSON),
            "doc-ttl": ([doc_path(e, "ttl") for e in entities], "text/turtle"),
            "doc-html": ([doc_path(e, "html") for e in entities], "text/html")}
    for name, (targets, accept) in jobs.items():
        if name.startswith("doc") and "deref_note" in res:
            continue
        out = RESULTS / f"profile-server-{name}.txt"
        log(f"  py-spy: thb-kb under the {name} workload -> {out.name}")
        res.setdefault("profiles", {})[name] = profile_under_load(thb, thb.doc_base, targets, accept, out)


def run_size(size: int, cfg: Config, results: dict, workdir: Path) -> dict:
    label = generate.size_label(size)
    res: dict = {"peers": {}, "skipped": {}, "queries": {}, "mix": {}, "deref": {}, "notes": []}
    data = ensure_data(size, cfg, results)
    pools = queries.load_pools(data)
    res["triples"] = pools["triples"]
    started: list[Peer] = []
    rdfe = virt = thb = thbv = None
    try:
        if PEER_RDFLIB in cfg.peers and size <= cfg.rdflib_max:
            rdfe = peers.start_rdflib_endpoint(data, workdir)
            started.append(rdfe)
        elif PEER_RDFLIB in cfg.peers:
            res["skipped"][PEER_RDFLIB] = f"not run above {generate.size_label(cfg.rdflib_max)} (in-memory rdflib)"
        folder, load_s, note = ensure_store(data)
        res["peers"][PEER_THB] = {"load_s": load_s, "notes": [note]}
        if PEER_VIRTUOSO in cfg.peers:
            try:
                log("starting Virtuoso")
                buffers = max(20000, min(250000, size // 20))
                virt = peers.start_virtuoso(data, RESULTS / "virtuoso" / data.stem, buffers=buffers)
                res["peers"][PEER_VIRTUOSO] = {"load_s": virt.load_seconds, "ready_s": virt.ready_seconds,
                                               "notes": virt.notes + [f"NumberOfBuffers={buffers}"]}
            except Exception as exc:  # noqa: BLE001 - a peer that cannot start is reported, the run goes on
                res["skipped"][PEER_VIRTUOSO] = " ".join(f"{type(exc).__name__}: {exc}"[:300].split())
        if PEER_THB in cfg.peers:
            try:
                thb = peers.start_thbkb(PEER_THB, str(folder), workdir)
                started.append(thb)
                res["peers"][PEER_THB].update({"ready_s": thb.ready_seconds, "rss_mb": thb.rss()})
            except RuntimeError as exc:
                res["skipped"][PEER_THB] = " ".join(str(exc)[-300:].split())
        if PEER_THB_VIRTUOSO in cfg.peers:
            if virt is None:
                res["skipped"][PEER_THB_VIRTUOSO] = "Virtuoso is not running"
            elif not peers.remote_store_available():
                res["skipped"][PEER_THB_VIRTUOSO] = "kb/store/remote.py does not exist yet (issue 7)"
            else:
                store, env = peers.virtuoso_store_env(virt)
                try:
                    thbv = peers.start_thbkb(PEER_THB_VIRTUOSO, store, workdir, extra_env=env)
                    started.append(thbv)
                    res["peers"][PEER_THB_VIRTUOSO] = {"ready_s": thbv.ready_seconds, "rss_mb": thbv.rss(), "notes": []}
                except RuntimeError as exc:
                    res["skipped"][PEER_THB_VIRTUOSO] = str(exc)[-300:]
        if rdfe is not None:
            log("waiting for rdflib-endpoint to parse the file")
            try:
                peers.wait_rdflib_endpoint(rdfe, 1800)
                res["peers"][PEER_RDFLIB] = {"ready_s": rdfe.ready_seconds, "rss_mb": rdfe.rss(), "notes": rdfe.notes}
            except RuntimeError as exc:
                res["skipped"][PEER_RDFLIB] = str(exc)[-300:]
                rdfe = None
        if virt is not None:
            res["peers"][PEER_VIRTUOSO]["rss_mb"] = peers.virtuoso_rss(virt)
        live = []
        for p in (thb, thbv, virt, rdfe):
            if p is None:
                continue
            why = _probe(p)
            if why:
                res["skipped"][p.name] = why
            else:
                live.append(p)
        if thb is not None and thb in live and size <= peers.replica_quads():
            copies = peers.wait_query_copies(thb)
            res["peers"][PEER_THB]["notes"].append(
                f"query workers on their in-memory copies after {copies:.1f} s" if copies is not None
                else "query workers still on the store on disk after 300 s")
        settled = machine.wait_quiet()
        res["settled"] = settled
        log(f"{label}: peers settled after {settled['waited_s']} s (busy {settled['busy_cores']} cores)")
        log(f"{label}: measuring {', '.join(p.name for p in live)}")
        run_queries(live, pools, cfg, res)
        run_mix(live, pools, cfg, res, size)
        run_deref(live, thb, pools, cfg, res, size)
        if cfg.profile and thb is not None and thb in live and label == cfg.profile_at:
            profile_server(thb, pools, res)
        for p in (thb, thbv, rdfe):
            if p is not None and p.name in res["peers"]:
                res["peers"][p.name]["rss_after_mb"] = p.rss()
        if thb is not None:
            res["peers"][PEER_THB]["notes"].append(f"RSS after the workloads {thb.rss() or 0:.0f} MB")
    finally:
        for p in started:
            p.stop()
        if virt is not None:
            peers.stop_virtuoso(virt)
    if PEER_THB in cfg.peers:
        in_process(folder, pools, cfg, res)
    res["store"] = str(folder)
    return res


def in_process(folder: Path, pools: dict, cfg: Config, res: dict) -> None:
    """The same queries on the same store without HTTP (pyoxigraph in this process): the engine's own
    time, so the tables show how much of thb-kb's latency the server adds."""
    import pyoxigraph as ox

    store = ox.Store.read_only(str(folder))
    out = res["queries"].setdefault(PEER_ENGINE, {})
    for t in queries.templates():
        times = []
        for i in range(cfg.query_reps):
            t0 = time.perf_counter()
            rows = store.query(t.render(pools, i), use_default_graph_as_union=True)
            n = sum(1 for _ in rows)
            times.append(time.perf_counter() - t0)
            if i == 0:
                first = n
        times.sort()
        out[t.name] = {"median_ms": times[len(times) // 2] * 1000, "n": len(times), "rows": first}
    del store


def measure_startup(folder: Path, label: str, cfg: Config, results: dict, workdir: Path, rss_after: float | None) -> None:
    ready, rss, first_query = [], [], []
    ask = "?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"})
    for _ in range(cfg.startups):
        p = peers.start_thbkb(PEER_THB, str(folder), workdir)
        ready.append(p.ready_seconds)
        rss.append(p.rss())
        try:
            peers.wait_ready(p.sparql_url + ask, p.proc, 120, p.log, interval=0.01)
            first_query.append(time.perf_counter() - p.spawned)  # type: ignore[attr-defined]
        except RuntimeError:
            pass
        p.stop()
    ready.sort()
    rss.sort()
    first_query.sort()
    fq = first_query[len(first_query) // 2] if first_query else None
    results["startup"] = {"size": label, "starts": len(ready), "ready_s": ready[len(ready) // 2],
                          "first_query_s": fq, "rss_ready_mb": rss[len(rss) // 2], "rss_after_mb": rss_after,
                          "note": "kb serve --gunicorn --no-load until GET /healthz answers 200"
                                  + (f"; first SPARQL answer after {fq:.2f} s" if fq is not None else "")}


def run(cfg: Config, on_result: Callable[[dict], None] | None = None) -> dict:
    from .machine import describe

    workdir = RESULTS / "logs"
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict = {"meta": {"mode": cfg.mode, "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                              **describe()}, "sizes": {}}
    t_start = time.perf_counter()
    if not load.have_wrk():
        log("wrk not found: concurrent runs use the Python load generator (Debian: apt-get install wrk)")
    if cfg.profile:
        from .profile import py_spy

        if py_spy() is None:
            log("py-spy not found: no server profiles (pip install py-spy)")
    last_store = None
    stores: dict[int, Path] = {}
    for size in cfg.sizes:
        label = generate.size_label(size)
        log(f"=== {label} triples")
        results["sizes"][label] = run_size(size, cfg, results, workdir)
        last_store = (Path(results["sizes"][label]["store"]), label, size)
        stores[size] = last_store[0]
        if on_result:
            on_result(results)
    if last_store is not None and PEER_THB in cfg.peers:
        folder, label, size = last_store
        log(f"start-up time and memory on the {label} store")
        rss_after = results["sizes"][label]["peers"].get(PEER_THB, {}).get("rss_after_mb")
        try:
            measure_startup(folder, label, cfg, results, workdir, rss_after)
        except RuntimeError as exc:
            results["startup"] = {"size": label, "note": " ".join(str(exc)[-300:].split())}
    if cfg.cli:
        log("CLI timings")
        results["cli"] = cli_timings.run(RESULTS / "data", cfg.cli_reps)
    if cfg.imports and last_store is not None:
        # the import targets are stated for a 1M-triple KB: its store when this run built it
        size = 1_000_000 if 1_000_000 in stores else last_store[2]
        folder, label = stores[size], generate.size_label(size)
        imp_size = size if cfg.mode == "full" else 10_000
        log(f"import workload: batches into the {label} store, a {generate.size_label(imp_size)} file")
        try:
            http = imports.http_batches(folder, size, cfg.seed, RESULTS / "import", workdir, n=cfg.cli_reps + 2)
        except RuntimeError as exc:
            http = {"what": "1,000-triple import over HTTP", "value": None, "note": " ".join(str(exc)[-300:].split())}
        results["import"] = {
            "batch_1k": http,
            "batch_1k_cli": imports.batches(folder, size, cfg.seed, RESULTS / "import", n=cfg.cli_reps + 2)}
        big = ensure_data(imp_size, cfg, results) if cfg.mode == "full" else cli_timings.contributed_file(RESULTS / "data")
        if cfg.mode == "full" and imp_size > 100_000:  # a size that finishes, for the rate itself
            small = ensure_data(100_000, cfg, results)
            results["import"]["file_100k"] = imports.big_file(small, 100_000, RESULTS / "import",
                                                              timeout=cfg.import_timeout)
        results["import"]["file"] = imports.big_file(big, imp_size, RESULTS / "import",
                                                     timeout=cfg.import_timeout)
    if cfg.profile and cfg.cli:
        profile_misses(results)
    results["meta"]["seconds"] = time.perf_counter() - t_start
    results["meta"]["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    return results


def profile_misses(results: dict) -> None:
    """cProfile the CLI commands whose targets are missed (the docs quote the top of each profile)."""
    from .targets import TARGETS, measurements

    ms = measurements(results)
    wanted = {"validate_10k": ["validate", str(cli_timings.contributed_file(RESULTS / "data"))],
              "validate_curated": ["validate", "kb/data"], "help": ["--help"]}
    for t in TARGETS:
        m = ms.get(t.key)
        if t.key in wanted and m and m.value is not None and not t.holds(m.value):
            out = RESULTS / f"profile-{t.key}.txt"
            log(f"profiling {t.key} -> {out}")
            cli_timings.profile(wanted[t.key], out)
            results.setdefault("profiles", {})[t.key] = str(out.relative_to(peers.ROOT))
