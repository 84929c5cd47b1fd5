"""Line numbers for validation results: where in a file the offending triple is written.

pyoxigraph's parsers report positions only for syntax errors, not for the triples they produce, so the
line of a result is found in the file's text instead:

1. The focus node is written as a token: `<full-iri>`, or `prefix:local` for every prefix the file declares
   whose namespace starts the IRI (Turtle/TriG `@prefix` and `PREFIX`, RDF/XML `xmlns:p="..."`), or
   `_:label` for a labelled blank node.
2. Its *subject line* is the first line that starts (after indentation) with one of those tokens: that is
   where a Turtle/TriG subject block, an N-Triples/N-Quads statement begins. If the node never starts a line
   (it only appears nested or as an object), the first line holding the token at all. RDF/XML: the first
   `rdf:about="iri"`; JSON-LD: the first `"@id": "iri"`.
3. The *triple line*: from the subject line to the end of its block (N-Triples: that very line; Turtle: up to
   the next line that starts a new statement at column 0), the first line holding a token of the result's
   path (`a` counts for rdf:type). If none, the subject line.
4. Anonymous blank nodes (`[ ... ]`) have no token: the caller passes the triple that points at them
   (`parent`), and its line is used.

This is a heuristic over text, not a parse: it is exact for N-Triples and for Turtle written one subject
block per entity (as kb/data is), and falls back to the subject line, then to no line, never to a wrong file.
"""

from __future__ import annotations

import bisect
import re

_TURTLE_PREFIX = re.compile(r"(?im)^\s*(?:@prefix|prefix)\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>")
_XML_PREFIX = re.compile(r"xmlns:([A-Za-z_][\w.-]*)\s*=\s*[\"']([^\"']*)[\"']")
_LOCAL = re.compile(r"^[\w-]([\w.:%-]*[\w:%-])?$|^$")
_STARTS_STATEMENT = re.compile(r"^[^\s#\]\)}.,;]")
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


