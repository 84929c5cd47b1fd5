"""Where thb-kb's time goes on a remote store: the bench query mix sent to a running Virtuoso directly (one
keep-alive http.client connection, as the bench's client: without any dataset, with the KB's graphs as
protocol dataset parameters in JSON and in XML, with the graph-exclusion pragmas) and through
`RemoteStore.query`, interleaved, medians per query in ms. A diagnosis aid, not the benchmark
(`python -m bench --sizes 1M --peers thb-virtuoso,virtuoso --no-import --no-cli` is).

    scripts/virtuoso.sh start 18995 18996 bench/results/virtuoso/kb-1M-seed42   # a store the bench loaded
    .venv/bin/python scripts/remote_overhead.py http://127.0.0.1:18995/sparql bench/results/data/kb-1M-seed42.nt
"""

from __future__ import annotations

import http.client
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import queries  # noqa: E402
from kb import settings as settings_mod  # noqa: E402
from kb.store import open_store  # noqa: E402

JSON, XML = "application/sparql-results+json", "application/sparql-results+xml"


def main(url: str, data: str, rounds: int = 4) -> None:
    store = open_store(settings_mod.load({"store": "sparql+" + url, "sparql_update_url": url + "-auth",
                                          "sparql_user": "kb", "sparql_password": "kb-secret"}, environ={}))
    store.query("ASK {}")  # the engine says who it is
    graphs = store._kb_graphs()
    params = [("default-graph-uri", g) for g in graphs] + [("named-graph-uri", g) for g in graphs]
    store.virtuoso_exclusions = True
    pragmas = store._virtuoso_union_pragmas()
    store.virtuoso_exclusions = False
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port)
    mix = queries.mix(queries.load_pools(Path(data)), len(queries.templates()) * rounds)
    ways = {"direct, no dataset": ("", [], JSON), "direct, dataset, JSON": ("", params, JSON),
            "direct, dataset, XML": ("", params, XML), "direct, exclusions": (pragmas, [], JSON),
            "RemoteStore.query": None}
    times: dict[str, dict[str, list[float]]] = {w: {} for w in ways}
    for i, (name, query) in enumerate(mix):
        for way, how in ways.items():
            text = f"{query}\n# {i} {way} {time.time()}\n"  # a new text: no cache answers it
            started = time.perf_counter()
            if how is None:
                list(store.query(text))
            else:
                body = urllib.parse.urlencode([("query", how[0] + text), *how[1]])
                conn.request("POST", parts.path, body=body, headers={
                    "Accept": how[2], "Content-Type": "application/x-www-form-urlencoded"})
                conn.getresponse().read()
            times[way].setdefault(name, []).append((time.perf_counter() - started) * 1000)
    names = list(times["RemoteStore.query"])
    print(f"{len(graphs)} KB graphs; {pragmas.count('default-graph-exclude')} graphs the exclusions would name")
    print(f"{'':24}" + "".join(f"{n[:6]:>8}" for n in names) + "  geomean")
    for way, per in times.items():
        medians = [statistics.median(per[n]) for n in names]
        print(f"{way:24}" + "".join(f"{m:8.1f}" for m in medians) + f"  {statistics.geometric_mean(medians):7.2f}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:4]))
