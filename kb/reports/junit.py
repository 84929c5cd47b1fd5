"""JUnit XML, the test-report format CI systems display (Jenkins, GitLab, Azure, CircleCI, GitHub actions
that publish test results).

One `<testsuite>` per checked file; in it one `<testcase>` "well-formed RDF" and one per named shape (all
the shapes the data was checked against, so passing shapes are counted too). A test case fails (one
`<failure>`, whose text lists every offending node with its line) when it has findings at or above the
`--fail-on` threshold; findings below it go to `<system-out>`. The shape cases of a file that cannot be read
are `<skipped>`. Findings not tied to a file, and `--qc` quality rules, get suites of their own.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from .model import QUALITY, READABLE, Finding, ReportView, compact

NO_FILE = "(knowledge base, ontology or shapes)"


def _line(f: Finding) -> str:
    where = f"line {f.line}: " if f.line else ""
    what = f" {f.path}" if f.path else ""
    value = f" = {compact(f.value)}" if f.value is not None else ""
    return f"{where}{f.severity.upper()} {compact(f.focus)}{what}{value}: {f.message} [{f.rule_id}]"


def _case(suite: ET.Element, classname: str, name: str, findings: list[Finding], report: ReportView,
          skipped: str | None = None) -> tuple[int, int, int]:
    case = ET.SubElement(suite, "testcase", name=name, classname=classname, time="0")
    failing = [f for f in findings if report.failing(f)]
    other = [f for f in findings if not report.failing(f)]
    if failing:
        n = len(failing)
        first = failing[0]
        message = first.message if n == 1 else f"{n} findings, first: {first.message}"
        fail = ET.SubElement(case, "failure", message=message, type=first.severity)
        fail.text = "\n".join(_line(f) for f in failing)
    elif skipped:
        ET.SubElement(case, "skipped", message=skipped)
    if other:
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(_line(f) for f in other)
    return 1, 1 if failing else 0, 1 if (skipped and not failing) else 0


def _suite(root: ET.Element, name: str, cases: list[tuple[str, list[Finding], str | None]], report: ReportView) -> None:
    suite = ET.SubElement(root, "testsuite", name=name)
    totals = [0, 0, 0]
    for case_name, findings, skipped in cases:
        for i, n in enumerate(_case(suite, name, case_name, findings, report, skipped)):
            totals[i] += n
    suite.set("tests", str(totals[0]))
    suite.set("failures", str(totals[1]))
    suite.set("errors", "0")
    suite.set("skipped", str(totals[2]))
    suite.set("time", "0")


def render(report: ReportView) -> str:
    root = ET.Element("testsuites", name="kb validate")
    by_file: dict[str | None, list[Finding]] = defaultdict(list)
    quality: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        if f.component == QUALITY:
            quality[f.shape_name].append(f)
        else:
            by_file[f.file].append(f)
    shape_names = [compact(s) for s in report.shapes]
    for checked in report.files:
        findings = by_file.pop(checked.path, [])
        unreadable = [f for f in findings if f.component == READABLE]
        skipped = "the file could not be read as RDF" if unreadable else None
        by_shape: dict[str, list[Finding]] = defaultdict(list)
        for f in findings:
            if f.component != READABLE:
                by_shape[f.shape_name].append(f)
        cases = [("well-formed RDF", unreadable, None)]
        cases += [(name, by_shape.pop(name, []), skipped) for name in shape_names]
        cases += [(name, fs, None) for name, fs in sorted(by_shape.items())]
        _suite(root, checked.path, cases, report)
    for file, findings in sorted(by_file.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        by_shape = defaultdict(list)
        for f in findings:
            by_shape[f.shape_name].append(f)
        _suite(root, file or NO_FILE, [(n, fs, None) for n, fs in sorted(by_shape.items())], report)
    if quality:
        _suite(root, "quality rules", [(n, fs, None) for n, fs in sorted(quality.items())], report)
    suites = root.findall("testsuite")
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in suites)))
    root.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
