"""Contexts named by IRI in a JSON-LD document, replaced by their local copies before pyoxigraph parses it.

pyoxigraph never loads a remote context (it has no document loader set), so a document that names one by IRI
would fail with a bare "No LoadDocumentCallback" error. Here, before the parse:

- every `@context` value of the document (top level, in node objects at any depth, in arrays of contexts) and,
  inside contexts, every scoped context of a term definition and every `@import`, when it names a context by
  IRI, is looked up in the allow-list (kb.jsonld_contexts); a known IRI is replaced by the content of its local
  copy, recursively (a copy may name other allowed contexts; relative references in a copy resolve against
  the copy's IRI);
- an unknown IRI, a `file:` IRI or a relative reference in the document is refused (`Refused`, with the IRI
  and how to allow it); so are cycles, chains of more than MAX_CHAIN contexts, and more than MAX_INLINED bytes
  of copies inlined into one document; and input nested deeper than MAX_JSON_DEPTH levels.

Only the `@context` values that change are rewritten, in place in the original text (each on one line,
followed by as many newlines as it spanned, so lines after it keep their numbers); every other byte of the
document is passed on untouched. The values of `@value` (literals, JSON literals included) are data and are
never looked at. As in JSON-LD, a remote context's `@base` is ignored: it is dropped from inlined copies.
A JSON-LD processor resolves the same IRIs to the same definitions, so the triples are those the document
means; nothing is ever fetched.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any
from urllib.parse import urljoin

from .jsonld_contexts import INDEX, Library

MAX_JSON_DEPTH = 64
MAX_CHAIN = 8                      # contexts naming contexts naming contexts...
MAX_INLINED = 16 * 1024 * 1024     # bytes of local copies inlined into one document
_WS = re.compile(r"[ \t\n\r]*")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DECODER = json.JSONDecoder()


class Refused(ValueError):
    """The document names a context that may not be used, or is nested too deeply."""


def inline(data: bytes, library: Library) -> bytes:
    """`data` (valid JSON) with every allowed context named by IRI replaced by its local copy."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(f"JSON-LD must be UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start} is not)") from None
    scan = _Scanner(text, _Resolver(library))
    start = 1 if text.startswith("\ufeff") else 0
    scan.value(_WS.match(text, start).end(), 0)
    if not scan.splices:
        return data
    out, last = [], 0
    for begin, end, value in scan.splices:
        out += [text[last:begin], json.dumps(value, separators=(",", ":")), "\n" * text.count("\n", begin, end)]
        last = end
    out.append(text[last:])
    return "".join(out).encode("utf-8")


