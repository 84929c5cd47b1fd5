"""Plain text for people: findings grouped by file, then by focus node, then the one-line summary.

    data/new-event.ttl
      <https://w3id.org/thb-kb/id/event/2024-05-02-workshop>
        12: VIOLATION thb:organiser = <https://w3id.org/thb-kb/id/agency/nope>
            thb:organiser must point to a thb:Agency.  [thbsh:EventShape, sh:ClassConstraintComponent]
    kb validate: FAILED: 1 file, 24 triples: 1 violation, 0 warnings, 0 infos (fail on: violation).
"""

from __future__ import annotations

from itertools import groupby

from rdflib import BNode

from .model import READABLE, ReportView, compact


def render(report: ReportView) -> str:
    out: list[str] = []
    for file, in_file in groupby(report.findings, key=lambda f: f.file):
        out.append(file if file is not None else "(not from a file: the knowledge base, ontology or shapes)")
        in_file = list(in_file)
        problems = [f for f in in_file if f.component == READABLE]
        for f in problems:
            where = f"{f.line}:{f.column}: " if f.line and f.column else (f"{f.line}: " if f.line else "")
            message = f.message[len(file) + 1:] if file and f.message.startswith(file + " ") else f.message
            out.append(f"  {where}{f.severity.upper()} {message}")
        rest = [f for f in in_file if f.component != READABLE]
        for _, by_focus in groupby(rest, key=lambda f: str(f.focus)):
            by_focus = list(by_focus)
            focus = by_focus[0].focus
            out.append("  [] (a blank node)" if isinstance(focus, BNode) else f"  {compact(focus)}")
            for f in by_focus:
                head = f"    {f.line}: " if f.line else "    "
                what = f.path
                if f.value is not None:
                    what = f"{what} = {compact(f.value)}" if what else compact(f.value)
                out.append(f"{head}{f.severity.upper()}{' ' + what if what else ''}")
                comp = compact(f.component)
                pad = " " * len(head)
                message = f.message.replace("\n", "\n" + pad)
                out.append(f"{pad}{message}  [{f.shape_name}{', ' + comp if comp else ''}]")
                for d in f.details:
                    out.append(f"{' ' * len(head)}  - {d}")
    out.append(report.summary())
    return "\n".join(out) + "\n"
