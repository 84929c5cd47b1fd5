"""Printing SPARQL results on the command line."""

from __future__ import annotations

from typing import IO

import pyoxigraph as ox


def _cell(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.Literal):
        return term.value
    if isinstance(term, ox.NamedNode):
        return term.value
    return str(term)


def print_results(result, fmt: str, out: IO[bytes]) -> None:
    if isinstance(result, ox.QueryBoolean):
        if fmt == "json":
            out.write(b'{"head": {}, "boolean": %s}\n' % (b"true" if bool(result) else b"false"))
        else:
            out.write(b"true\n" if bool(result) else b"false\n")
        return
    if isinstance(result, ox.QueryTriples):
        rdf = ox.RdfFormat.N_TRIPLES if fmt == "ntriples" else ox.RdfFormat.TURTLE
        ox.serialize(result, out, rdf)
        return
    if fmt in ("csv", "json", "tsv"):
        result.serialize(out, {"csv": ox.QueryResultsFormat.CSV, "json": ox.QueryResultsFormat.JSON,
                               "tsv": ox.QueryResultsFormat.TSV}[fmt])
        return
    names = [v.value for v in result.variables]
    rows = [[_cell(sol[n]) for n in names] for sol in result]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    line = "  ".join(n.ljust(w) for n, w in zip(names, widths))
    text = [line, "  ".join("-" * w for w in widths)]
    text += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    text.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    out.write(("\n".join(text) + "\n").encode("utf-8"))
