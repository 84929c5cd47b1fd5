"""sh:pattern is a Python regular expression for pySHACL (`re.search`); SPARQL REGEX in Oxigraph is Rust's
regex crate. The subset where both agree is accepted and translated; anything else is Unsupported."""

from __future__ import annotations

import re
import re._parser as sre_parse

from .sparql_text import Unsupported


def python_to_rust_regex(pattern: str) -> str:
    """The sh:pattern (Python `re.search`, as pySHACL runs it) as an equivalent SPARQL REGEX pattern, or
    Unsupported. Accepted: literals, character classes with ranges, `.`, groups, alternation, repetition,
    `^` and a final `$` (Python's `$` also matches before a final newline: translated to `(?:\\n?$)`)."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise Unsupported(f"sh:pattern {pattern!r} is not a valid regular expression: {exc}") from None
    allowed = {"LITERAL", "NOT_LITERAL", "IN", "ANY", "MAX_REPEAT", "MIN_REPEAT", "SUBPATTERN", "BRANCH", "AT"}

    def walk(items, top: bool) -> None:
        items = list(items)
        for i, (op, av) in enumerate(items):
            name = str(op)
            if name not in allowed:
                raise Unsupported(f"sh:pattern {pattern!r}: {name} is not supported by the SPARQL engine")
            if name == "IN" and any(str(o) not in ("LITERAL", "RANGE", "NEGATE") for o, _ in av):
                raise Unsupported(f"sh:pattern {pattern!r}: character categories (\\d, \\w...) are not supported")
            if name == "AT":
                last = top and i == len(items) - 1
                if str(av) not in ("AT_BEGINNING", "AT_END") or (str(av) == "AT_END" and not last):
                    raise Unsupported(f"sh:pattern {pattern!r}: only ^ and a final $ are supported")
            if name == "SUBPATTERN":
                if av[1] or av[2]:
                    raise Unsupported(f"sh:pattern {pattern!r}: inline flags are not supported")
                walk(av[3], False)
            elif name in ("MAX_REPEAT", "MIN_REPEAT"):
                walk(av[2], False)
            elif name == "BRANCH":
                for branch in av[1]:
                    walk(branch, False)

    walk(parsed, True)
    if parsed and str(parsed[-1][0]) == "AT" and str(parsed[-1][1]) == "AT_END":
        if not pattern.endswith("$") or pattern.endswith("\\$"):  # pragma: no cover - parser and text agree
            raise Unsupported(f"sh:pattern {pattern!r}: cannot place the final $")
        return pattern[:-1] + "(?:\\n?$)"
    return pattern
