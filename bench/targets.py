"""The performance targets of the issues, and how each is read from a run's results.

`TARGETS` has one row per target; `measurements(results)` turns a results dict (see `bench.run`) into
{key: Measurement}; `evaluate(results)` gives the rows of the targets table (goal, measured, holds).
A target the run could not measure says why instead of pretending.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .generate import parse_size

PEER_THB = "thb-kb (embedded)"
PEER_THB_VIRTUOSO = "thb-kb on Virtuoso"
PEER_RDFLIB = "rdflib-endpoint"
PEER_VIRTUOSO = "Virtuoso 7"
PEER_ENGINE = "pyoxigraph in-process"  # reference: the embedded engine without HTTP


@dataclass(frozen=True)
class Target:
    key: str
    issue: int
    what: str
    op: str  # "<", "<=", ">="
    goal: float
    unit: str
    size: str | None = None  # the data size the goal is stated at

    @property
    def goal_text(self) -> str:
        return f"{self.op} {_fmt(self.goal)}{self.unit}" + (f" at {self.size}" if self.size else "")

    def holds(self, value: float) -> bool:
        return {"<": value < self.goal, "<=": value <= self.goal, ">=": value >= self.goal}[self.op]

    def margin(self, value: float) -> str:
        """How far from the goal, as a factor (>1 means missed by that factor)."""
        if value <= 0 or self.goal <= 0:
            return ""
        factor = value / self.goal if self.op in ("<", "<=") else self.goal / value
        return f"{factor:.2f}x the goal" if factor > 1 else ""


@dataclass
class Measurement:
    value: float | None
    note: str = ""
    size: str | None = None  # the size it was measured at


def _fmt(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}".rstrip("0").rstrip(".") if v >= 1 else f"{v:.3f}".rstrip("0").rstrip(".")


SIZES = ("100k", "1M", "5M")

TARGETS: tuple[Target, ...] = (
    Target("validate_curated", 2, "`kb validate kb/data`, wall clock", "<", 3.0, " s"),
    Target("load_curated", 2, "`kb load`, wall clock", "<", 3.0, " s"),
    Target("help", 6, "`kb --help`, wall clock", "<", 0.3, " s"),
    Target("validate_10k", 6, "`kb validate` of 10,000 contributed triples, Python start included", "<", 2.0, " s"),
    Target("validate_curated_6", 6, "validating the whole curated KB", "<", 3.0, " s"),
    *[Target(f"mix_vs_rdflib_1c_{s}", 4, f"query mix vs rdflib-endpoint, 1 client (geomean speed-up), {s}",
             ">=", 20.0, "x", s) for s in SIZES],
    *[Target(f"mix_vs_rdflib_8c_{s}", 4, f"query mix vs rdflib-endpoint, 8 clients (req/s ratio), {s}",
             ">=", 20.0, "x", s) for s in SIZES],
    *[Target(f"mix_vs_virtuoso_1c_{s}", 4, f"query mix vs Virtuoso, 1 client (geomean speed-up), {s}",
             ">=", 1.0, "x", s) for s in SIZES],
    *[Target(f"mix_vs_virtuoso_8c_{s}", 4, f"query mix vs Virtuoso, 8 clients (req/s ratio), {s}",
             ">=", 1.0, "x", s) for s in SIZES],
    Target("doc_ttl_rps", 3, "Turtle entity documents, 16 connections", ">=", 1500.0, " req/s", "1M"),
    Target("doc_ttl_p99", 3, "Turtle entity documents, p99 latency at 16 connections", "<=", 50.0, " ms", "1M"),
    Target("doc_html_rps", 3, "HTML entity documents, 16 connections", ">=", 800.0, " req/s", "1M"),
    Target("doc_html_p99", 3, "HTML entity documents, p99 latency at 16 connections", "<=", 50.0, " ms", "1M"),
    Target("import_1k", 5, "1,000-triple import into the big KB, validated and committed", "<", 1.0, " s", "1M"),
    Target("import_1m_rate", 5, "1M-triple file, validated and imported", ">=", 20000.0, " triples/s", "1M"),
    *[Target(f"remote_overhead_{s}", 7, f"query mix through thb-kb on Virtuoso / Virtuoso direct, 1 client, {s}",
             "<=", 1.3, "x", s) for s in ("1M", "5M")],
    Target("ready_5m", 8, "server ready on the big store (start to first SPARQL answer)", "<=", 2.0, " s", "5M"),
    Target("rss_5m", 8, "server resident memory on the big store, after the workloads", "<=", 600.0, " MB", "5M"),
)


def geomean(xs: list[float]) -> float | None:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def query_ratio(size_res: dict, slow_peer: str, fast_peer: str) -> tuple[float | None, str]:
    """Geometric mean over the queries of median(slow_peer) / median(fast_peer), 1 client."""
    q = size_res.get("queries", {})
    a, b = q.get(slow_peer), q.get(fast_peer)
    if not a or not b:
        missing = slow_peer if not a else fast_peer
        return None, size_res.get("skipped", {}).get(missing, f"{missing} not measured")
    ratios, skipped = [], []
    for name, rb in b.items():
        ra = a.get(name)
        if ra and ra.get("median_ms") and rb.get("median_ms"):
            ratios.append(ra["median_ms"] / rb["median_ms"])
        elif ra and ra.get("timeouts") and rb.get("median_ms"):
            # the slower peer timed out: its time is at least the timeout, so the ratio is a lower bound
            ratios.append(ra["timeout_s"] * 1000 / rb["median_ms"])
            skipped.append(f"{name} (timed out: lower bound)")
        else:
            skipped.append(name)
    note = f"{len(ratios)} queries" + (f"; not in the mean: {', '.join(skipped)}" if skipped else "")
    return geomean(ratios), note


def mix_ratio(size_res: dict, slow_peer: str, fast_peer: str, conns: int) -> tuple[float | None, str]:
    m = size_res.get("mix", {})
    a, b = m.get(slow_peer, {}).get(str(conns)), m.get(fast_peer, {}).get(str(conns))
    if not a or not b:
        missing = slow_peer if not a else fast_peer
        return None, size_res.get("skipped", {}).get(missing, f"{missing} mix not measured")
    if not a["rps"]:
        return None, f"{slow_peer} completed no request in {a['seconds']:.0f} s"
    return b["rps"] / a["rps"], f"{b['rps']:.1f} vs {a['rps']:.1f} req/s"


def _at(results: dict, size: str | None) -> tuple[dict | None, str | None]:
    """The results at `size`, or at the largest size measured (quick runs) with that size named."""
    sizes = results.get("sizes", {})
    if size and size in sizes:
        return sizes[size], size
    if not sizes:
        return None, None
    largest = max(sizes, key=parse_size)
    return sizes[largest], largest


def measurements(results: dict) -> dict[str, Measurement]:
    out: dict[str, Measurement] = {}
    cli = results.get("cli", {})
    for key, src in (("validate_curated", "validate_curated"), ("validate_curated_6", "validate_curated"),
                     ("load_curated", "load_curated"), ("help", "help"), ("validate_10k", "validate_10k")):
        c = cli.get(src)
        out[key] = Measurement(c["median_s"], c.get("note", "")) if c and c.get("median_s") is not None \
            else Measurement(None, (c or {}).get("note", "not measured"))
    for t in TARGETS:
        if t.key in out:
            continue
        res, at = _at(results, t.size)
        if res is None:
            out[t.key] = Measurement(None, "no size measured")
            continue
        if t.key.startswith("mix_vs_"):
            if t.size not in results.get("sizes", {}):
                out[t.key] = Measurement(None, f"{t.size} not run")
                continue
            peer = PEER_RDFLIB if "rdflib" in t.key else PEER_VIRTUOSO
            if "_1c_" in t.key:
                v, note = query_ratio(res, peer, PEER_THB)
            else:
                v, note = mix_ratio(res, peer, PEER_THB, 8)
            out[t.key] = Measurement(v, note, at)
        elif t.key.startswith("remote_overhead_"):
            if t.size not in results.get("sizes", {}):
                out[t.key] = Measurement(None, f"{t.size} not run")
                continue
            v, note = query_ratio(res, PEER_THB_VIRTUOSO, PEER_VIRTUOSO)
            out[t.key] = Measurement(v, note, at)
        elif t.key.startswith("doc_"):
            kind = "ttl" if "_ttl_" in t.key else "html"
            run = res.get("deref", {}).get(PEER_THB, {}).get(kind, {}).get("16")
            if not run:
                out[t.key] = Measurement(None, res.get("deref_note", "documents not measured"), at)
            else:
                v = run["rps"] if t.key.endswith("_rps") else run["p99_ms"]
                out[t.key] = Measurement(v, f"{run['errors']} errors" if run["errors"] else "", at)
        elif t.key.startswith("import_"):
            imp = results.get("import", {})
            src = imp.get("batch_1k" if t.key == "import_1k" else "file")
            if not src or src.get("value") is None:
                out[t.key] = Measurement(None, (src or {}).get("note", "import not measured"))
            else:
                out[t.key] = Measurement(src["value"], src.get("note", ""), src.get("size"))
        elif t.key in ("ready_5m", "rss_5m"):
            st = results.get("startup", {})
            if t.key == "ready_5m":
                v = st.get("first_query_s") or st.get("ready_s")
                note = f"/healthz answered after {st['ready_s']:.2f} s" if st.get("ready_s") is not None else ""
            else:
                v = st.get("rss_after_mb") or st.get("rss_ready_mb")
                note = f"{st['rss_ready_mb']:.0f} MB at ready" if st.get("rss_ready_mb") is not None else ""
            out[t.key] = Measurement(v, note if v is not None else "not measured", st.get("size"))
    return out


def evaluate(results: dict) -> list[dict]:
    """One row per target: issue, what, goal, measured, holds (yes / no / not measured), note."""
    ms = measurements(results)
    rows = []
    for t in TARGETS:
        m = ms.get(t.key, Measurement(None, "not measured"))
        note = m.note
        if m.value is None:
            holds, measured = "not measured", "-"
        else:
            measured = f"{_fmt(m.value)}{t.unit}"
            holds = "yes" if t.holds(m.value) else "no"
            if holds == "no" and t.margin(m.value):
                note = f"missed: {t.margin(m.value)}" + (f"; {note}" if note else "")
            if t.size and m.size and m.size != t.size:
                holds += f" (at {m.size}, not {t.size})"
        rows.append({"key": t.key, "issue": t.issue, "what": t.what, "goal": t.goal_text, "measured": measured,
                     "holds": holds, "note": note})
    return rows