def check_depth(value: Any, depth: int = 0) -> None:
    """Refused when `value` (decoded JSON at nesting level `depth`) nests deeper than MAX_JSON_DEPTH."""
    stack = [(value, depth)]
    while stack:
        node, level = stack.pop()
        if level > MAX_JSON_DEPTH:
            raise Refused(f"JSON-LD nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)


class _Scanner:
    """Walks the JSON text (already validated) and records the `@context` values to replace."""

    def __init__(self, text: str, resolver: "_Resolver"):
        self.text, self.resolver = text, resolver
        self.splices: list[tuple[int, int, Any]] = []

    def _ws(self, i: int) -> int:
        return _WS.match(self.text, i).end()

    def value(self, i: int, depth: int) -> int:
        """Scan the value at `i`; the index after it."""
        if depth > MAX_JSON_DEPTH:
            raise Refused(f"JSON-LD nested deeper than {MAX_JSON_DEPTH} levels")
        c = self.text[i]
        if c == "{":
            return self._object(i, depth)
        if c == "[":
            return self._array(i, depth)
        if c == '"':
            return scanstring(self.text, i + 1)[1]
        return _DECODER.raw_decode(self.text, i)[1]

    def _array(self, i: int, depth: int) -> int:
        text = self.text
        i = self._ws(i + 1)
        if text[i] == "]":
            return i + 1
        while True:
            i = self._ws(self.value(i, depth + 1))
            if text[i] == "]":
                return i + 1
            i = self._ws(i + 1)  # ","

    def _object(self, i: int, depth: int) -> int:
        text = self.text
        i = self._ws(i + 1)
        if text[i] == "}":
            return i + 1
        while True:
            key, i = scanstring(text, i + 1)
            i = self._ws(self._ws(i) + 1)  # ":"
            if key == "@context":
                value, end = _DECODER.raw_decode(text, i)
                check_depth(value, depth + 1)
                new, changed = self.resolver.context(value, base=None, chain=(), depth=depth + 1)
                if changed:
                    self.splices.append((i, end, new))
                i = end
            elif key == "@value":  # a literal, possibly a JSON literal: data, not contexts
                value, i = _DECODER.raw_decode(text, i)
                check_depth(value, depth + 1)
            else:
                i = self.value(i, depth + 1)
            i = self._ws(i)
            if text[i] == "}":
                return i + 1
            i = self._ws(i + 1)  # ","


class _Resolver:
    """Context values with every IRI reference replaced by its local copy (recursively)."""

    def __init__(self, library: Library):
        self.library = library
        self.inlined = 0

    def context(self, value: Any, *, base: str | None, chain: tuple[str, ...], depth: int) -> tuple[Any, bool]:
        """(the resolved value, whether anything changed). `base`: the IRI of the local copy the value comes
        from (None: the user's document); `chain`: the copies being inlined, outermost first."""
        if depth > MAX_JSON_DEPTH:
            raise Refused(f"JSON-LD nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, str):
            return self._copy(value, base=base, chain=chain, depth=depth), True
        if isinstance(value, list):
            out: list = []
            changed = False
            for item in value:
                new, item_changed = self.context(item, base=base, chain=chain, depth=depth + 1)
                changed |= item_changed
                if isinstance(item, str) and isinstance(new, list):
                    out.extend(new)  # a copy whose @context is an array stands for its items (arrays do not nest)
                else:
                    out.append(new)
            return (out if changed else value), changed
        if isinstance(value, dict):
            return self._definition(value, base=base, chain=chain, depth=depth)
        return value, False  # null (or an invalid value, which pyoxigraph reports)

    def _definition(self, ctx: dict, *, base: str | None, chain: tuple[str, ...], depth: int) -> tuple[Any, bool]:
        out: dict = {}
        imported = ctx.get("@import")
        changed = isinstance(imported, str)
        if changed:
            iri = self._allowed(imported, base, chain)
            copy = self._take(iri)
            if not isinstance(copy.context, dict):
                raise Refused(f"@import of JSON-LD context <{iri}>: its local copy ({copy.file}) holds no context "
                              f"object")
            if "@import" in copy.context:
                raise Refused(f"@import of JSON-LD context <{iri}>: an imported context may not @import another")
            new, _ = self._definition(copy.context, base=iri, chain=chain + (iri,), depth=depth + 1)
            out = {k: v for k, v in new.items() if k != "@base"}
        for key, term in ctx.items():
            if key == "@import" and isinstance(term, str):
                continue
            if isinstance(term, dict) and "@context" in term:  # a scoped context
                scoped, scoped_changed = self.context(term["@context"], base=base, chain=chain, depth=depth + 2)
                if scoped_changed:
                    term = {**term, "@context": scoped}
                    changed = True
            out[key] = term  # the importing context's entries win over the imported ones
        return (out if changed else ctx), changed

    def _copy(self, ref: str, *, base: str | None, chain: tuple[str, ...], depth: int) -> Any:
        iri = self._allowed(ref, base, chain)
        copy = self._take(iri)
        new, _ = self.context(copy.context, base=iri, chain=chain + (iri,), depth=depth + 1)
        if isinstance(new, dict):  # JSON-LD ignores @base in a remote context
            new = {k: v for k, v in new.items() if k != "@base"}
        elif isinstance(new, list):
            new = [{k: v for k, v in c.items() if k != "@base"} if isinstance(c, dict) else c for c in new]
        return new

    def _allowed(self, ref: str, base: str | None, chain: tuple[str, ...]) -> str:
        """The absolute IRI `ref` names, if it may be looked up; Refused otherwise."""
        if _SCHEME.match(ref):
            iri = ref
        elif base is not None:
            iri = urljoin(base, ref)
        else:
            raise Refused(f"JSON-LD context {ref!r} is a relative reference: refused (thb-kb never reads contexts "
                          f"from files or fetches them); name an allowed context by its absolute IRI, or inline it")
        if iri[:5].lower() == "file:":
            raise Refused(f"JSON-LD context <{iri}> refused: thb-kb never reads file: contexts; inline the context, "
                          f"or name an allowed context by its http(s) IRI")
        if iri in chain:
            raise Refused("JSON-LD contexts name each other in a cycle: " + " -> ".join(f"<{c}>" for c in chain + (iri,)))
        if len(chain) >= MAX_CHAIN:
            raise Refused(f"JSON-LD contexts name each other more than {MAX_CHAIN} levels deep: "
                          + " -> ".join(f"<{c}>" for c in chain + (iri,)))
        if iri not in self.library:
            raise Refused(self._unknown(iri))
        return iri

    def _take(self, iri: str):
        copy = self.library.get(iri)
        self.inlined += copy.size
        if self.inlined > MAX_INLINED:
            raise Refused(f"JSON-LD document names its contexts so often that more than {MAX_INLINED} bytes of them "
                          f"would be inlined (last: <{iri}>); name each context once, at the top")
        return copy

    def _unknown(self, iri: str) -> str:
        allowed = self.library.iris()
        listed = ", ".join(f"<{i}>" for i in allowed[:6]) + (", ..." if len(allowed) > 6 else "")
        return (f"JSON-LD context <{iri}> refused: thb-kb never fetches contexts, and this IRI is not among the "
                f"allowed local copies ({listed}). Inline the context in the document, or (publishers) put a "
                f"copy in the KB_JSONLD_CONTEXTS folder and map the IRI to it in its {INDEX}")
