"""The ways an import is refused (kb.importer raises them): each knows its HTTP status and CLI exit code, and
renders itself as JSON with the validation report when there is one."""

from __future__ import annotations

from .validation import Report


class ImportFailed(Exception):
    """An import that was refused; `status` is the HTTP status, `exit_code` the CLI's."""

    status = 400
    exit_code = 1
    kind = "rejected"

    def __init__(self, message: str, *, report: Report | None = None, source: str | None = None,
                 line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message, self.report, self.source, self.line, self.column = message, report, source, line, column

    def as_dict(self) -> dict:
        d = {"error": self.kind, "status": self.status, "message": self.message}
        if self.source:
            d["source"] = self.source
        if self.line is not None:
            d["line"], d["column"] = self.line, self.column
        if self.report is not None:
            d["conforms"] = not self.report.fails("violation")
            d["results"] = [{k: v for k, v in r.as_dict().items() if k in
                             ("focus", "path", "value", "message", "severity", "shape", "constraint")}
                            for r in self.report.results]
        return d


class ParseFailed(ImportFailed):
    status, kind = 400, "parse-error"


class TooLarge(ImportFailed):
    status, kind = 413, "too-large"


class UnsupportedFormat(ImportFailed):
    status, kind = 415, "unsupported-media-type"


class Invalid(ImportFailed):
    status, kind = 422, "invalid"


class ValidationTimedOut(ImportFailed):
    status, kind, exit_code = 503, "validation-timeout", 2


class WriterBusy(ImportFailed):
    status, kind, exit_code = 409, "busy", 2


class ReservedGraph(ImportFailed):
    status, kind = 403, "reserved-graph"


class StoreFailed(ImportFailed):
    status, kind, exit_code = 503, "store-error", 2
