"""What a query can read of a graph: the constant predicates and classes of its triple patterns.

The remote store sends every query with the KB's graphs as its dataset; Virtuoso plans some queries over a
dataset of two graphs several times slower than over one (docs/benchmarks.md: 08-programme-events 24 ms
against 10), and every KB has at least two: its data and the metadata graph (the version, the import
records). A graph can be left out of the default graph, with the same answer, when no triple pattern of the
query can match any of its triples. `reads(query)` tells what the patterns can match, `untouched(...)`
whether a graph of a known vocabulary is out of their reach.

The scan follows SPARQL's tokens and the shape of its triple blocks (subject, verbs separated by `;`,
objects by `,`, `[ ]` property lists, nested groups), and is conservative: it answers None (the query may
read anything) for every construct that can match a triple whatever its predicate, or that it does not
follow:

* a variable, `!` (a negated property set) or a bracketed path in a verb's place;
* `*` or `?` after a path step (their zero-length paths bind every node of the default graph);
* `GRAPH`, `SERVICE`, `FROM`, `DESCRIBE` (which reads whatever describes a resource), RDF collections;
* an expression holding a group (`EXISTS { }` inside brackets), an unknown prefix, a relative IRI, an
  escape, any token it does not know.

`?x a <C>` with a constant class reads only triples of class C; with anything else as the class, it reads
every `rdf:type` triple. Filters, BIND, VALUES and solution modifiers read no triple.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

_TOKEN = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<str>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<bnode>_:[\w\-\u00B7]+(?:[\w.\-\u00B7]*[\w\-\u00B7])?)
  | (?P<var>[?$][\w\u00B7\u0300-\u036F\u203F-\u2040]+)
  | (?P<pname>(?:[A-Za-z\u00C0-\uFFFF][\w.\-\u00B7]*)?:(?:(?:[\w:\-\u00B7]|%[0-9A-Fa-f]{2})(?:(?:[\w.:\-\u00B7]|%[0-9A-Fa-f]{2})*(?:[\w:\-\u00B7]|%[0-9A-Fa-f]{2}))?)?)
  | (?P<num>[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)
  | (?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<dtype>\^\^)
  | (?P<op>&&|\|\||!=|<=|>=|[{}()\[\].;,/|^*+?!=<>\-])
  | (?P<bad>.)
""", re.VERBOSE | re.DOTALL)

_GROUP_WORDS = {"OPTIONAL", "MINUS", "UNION"}
_MODIFIERS = {"GROUP", "ORDER", "HAVING", "LIMIT", "OFFSET"}
_REFUSE = {"GRAPH", "SERVICE", "FROM", "DESCRIBE", "LOAD", "INSERT", "DELETE", "WITH", "USING", "LATERAL"}


class _Unknown(Exception):
    """The scan cannot tell what the query reads."""


@dataclass(frozen=True)
class Reads:
    predicates: frozenset[str]  # the constant predicates of its patterns and paths (rdf:type: any class)
    types: frozenset[str]       # the constant classes of its `?x a <C>` patterns


def untouched(reads: Reads | None, predicates: frozenset[str] | set[str], types: frozenset[str] | set[str]) -> bool:
    """True when no pattern of a query that reads `reads` can match a triple of a graph whose triples use
    these predicates and (rdf:type) these classes."""
    if reads is None:
        return False
    return not (reads.predicates & predicates) and not (RDF_TYPE in predicates and reads.types & types)


def _tokens(sparql: str) -> list[tuple[str, str]]:
    # one pass of the regular expression engine over the text (every character starts a token: `bad` takes
    # what no other kind does), half the time of matching token by token
    out = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(sparql) if m.lastgroup != "ws"]
    for kind, text in out:
        if kind == "bad":
            raise _Unknown(text)
    return out


def reads(sparql: str) -> Reads | None:
    """The predicates and classes the query's patterns can match, or None when the scan cannot tell."""
    try:
        return _Scan(_tokens(sparql)).run()
    except (_Unknown, IndexError):
        return None


