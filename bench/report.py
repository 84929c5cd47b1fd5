"""Tables of a run's results: absolute figures, ratios against each peer, and one row per target.

Plain Markdown pipe tables, printed to the terminal and pasted as they are into docs/benchmarks.md.
"""

from __future__ import annotations

from .generate import parse_size
from .targets import PEER_ENGINE, PEER_RDFLIB, PEER_THB, PEER_THB_VIRTUOSO, PEER_VIRTUOSO, evaluate, geomean

PEER_ORDER = (PEER_THB, PEER_THB_VIRTUOSO, PEER_VIRTUOSO, PEER_RDFLIB, PEER_ENGINE)


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}" if v >= 100 else (f"{v:.1f}" if v >= 1 else f"{v:.2f}")


def ratio(v: float | None) -> str:
    return "-" if v is None else (f"{v:,.0f}x" if v >= 100 else f"{v:.1f}x" if v >= 10 else f"{v:.2f}x")


def _peers(d: dict) -> list[str]:
    return [p for p in PEER_ORDER if p in d] + [p for p in d if p not in PEER_ORDER]


def query_table(size_res: dict) -> str:
    """Median latency per query at one client (ms), and each peer's time divided by thb-kb's."""
    q = size_res.get("queries", {})
    peers = _peers(q)
    others = [p for p in peers if p != PEER_THB]
    header = ["query"] + [f"{p} ms" for p in peers] + [f"{p} / thb-kb" for p in others if PEER_THB in q]
    rows = []
    names = sorted({n for p in peers for n in q[p]})
    col_ratios: dict[str, list[float]] = {p: [] for p in others}
    for n in names:
        cells = [n]
        for p in peers:
            r = q[p].get(n, {})
            if r.get("median_ms") is not None:
                cells.append(ms(r["median_ms"]) + ("" if r.get("rows_ok", True) else " (!rows)"))
            elif r.get("timeouts"):
                cells.append(f"> {r['timeout_s'] * 1000:,.0f}")
            else:
                cells.append("err" if r.get("error") else "-")
        if PEER_THB in q:
            base = q[PEER_THB].get(n, {}).get("median_ms")
            for p in others:
                v = q[p].get(n, {}).get("median_ms")
                rv = v / base if v and base else None
                if rv:
                    col_ratios[p].append(rv)
                cells.append(ratio(rv))
        rows.append(cells)
    if PEER_THB in q and names:
        rows.append(["geometric mean"] + [""] * len(peers) + [ratio(geomean(col_ratios[p])) for p in others])
    return table(header, rows)


CPU_HEADER = ["server CPU ms/req", "other CPU, cores"]


def cpu_cells(r: dict) -> list[str]:
    """What the server's processes spent per request, and the cores other work took meanwhile (other peers'
    background work, other users of the machine: a figure below the usual one is explained there)."""
    cpu = r.get("cpu") or {}
    if not cpu or not cpu.get("watched_s"):
        return ["-", "-"]
    per = cpu["server_cpu_s"] * 1000 / r["requests"] if r.get("requests") and cpu["server_cpu_s"] else None
    return [f"{per:.2f}" if per else "-", f"{cpu['other_cpu_s'] / cpu['watched_s']:.2f}"]


def mix_table(size_res: dict) -> str:
    m = size_res.get("mix", {})
    header = ["peer", "connections", "req/s", "p50 ms", "p99 ms", "errors", "thb-kb req/s ÷ peer"] + CPU_HEADER
    rows = []
    for p in _peers(m):
        for c, r in sorted(m[p].items(), key=lambda kv: int(kv[0])):
            base = m.get(PEER_THB, {}).get(c)
            rv = base["rps"] / r["rps"] if base and r["rps"] and p != PEER_THB else None
            rows.append([p, c, f"{r['rps']:,.1f}", ms(r["p50_ms"]), ms(r["p99_ms"]), str(r["errors"]), ratio(rv)]
                        + cpu_cells(r))
    return table(header, rows)


def deref_table(size_res: dict) -> str:
    d = size_res.get("deref", {})
    header = ["peer", "request", "connections", "req/s", "p50 ms", "p99 ms", "errors", "thb-kb Turtle req/s ÷ peer"
              ] + CPU_HEADER
    rows = []
    base = d.get(PEER_THB, {}).get("ttl", {})
    for p in _peers(d):
        for kind, runs in d[p].items():
            for c, r in sorted(runs.items(), key=lambda kv: int(kv[0])):
                b = base.get(c)
                rv = b["rps"] / r["rps"] if b and r["rps"] and p != PEER_THB else None
                rows.append([p, kind, c, f"{r['rps']:,.1f}", ms(r["p50_ms"]), ms(r["p99_ms"]), str(r["errors"]),
                             ratio(rv)] + cpu_cells(r))
    return table(header, rows)


