"""GitHub Actions workflow commands: one annotation per finding, shown on the pull request's diff.

    ::error file=data/x.ttl,line=12,title=thbsh:EventShape thb%3Aorganiser::<https://...> thb:organiser ...

Findings at or above the `--fail-on` threshold are `::error`; below it, warnings are `::warning` and infos
`::notice`. `file`/`line` are left out when unknown. Values are escaped as the runner expects (`%`, CR and LF
everywhere; `:` and `,` in properties). The last line is the plain one-line summary (a log line, not a
command).
"""

from __future__ import annotations

from .model import Finding, ReportView, compact


def escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def command(report: ReportView, f: Finding) -> str:
    if report.failing(f):
        level = "error"
    else:
        level = "warning" if f.severity == "warning" else "notice"
    props = []
    if f.file:
        props.append(f"file={escape_property(f.file)}")
        if f.line:
            props.append(f"line={f.line}")
            if f.column:
                props.append(f"col={f.column}")
    title = f.shape_name + (f" {f.path}" if f.path else "")
    props.append(f"title={escape_property(title)}")
    focus = compact(f.focus) if f.focus is not None and f.shape_name != "kbv:WellFormedFile" else ""
    value = f" = {compact(f.value)}" if f.value is not None else ""
    subject = f"{focus}{' ' + f.path if f.path else ''}{value}".strip()
    message = f"{subject}: {f.message}" if subject else f.message
    if f.details:
        message += "\n" + "\n".join(f"- {d}" for d in f.details)
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def render(report: ReportView) -> str:
    lines = [command(report, f) for f in report.findings]
    lines.append(report.summary())
    return "\n".join(lines) + "\n"
