"""What each shape asks, as Markdown, generated from the shapes themselves (docs/contributing-data.md embeds
it between `<!-- shapes-table:begin -->` and `<!-- shapes-table:end -->`; a test keeps it in step).

    python -m kb.reports.shapes_table          # print the table
    python -m kb.reports.shapes_table --write  # refresh it in docs/contributing-data.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS, SH

from .build import named_shapes
from .model import compact, path_text

BEGIN, END = "<!-- shapes-table:begin -->", "<!-- shapes-table:end -->"
DOC = Path(__file__).resolve().parents[2] / "docs" / "contributing-data.md"


def _en(g: Graph, node, prop) -> str:
    values = [v for v in g.objects(node, prop) if isinstance(v, Literal)]
    en = [v for v in values if v.language in (None, "en")]
    return " ".join(str(sorted(en or values, key=str)[0]).split()) if values else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _cardinality(g: Graph, ps) -> str:
    lo, hi = g.value(ps, SH.minCount), g.value(ps, SH.maxCount)
    lo = int(lo) if lo is not None else 0
    if hi is None:
        return f"{lo}..*" if lo else "any"
    return f"{lo}" if lo == int(hi) else f"{lo}..{int(hi)}"


def _expects(g: Graph, ps) -> str:
    parts = []
    for prop, fmt in ((SH["class"], "a {}"), (SH.datatype, "{}"), (SH.nodeKind, "{}"), (SH.hasValue, "= {}")):
        for v in g.objects(ps, prop):
            parts.append(fmt.format(compact(v)))
    for lst in g.objects(ps, SH["in"]):
        parts.append("one of " + ", ".join(compact(v) for v in g.items(lst)))
    if g.value(ps, SH.uniqueLang) is not None and g.value(ps, SH.uniqueLang).toPython():
        parts.append("one per language")
    q = g.value(ps, SH.qualifiedValueShape)
    if q is not None:
        for lst in g.objects(q, SH.languageIn):
            parts.append("one in " + ", ".join(f"@{v}" for v in g.items(lst)))
    for node in g.objects(ps, SH.node):
        for inner in g.objects(node, SH.property):
            scheme = g.value(inner, SH.hasValue)
            if scheme is not None:
                parts.append(f"concept of {compact(scheme)}")
    if g.value(ps, SH.pattern) is not None:
        parts.append(f"matches `{g.value(ps, SH.pattern)}`")
    for prop, word in ((SH.lessThanOrEquals, "<="), (SH.lessThan, "<")):
        for v in g.objects(ps, prop):
            parts.append(f"{word} {compact(v)}")
    return "; ".join(parts)


def _severity(g: Graph, node) -> str:
    sev = g.value(node, SH.severity)
    return {SH.Warning: "warning", SH.Info: "info"}.get(sev, "violation")


def _targets(g: Graph, shape) -> str:
    out = [f"every {compact(c)}" for c in sorted(g.objects(shape, SH.targetClass), key=str)]
    out += [f"subjects of {compact(p)}" for p in g.objects(shape, SH.targetSubjectsOf)]
    out += [f"objects of {compact(p)}" for p in g.objects(shape, SH.targetObjectsOf)]
    if any(True for _ in g.objects(shape, SH.target)):
        out.append("nodes selected by a SPARQL query (see the comment)")
    return ", ".join(out) or "(used by other shapes)"


def markdown(g: Graph) -> str:
    lines = []
    for shape in named_shapes(g):
        if not isinstance(shape, URIRef):
            continue
        lines.append(f"#### {compact(shape)}")
        lines.append("")
        lines.append(f"Applies to: {_targets(g, shape)}.")
        comment = _en(g, shape, RDFS.comment)
        if comment:
            lines.append(f"{comment}")
        lines.append("")
        lines.append("| property | how many | expects | severity | message |")
        lines.append("|---|---|---|---|---|")
        if g.value(shape, SH.pattern) is not None:
            lines.append(f"| (its IRI) | | matches `{_cell(str(g.value(shape, SH.pattern)))}` | {_severity(g, shape)} "
                         f"| {_cell(_en(g, shape, SH.message))} |")
        props = sorted(g.objects(shape, SH.property), key=lambda ps: path_text(g, g.value(ps, SH.path)))
        for ps in props:
            path = path_text(g, g.value(ps, SH.path))
            lines.append(f"| {_cell(path)} | {_cardinality(g, ps)} | {_cell(_expects(g, ps))} | {_severity(g, ps)} "
                         f"| {_cell(_en(g, ps, SH.message))} |")
        for c in sorted(g.objects(shape, SH.sparql), key=lambda c: _en(g, c, SH.message)):
            lines.append(f"| (rule) | | SPARQL | {_severity(g, c)} | {_cell(_en(g, c, SH.message))} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def embed(doc_text: str, table: str) -> str:
    start, end = doc_text.index(BEGIN) + len(BEGIN), doc_text.index(END)
    return doc_text[:start] + "\n" + table + doc_text[end:]


def main(argv: list[str]) -> int:
    from ..validation import shapes_graph

    table = markdown(shapes_graph())
    if "--write" in argv:
        DOC.write_text(embed(DOC.read_text(encoding="utf-8"), table), encoding="utf-8")
    else:
        sys.stdout.write(table)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))


__all__ = ["markdown", "embed", "BEGIN", "END"]