class _Scan:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.t = tokens
        self.i = 0
        self.prefixes: dict[str, str] = {}
        self.predicates: set[str] = set()
        self.types: set[str] = set()

    def peek(self) -> tuple[str, str]:
        return self.t[self.i] if self.i < len(self.t) else ("end", "")

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def run(self) -> Reads:
        while self.i < len(self.t):
            kind, text = self.next()
            word = text.upper() if kind == "word" else ""
            if word in _REFUSE:
                raise _Unknown(word)
            if word == "PREFIX":
                name, iri = self.next(), self.next()
                if name[0] != "pname" or not name[1].endswith(":") or iri[0] != "iri":
                    raise _Unknown("prefix")
                self.prefixes[name[1][:-1]] = self.iri(*iri)  # absolute: a relative one would need BASE
            elif word == "VALUES":
                self.values()
            elif text == "(":
                self.skip_brackets()  # a projection expression, GROUP BY / ORDER BY / HAVING expressions
            elif text == "{":
                self.group()
        return Reads(frozenset(self.predicates), frozenset(self.types))

    # -- helpers -------------------------------------------------------------------------------------
    def iri(self, kind: str, text: str) -> str:
        if kind == "iri":
            value = text[1:-1]
            if not re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", value):
                raise _Unknown("relative IRI")  # resolved against a BASE: not followed here
            return value
        prefix, _, local = text.partition(":")
        if prefix not in self.prefixes or "%" in local:
            raise _Unknown("prefix")
        return self.prefixes[prefix] + local

    def skip_brackets(self) -> None:
        """Skip to the `)` that closes the `(` just read; an expression holding a group may read triples."""
        depth = 1
        while depth:
            kind, text = self.next()
            if kind == "end" or text in ("{", "}"):
                raise _Unknown("group in an expression")
            if kind == "iri" and any(c in text for c in "()?$"):
                raise _Unknown("an IRI token that may be two operators of an expression")
            depth += {"(": 1, ")": -1}.get(text, 0) if kind == "op" else 0

    def values(self) -> None:
        kind, text = self.next()
        if text == "(":
            while True:
                kind, text = self.next()
                if text == ")":
                    break
                if kind != "var":
                    raise _Unknown("VALUES")
        elif kind != "var":
            raise _Unknown("VALUES")
        if self.next()[1] != "{":
            raise _Unknown("VALUES")
        while True:
            kind, text = self.next()
            if text == "}":
                return
            if text == "{" or kind == "end":
                raise _Unknown("VALUES")

    # -- group graph patterns ------------------------------------------------------------------------
    def group(self) -> None:
        """A group, from after its `{` to its `}`."""
        while True:
            kind, text = self.peek()
            word = text.upper() if kind == "word" else ""
            if kind == "end":
                raise _Unknown("end")
            if text == "}":
                self.next()
                return
            if text == "{":
                self.next()
                self.group()
            elif text == ".":
                self.next()
            elif word in _REFUSE:
                raise _Unknown(word)
            elif word in _GROUP_WORDS:
                self.next()
            elif word == "FILTER":
                self.next()
                self.constraint()
            elif word == "BIND":
                self.next()
                if self.next()[1] != "(":
                    raise _Unknown("BIND")
                self.skip_brackets()
            elif word == "VALUES":
                self.next()
                self.values()
            elif word == "SELECT":
                self.subselect()
            elif word in _MODIFIERS:  # a subquery's solution modifiers, up to the group's end
                while self.peek()[1] != "}":
                    kind, text = self.next()
                    if text == "(":
                        self.skip_brackets()
                    elif kind == "end" or text == "{":
                        raise _Unknown("modifiers")
                    elif kind == "word" and text.upper() == "VALUES":
                        self.values()
            else:
                self.triples()

    def constraint(self) -> None:
        kind, text = self.next()
        word = text.upper() if kind == "word" else ""
        if word == "NOT":
            kind, text = self.next()
            word = text.upper()
        if word == "EXISTS":
            if self.next()[1] != "{":
                raise _Unknown("EXISTS")
            self.group()
            return
        if text == "(":
            self.skip_brackets()
            return
        if kind in ("word", "iri", "pname") and self.next()[1] == "(":  # a function call
            self.skip_brackets()
            return
        raise _Unknown("FILTER")

    def subselect(self) -> None:
        self.next()  # SELECT
        while True:
            kind, text = self.next()
            if kind == "end":
                raise _Unknown("end")
            if text == "(":
                self.skip_brackets()
            elif text == "{":
                self.group()
                return  # its modifiers follow, read by `group`

    # -- triples -------------------------------------------------------------------------------------
    def triples(self) -> None:
        """One triples block up to (not including) its `.`, `}` or a keyword that starts something else."""
        self.node(subject=True)
        self.verbs(optional=False)

    def node(self, *, subject: bool) -> str | None:
        """A subject or object; the IRI when it is a constant IRI."""
        kind, text = self.next()
        if kind in ("var", "num", "bnode"):
            return None
        if kind in ("iri", "pname"):
            return self.iri(kind, text)
        if kind == "str":
            if self.peek()[0] == "lang":
                self.next()
            elif self.peek()[0] == "dtype":
                self.next()
                self.next()
            return None
        if kind == "word" and text.lower() in ("true", "false"):
            return None
        if kind == "op" and text in "+-" and self.peek()[0] == "num" and not subject:
            self.next()
            return None
        if text == "[":
            if self.peek()[1] == "]":
                self.next()
                return None
            self.verbs(optional=False)
            if self.next()[1] != "]":
                raise _Unknown("]")
            return None
        raise _Unknown(text)  # a collection, or not a term

    def verbs(self, *, optional: bool) -> None:
        """A predicate-object list: verb objects (; verb objects)*."""
        while True:
            kind, text = self.peek()
            if text in (".", "}", "]") or (kind == "word" and text.upper() not in ("A",)) or text == "{":
                if not optional and text not in (".", "}") and kind != "word":
                    raise _Unknown(text)
                return
            is_type = self.verb()
            while True:
                obj = self.node(subject=False)
                if is_type:
                    if obj is None:
                        self.predicates.add(RDF_TYPE)
                    else:
                        self.types.add(obj)
                if self.peek()[1] != ",":
                    break
                self.next()
            if self.peek()[1] != ";":
                return
            while self.peek()[1] == ";":
                self.next()
            optional = True

    def verb(self) -> bool:
        """A verb (a constant predicate or a path of them); True when it is `a` / rdf:type alone."""
        kind, text = self.peek()
        if kind == "word" and text == "a":
            self.next()
            if self.peek()[1] in ("/", "|", "*", "?", "+"):
                raise _Unknown("path from a")
            return True
        steps, plain = [], True
        while True:
            if self.peek()[1] == "^":
                self.next()
                plain = False
            kind, text = self.next()
            if kind == "word" and text == "a":
                steps.append(RDF_TYPE)
            elif kind in ("iri", "pname"):
                steps.append(self.iri(kind, text))
            else:
                raise _Unknown("verb")  # a variable, `!`, a bracketed path
            nxt = self.peek()[1]
            if nxt in ("*", "?"):
                raise _Unknown("zero-length path")
            if nxt == "+":
                self.next()
                nxt, plain = self.peek()[1], False
            if nxt in ("/", "|"):
                self.next()
                plain = False
                continue
            break
        if plain and steps == [RDF_TYPE]:
            return True  # `?x rdf:type ?c` alone (an inverse or a path reads rdf:type triples of any class)
        self.predicates.update(steps)
        return False
