"""The SPARQL texts of SPARQL-based targets and constraints, rewritten to run for every focus node at once.

SHACL pre-binds $this by substitution (pySHACL: one query per focus node, with Oxigraph's substitutions).
Here $this is joined with the set of focus nodes instead, which gives the same solutions when the focus
pattern is put at the start of every group graph pattern that mentions $this (the WHERE group, UNION
branches, OPTIONAL and nested groups) except the bodies of EXISTS / NOT EXISTS, which see the binding of the
solution they filter. The rewriting reads the query with a small tokenizer (strings, IRIs, comments, braces,
variables) and refuses what it cannot prove equivalent: MINUS, VALUES, SERVICE, GRAPH, sub-queries,
solution modifiers, aggregates, `SELECT *`, re-binding $this, and the $PATH, $shapesGraph,
$currentShape and ?failure variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class Unsupported(ValueError):
    """The shapes use a SHACL feature (or a SPARQL form) that the SPARQL engine does not implement."""


FOCUS = "\x00focus\x00"  # placeholder for the focus pattern, replaced when a query is run

_TOKEN = re.compile(r'''
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<str>"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^'\\]|\\.|'(?!''))*\'\'\'|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00B7-\uFFFF]+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-.]*(?::[A-Za-z0-9_\-.%]*)?|:[A-Za-z0-9_\-.%]*)
  | (?P<other>.)
''', re.X | re.S)

_REFUSED_WORDS = {"MINUS", "VALUES", "SERVICE", "GRAPH", "SELECT", "PREFIX", "BASE", "LOAD", "CONSTRUCT",
                  "DESCRIBE", "ASK", "FROM"}
_REFUSED_VARS = {"PATH", "shapesGraph", "currentShape", "failure"}
_AGGREGATES = {"COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokens(text: str) -> list[Token]:
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        out.append(Token(kind, m.group(kind)))
    if "".join(t.text for t in out) != text:  # pragma: no cover - the pattern covers every character
        raise Unsupported("the SPARQL text could not be read")
    return out


def _var(t: Token) -> str | None:
    return t.text[1:] if t.kind == "var" else None


def _word(t: Token) -> str:
    return t.text.upper() if t.kind == "word" else ""


def _significant(toks: list[Token]) -> list[int]:
    return [i for i, t in enumerate(toks) if t.kind not in ("ws", "comment")]


def _split_select(text: str, what: str):
    """(projection tokens, body tokens from '{' to its matching '}') of a plain `SELECT ... WHERE { ... }`."""
    toks = tokens(text)
    sig = _significant(toks)
    if not sig or _word(toks[sig[0]]) != "SELECT":
        raise Unsupported(f"{what} must be a plain SELECT query (its PREFIXes come from sh:prefixes)")
    start = next((i for i in sig if toks[i].text == "{"), None)
    if start is None:
        raise Unsupported(f"{what} has no WHERE group")
    depth, end = 0, None
    for i in range(start, len(toks)):
        if toks[i].kind == "other" and toks[i].text == "{":
            depth += 1
        elif toks[i].kind == "other" and toks[i].text == "}":
            depth -= 1
            if depth == 0:
                end = i
                break
    if end is None or any(i > end for i in sig):
        raise Unsupported(f"{what}: unbalanced braces or solution modifiers after the WHERE group")
    head = [toks[i] for i in sig[1:] if i < start]
    if head and _word(head[-1]) == "WHERE":
        head = head[:-1]
    return head, toks[start:end + 1]


def _check_body(body: list[Token], what: str) -> None:
    for i, t in enumerate(body):
        if _word(t) in _REFUSED_WORDS:
            raise Unsupported(f"{what}: {t.text} is not supported by the SPARQL engine")
        if _var(t) in _REFUSED_VARS:
            raise Unsupported(f"{what}: the variable {t.text} is not supported by the SPARQL engine")
        if _word(t) == "AS":
            nxt = next((b for b in body[i + 1:] if b.kind not in ("ws", "comment")), None)
            if nxt is not None and _var(nxt) == "this":
                raise Unsupported(f"{what}: $this cannot be re-bound")


def _inject(body: list[Token]) -> str:
    """The WHERE group with FOCUS at its start and at the start of every group inside it that mentions
    $this, EXISTS bodies excepted."""
    opens: list[int] = []
    spans: dict[int, int] = {}
    for i, t in enumerate(body):
        if t.kind == "other" and t.text == "{":
            opens.append(i)
        elif t.kind == "other" and t.text == "}":
            spans[opens.pop()] = i
    mentions = [i for i, t in enumerate(body) if _var(t) == "this"]
    skip_until = -1
    inject = {0}  # the WHERE group always: $this is bound to each focus node even where the text ignores it
    for start in sorted(spans):
        end = spans[start]
        if start < skip_until:
            continue
        before = next((body[j] for j in range(start - 1, -1, -1) if body[j].kind not in ("ws", "comment")), None)
        if before is not None and _word(before) == "EXISTS":
            skip_until = end  # an EXISTS body and everything in it: substituted from the outer solution
            continue
        if any(start < m < end for m in mentions):
            inject.add(start)
    return "".join(t.text + (" " + FOCUS + " " if i in inject else "") for i, t in enumerate(body))


@dataclass(frozen=True)
class ConstraintQuery:
    prologue: str          # PREFIX lines
    projection: tuple      # projected variable names, as written
    this_projected: bool   # whether the text selects $this (pySHACL substitutes {$this} only then)
    body: str              # the WHERE group, with FOCUS placeholders

    def text(self, focus_pattern: str) -> str:
        names = list(dict.fromkeys(("this",) + self.projection))
        return (f"{self.prologue}SELECT DISTINCT {' '.join('?' + n for n in names)} WHERE "
                + self.body.replace(FOCUS, focus_pattern))


def _prologue(prefixes: dict[str, str]) -> str:
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in prefixes.items())


def constraint_query(text: str, prefixes: dict[str, str]) -> ConstraintQuery:
    what = "a SPARQL constraint"
    head, body = _split_select(text, what)
    names = []
    for t in head:
        if _word(t) in ("DISTINCT", "REDUCED"):
            continue  # one focus node's solutions are deduplicated anyway (pySHACL's guard)
        if t.kind != "var":
            raise Unsupported(f"{what}: only variables may be selected (no *, no expressions)")
        names.append(t.text[1:])
    if not names:
        raise Unsupported(f"{what} selects nothing")
    if set(names) & (_REFUSED_VARS | _AGGREGATES):
        raise Unsupported(f"{what}: selects a variable the engine does not support")
    _check_body(body, what)
    return ConstraintQuery(_prologue(prefixes), tuple(names), "this" in names, _inject(body))


@dataclass(frozen=True)
class TargetQuery:
    prologue: str  # PREFIX lines
    select: str    # the SELECT query, used as a sub-query (its solutions' ?this are the targets)


def target_query(text: str, prefixes: dict[str, str]) -> TargetQuery:
    """A SPARQL-based target, checked."""
    what = "a SPARQL-based target"
    head, body = _split_select(text, what)
    if "this" not in {_var(t) for t in head}:
        raise Unsupported(f"{what} must select ?this")
    for t in body:
        if _word(t) in {"SERVICE", "GRAPH", "LOAD", "PREFIX", "BASE", "FROM"}:
            raise Unsupported(f"{what}: {t.text} is not supported by the SPARQL engine")
    return TargetQuery(_prologue(prefixes), text.strip())