class Locator:
    """Finds lines in one file's text. `fmt` is an rdfio format name (turtle, ntriples, trig, ...)."""

    def __init__(self, text: str, fmt: str):
        self.text = text
        self.fmt = fmt
        self.lines = text.split("\n")
        self._starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                self._starts.append(i + 1)
        if fmt in ("turtle", "trig"):
            self.prefixes = {p or "": ns for p, ns in _TURTLE_PREFIX.findall(text)}
        elif fmt == "rdfxml":
            self.prefixes = dict(_XML_PREFIX.findall(text))
        else:
            self.prefixes = {}
        self._first_token_line: tuple[dict[str, int], dict[str, int]] | None = None

    # --- tokens ---------------------------------------------------------------------------------------

    def tokens(self, iri: str) -> list[str]:
        out = [f"<{iri}>"]
        for prefix, ns in self.prefixes.items():
            if ns and iri.startswith(ns) and _LOCAL.match(iri[len(ns):]):
                out.append(f"{prefix}:{iri[len(ns):]}")
        if iri == RDF_TYPE and self.fmt in ("turtle", "trig"):
            out.append("a")
        return out

    def _line_of_offset(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)

    def _index(self) -> tuple[dict[str, int], dict[str, int]]:
        """First token of every line -> first line number (1-based) it starts: (at column 0, indented)."""
        if self._first_token_line is None:
            flush: dict[str, int] = {}
            indented: dict[str, int] = {}
            for n, line in enumerate(self.lines, 1):
                stripped = line.lstrip()
                if not stripped or stripped[0] == "#":
                    continue
                if stripped.startswith("<"):
                    end = stripped.find(">")
                    token = stripped[: end + 1] if end > 0 else ""
                else:
                    token = re.split(r"[\s;,]", stripped, maxsplit=1)[0]
                if token:
                    (flush if len(stripped) == len(line) else indented).setdefault(token, n)
            self._first_token_line = (flush, indented)
        return self._first_token_line

    @staticmethod
    def _contains(line: str, token: str) -> bool:
        if token.startswith("<") or token.startswith("_:"):
            return token in line
        return re.search(rf"(?<![\w:<#/-]){re.escape(token)}(?![\w:%-])", line) is not None

    # --- lines ----------------------------------------------------------------------------------------

    def subject_line(self, node: str, *, blank: bool = False) -> int | None:
        """Line where `node` (an IRI, or a blank node label with blank=True) is first written as a subject."""
        if blank:
            tokens = [f"_:{node}"]
        else:
            tokens = self.tokens(node)
        if self.fmt == "rdfxml" and not blank:
            for attr in (f'about="{node}"', f"about='{node}'"):
                pos = self.text.find(attr)
                if pos >= 0:
                    return self._line_of_offset(pos)
        if self.fmt == "jsonld" and not blank:
            m = re.search(r'"@id"\s*:\s*"' + re.escape(node) + '"', self.text)
            if m:
                return self._line_of_offset(m.start())
        for index in self._index():
            found = [index[t] for t in tokens if t in index]
            if found:
                return min(found)
        best = None
        for t in tokens:
            if t == "a":
                continue
            if self.fmt == "jsonld":
                t = f'"{node}"' if not blank else t
            pos = self.text.find(t)
            while pos >= 0:
                line_no = self._line_of_offset(pos)
                if self._contains(self.lines[line_no - 1], t):
                    best = line_no if best is None else min(best, line_no)
                    break
                pos = self.text.find(t, pos + 1)
        return best

    def triple_line(self, subject_line: int, predicate: str | None) -> int:
        """The line, within the statement starting at `subject_line`, that writes `predicate`."""
        if predicate is None or self.fmt in ("ntriples", "nquads", "jsonld"):
            return subject_line
        tokens = self.tokens(predicate)
        if self.fmt == "rdfxml":
            tokens = [f"<{t}" for t in tokens if not t.startswith("<")]
        for n in range(subject_line, min(len(self.lines), subject_line + 500) + 1):
            line = self.lines[n - 1]
            if n > subject_line and self.fmt in ("turtle", "trig") and _STARTS_STATEMENT.match(line) \
                    and not line.startswith(("@", "PREFIX", "prefix", "BASE", "base")):
                break
            text = line if n > subject_line else self._after_subject(line)
            if any((t in text) if self.fmt == "rdfxml" else self._contains(text, t) for t in tokens):
                return n
        return subject_line

    @staticmethod
    def _after_subject(line: str) -> str:
        stripped = line.lstrip()
        if stripped.startswith("<"):
            end = stripped.find(">")
            return stripped[end + 1:] if end > 0 else stripped
        parts = stripped.split(None, 1)
        return " " + parts[1] if len(parts) > 1 else ""

    def ntriples_line(self, subject: str, predicate: str | None, *, blank: bool = False) -> int | None:
        """N-Triples/N-Quads: the first line `<s> <p> ...` (or `_:b <p>`), else the first `<s> ...`."""
        s = f"_:{subject}" if blank else f"<{subject}>"
        first = None
        for n, line in enumerate(self.lines, 1):
            stripped = line.lstrip()
            if stripped.startswith(s):
                if first is None:
                    first = n
                if predicate is None or stripped[len(s):].lstrip().startswith(f"<{predicate}>"):
                    return n
        return first

    def value_line(self, predicate: str, value: str, *, literal: bool) -> int | None:
        """Last resort for an anonymous blank node nothing points at (`[] a time:Instant ; ...`): the first
        line writing `predicate` with this value (a literal's lexical form, or an IRI's tokens)."""
        values = [f'"{value}"', f"'{value}'"] if literal else self.tokens(value)
        preds = self.tokens(predicate)
        for n, text in enumerate(self.lines, 1):
            if any(self._contains(text, p) for p in preds) and any(v in text for v in values):
                return n
        return None

    def line(self, node: str, predicate: str | None = None, *, blank: bool = False) -> int | None:
        """Best line for the triple (node, predicate, ...) — or for the node alone; None if not found."""
        if self.fmt in ("ntriples", "nquads"):
            return self.ntriples_line(node, predicate, blank=blank)
        start = self.subject_line(node, blank=blank)
        if start is None:
            return None
        return self.triple_line(start, predicate)
