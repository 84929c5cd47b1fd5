"""The importing process of test_crash_recovery.py (not a test module).

It starts once, imports the heavy modules and loads the shapes, then, for each line `go ITERATION` on its
standard input, forks a child that opens the on-disk store and imports generation after generation
(replace into graph/crash-c{k}, and every third one a merge into graph/crash-m{iteration}; with
KB_TEST_BULK_QUADS=1 the pure inserts go through the store's bulk path), appending
`done GEN` to a log file after each commit. The test kills the child with SIGKILL; this process reaps it and
prints `dead PID`. Forking a warm process keeps 50 kill-and-reopen rounds within seconds.
"""

from __future__ import annotations

import os
import sys

BASE = "https://w3id.org/thb-kb/"
AGENCIES_PER_GEN = 5


def generation_ttl(gen: int) -> bytes:
    out = []
    for j in range(AGENCIES_PER_GEN):
        iri = f"<{BASE}id/agency/gen-{gen}-a{j}>"
        doc = f"<{BASE}id/document/europol-report-2020>"
        out.append(f"""{iri} a <https://w3id.org/thb-kb/def#Agency> ;
  <http://www.w3.org/2000/01/rdf-schema#label> "Generation {gen} agency {j}"@en ;
  <http://www.w3.org/2004/02/skos/core#prefLabel> "Generation {gen} agency {j}"@en ;
  <http://purl.org/dc/terms/description> "A test agency."@en ;
  <http://www.w3.org/ns/org#classification> <{BASE}id/concept/agency-type/police> ;
  <http://purl.org/dc/terms/source> {doc} ; <http://www.w3.org/ns/prov#wasDerivedFrom> {doc} .""")
    return "\n".join(out).encode()


def child(store_dir: str, log_path: str, iteration: int) -> None:
    from kb import rdfio, settings
    from kb.importer import Importer, Source
    from kb.store import open_store
    from kb.store import oxigraph

    # the test lowers the bulk threshold: every pure insert (a merge, a first replace) is then bulk-loaded
    oxigraph.BULK_QUADS = int(os.environ.get("KB_TEST_BULK_QUADS", oxigraph.BULK_QUADS))

    cfg = settings.load({"store": store_dir, "base_iri": BASE, "validation_timeout": 0}, environ={})
    store = open_store(cfg)
    imp = Importer(store, cfg)
    log = open(log_path, "a", buffering=1)
    for k in range(1_000_000):
        gen = iteration * 1000 + k
        src = Source(f"gen-{gen}.ttl", generation_ttl(gen), rdfio.format_for("turtle"))
        if k % 3 == 2:
            graph, mode = f"{BASE}graph/crash-m{iteration}", "merge"
        else:
            graph, mode = f"{BASE}graph/crash-c{k % 4}", "replace"
        imp.import_sources([src], graph=graph, mode=mode)
        log.write(f"done {gen} {mode} {graph}\n")


def main() -> None:
    store_dir, log_path = sys.argv[1], sys.argv[2]
    from kb import validation

    validation.shapes_graph()
    validation.ontology_graph()
    from kb import batchcheck, rdfio

    # one validation before forking: every child starts with parsed shapes and prepared SPARQL queries
    triples = [q.triple for q in rdfio.parse_quads(generation_ttl(0), rdfio.format_for("turtle"))]
    batchcheck.run_shacl(triples, None, timeout=None)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd != "go":
            break
        pid = os.fork()
        if pid == 0:
            try:
                child(store_dir, log_path, int(arg))
            finally:
                os._exit(1)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"dead {pid} {status}", flush=True)


if __name__ == "__main__":
    main()