def peers_table(size_res: dict) -> str:
    rows = []
    for p, info in size_res.get("peers", {}).items():
        rows.append([p, ms(info.get("load_s")), ms(info.get("ready_s")), ms(info.get("rss_mb")),
                     "; ".join(info.get("notes", []))])
    for p, why in size_res.get("skipped", {}).items():
        rows.append([p, "-", "-", "-", f"not run: {why}"])
    return table(["peer", "load s", "ready s", "RSS MB", "notes"], rows)


def targets_table(results: dict) -> str:
    rows = [[f"#{r['issue']}", r["what"], r["goal"], r["measured"], r["holds"], r["note"]] for r in evaluate(results)]
    return table(["issue", "target", "goal", "measured", "holds", "note"], rows)


def other_table(results: dict) -> str:
    rows = []
    for key, c in results.get("cli", {}).items():
        rows.append([c.get("what", key), ms(c.get("median_s")) + " s" if c.get("median_s") is not None else "-",
                     c.get("note", "")])
    for key, v in results.get("import", {}).items():
        val = v.get("value")
        unit = v.get("unit", "")
        rows.append([v.get("what", key), "-" if val is None else f"{ms(val)}{unit}", v.get("note", "")])
    st = results.get("startup", {})
    if st:
        rows.append([f"server ready on the {st.get('size')} store (median of {st.get('starts', 0)} starts)",
                     f"{ms(st.get('ready_s'))} s", st.get("note", "")])
        rows.append(["server RSS at ready / after the workloads",
                     f"{ms(st.get('rss_ready_mb'))} / {ms(st.get('rss_after_mb'))} MB", ""])
    for size, g in results.get("generation", {}).items():
        rows.append([f"generate {size} triples", f"{ms(g.get('seconds'))} s", g.get("note", "")])
    return table(["measure", "value", "note"], rows)


def render(results: dict) -> str:
    parts = []
    meta = results.get("meta", {})
    parts.append(f"thb-kb benchmarks ({meta.get('mode', '?')} run, {meta.get('started', '')}; "
                 f"{meta.get('machine', '')})")
    if meta.get("versions"):
        v = meta["versions"]
        parts.append(f"\nCommand: `{meta.get('command', 'python -m bench')}`; commit {meta.get('commit', '?')} "
                     f"({meta.get('uncommitted_files', 0)} tracked files with uncommitted changes); "
                     f"load average at start {' '.join(meta.get('loadavg_start', []))}, at end "
                     f"{' '.join(meta.get('loadavg_end', []))}; {meta.get('seconds', 0):.0f} s.\n"
                     "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".")
    for size in sorted(results.get("sizes", {}), key=parse_size):
        res = results["sizes"][size]
        parts.append(f"\n## {size} triples\n\nPeers\n\n{peers_table(res)}")
        settled = res.get("settled")
        if settled:
            state = "quiet" if settled.get("quiet") else "still busy"
            parts.append(f"\nBefore measuring, the machine was {state} after {settled['waited_s']} s "
                         f"(busy {settled['busy_cores']} cores over the last second).")
        if res.get("queries"):
            parts.append(f"\nQuery mix, one client: median latency per query (ms) and ratios\n\n{query_table(res)}")
        if res.get("mix"):
            parts.append(f"\nQuery mix under load (wrk, median of runs)\n\n{mix_table(res)}")
        if res.get("deref"):
            parts.append(f"\nDereference: entity documents and DESCRIBE\n\n{deref_table(res)}")
        for note in res.get("notes", []):
            parts.append(f"- {note}")
        for name, text in res.get("profiles", {}).items():
            head = "\n".join(text.splitlines()[:10])
            parts.append(f"\nProfile of thb-kb under the {name} workload (py-spy)\n\n```\n{head}\n```")
    parts.append(f"\n## CLI, imports, start-up\n\n{other_table(results)}")
    for key, path in results.get("profiles", {}).items():
        parts.append(f"\ncProfile of the `{key}` command: {path}")
    parts.append(f"\n## Targets\n\n{targets_table(results)}")
    return "\n".join(parts) + "\n"
