"""What the row cap costs: `python -m bench.rowcap` prints a table.

For SELECT answers of several sizes (in-memory pyoxigraph store, JSON results), the median time of

* `native`: pyoxigraph evaluates and writes the whole answer (no cap: the floor);
* `thb-kb`: the endpoint's path with a cap of 10,000 rows (`server.sparql.results.prepare` and `write`:
  pyoxigraph's TSV writer stopped one row past the cap, read back natively);
* `per row`: the way the endpoint read capped answers before 2026-12-02 (each row a Python object, up to
  cap+1, then written as TSV text and parsed back), kept here as the comparison.
"""

from __future__ import annotations

import statistics
import sys
import time
from itertools import islice
from pathlib import Path

import pyoxigraph as ox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.sparql import results as res  # noqa: E402

CAP = 10_000
EX = "http://example.org/"


class _Sink:
    def write(self, data) -> int:
        return len(data)

    def flush(self) -> None:
        pass


def _per_row(solutions, fmt) -> None:
    variables = list(solutions.variables)
    rows = list(islice(solutions, CAP + 1))[:CAP]
    text = ["\t".join(str(v) for v in variables)]
    text += ["\t".join("" if t is None else str(t) for t in row) for row in rows]
    ox.parse_query_results(("\n".join(text) + "\n").encode(), format=ox.QueryResultsFormat.TSV).serialize(
        _Sink(), fmt.results)


def _median_ms(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(repeat: int = 15, rows: int = 200_000) -> None:
    store = ox.Store()
    store.extend(ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(EX + "p"), ox.Literal(f"value {i}", language="en"))
                 for i in range(rows))
    fmt = next(f for f in res.FORMATS if f.name == "json")
    cases = [(f"{n:,} rows", f"SELECT ?s ?o WHERE {{ ?s ?p ?o }} LIMIT {n}") for n in (23, 1_000, 10_000)]
    cases.append((f"{rows:,} rows, cut at {CAP:,}", "SELECT ?s ?o WHERE { ?s ?p ?o }"))
    print(f"| answer | native, no cap, ms | thb-kb, cap {CAP:,}, ms | per row (before), ms | per row / thb-kb |")
    print("|---|---|---|---|---|")
    for label, query in cases:
        native = _median_ms(lambda: store.query(query).serialize(_Sink(), fmt.results), repeat)
        capped = _median_ms(lambda: res.write(res.prepare(store.query(query), fmt, CAP), _Sink()), repeat)
        before = _median_ms(lambda: _per_row(store.query(query), fmt), repeat)
        print(f"| {label} | {native:.2f} | {capped:.2f} | {before:.2f} | {before / capped:.2f}x |")


if __name__ == "__main__":
    main()
