"""Reads Composer's Clojure-like export text into plain s-expression values that remember line:column.

Hand-written because a single regular expression over the whole text tokenizes megabytes in a fraction of
a second, and because we want our own error messages ("unclosed `[` opened at 12:5"). Nesting is handled
with an explicit stack, so the depth of a file is bounded by memory, never by Python's recursion limit.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from alchemiser.errors import SourceLocation, SymphonyError


@dataclass(slots=True, eq=False)
class Atom:
    """A symbol (`weight-equal`, `>`), keyword (`:window`), string, number or `nil`."""

    kind: str  # "symbol" | "keyword" | "string" | "number" | "nil" | "bool"
    value: object
    loc: SourceLocation

    def describe(self) -> str:
        if self.kind == "string":
            return f'string "{self.value}"'
        if self.kind == "keyword":
            return f"keyword :{self.value}"
        return f"{self.kind} {self.value}"


@dataclass(slots=True, eq=False)
class Form:
    """A bracketed collection: `(` list, `[` vector or `{` map."""

    bracket: str
    items: list[Node] = field(default_factory=list)
    loc: SourceLocation = field(default_factory=lambda: SourceLocation("<input>", 1, 1))

    @property
    def kind(self) -> str:
        return {"(": "list", "[": "vector", "{": "map"}[self.bracket]

    def describe(self) -> str:
        if self.bracket == "(" and self.items and isinstance(self.items[0], Atom):
            return f"({self.items[0].value} …)"
        return self.kind


Node = Atom | Form

_CLOSERS = {")": "(", "]": "[", "}": "{"}
_TOKEN = re.compile(
    r"""
    (?P<ws>[\s,]+)
  | (?P<comment>;[^\n]*)
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<badstring>"(?:[^"\\]|\\.)*\Z)
  | (?P<discard>\#_)
  | (?P<atom>[^\s,;()\[\]{}"]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


class _Positions:
    """Offset → line:col by binary search over line starts (cheap even for megabytes)."""

    def __init__(self, text: str, filename: str) -> None:
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self.filename = filename

    def at(self, offset: int) -> SourceLocation:
        line = bisect.bisect_right(self.starts, offset)
        return SourceLocation(self.filename, line, offset - self.starts[line - 1] + 1)


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _atom(text: str, loc: SourceLocation) -> Atom:
    if text.startswith(":") and len(text) > 1:
        return Atom("keyword", text[1:], loc)
    if text == "nil":
        return Atom("nil", None, loc)
    if text in ("true", "false"):
        return Atom("bool", text == "true", loc)
    if _NUMBER.fullmatch(text):
        if text.endswith("%"):
            return Atom("number", float(text[:-1]) / 100.0, loc)
        return Atom("number", float(text) if any(c in text for c in ".eE") else int(text), loc)
    return Atom("symbol", text, loc)


def read_forms(text: str, filename: str = "<input>") -> list[Node]:
    """All top-level forms of `text`; raises `SymphonyError` at the first structural problem."""
    pos = _Positions(text, filename)
    root: list[Node] = []
    stack: list[Form] = []
    discard_pending: list[int] = []  # stack depths at which a `#_` waits for its form
    at = 0
    n = len(text)
    match = _TOKEN.match
    while at < n:
        m = match(text, at)
        if m is None:  # pragma: no cover - the atom alternative matches any other character
            raise SymphonyError("unreadable character", pos.at(at))
        kind = m.lastgroup
        start = at
        at = m.end()
        if kind in ("ws", "comment"):
            continue
        if kind == "discard":
            discard_pending.append(len(stack))
            continue
        if kind == "open":
            stack.append(Form(m.group(), [], pos.at(start)))
            continue
        node: Node
        if kind == "close":
            closer = m.group()
            if not stack:
                raise SymphonyError(f"unexpected `{closer}` with nothing open", pos.at(start))
            form = stack.pop()
            if form.bracket != _CLOSERS[closer]:
                raise SymphonyError(
                    f"`{closer}` does not match the `{form.bracket}` opened at {form.loc.line}:{form.loc.col}",
                    pos.at(start),
                )
            if form.bracket == "{" and len(form.items) % 2:
                raise SymphonyError("a map needs an even number of items (key value pairs)", form.loc)
            node = form
        elif kind == "string":
            node = Atom("string", _unescape(m.group()[1:-1]), pos.at(start))
        elif kind == "badstring":
            raise SymphonyError("string is never closed", pos.at(start))
        else:
            node = _atom(m.group(), pos.at(start))
        if discard_pending and discard_pending[-1] == len(stack):
            discard_pending.pop()
            continue
        (stack[-1].items if stack else root).append(node)
    if stack:
        form = stack[-1]
        closer = {"(": ")", "[": "]", "{": "}"}[form.bracket]
        raise SymphonyError(f"`{form.bracket}` is never closed (expected `{closer}`)", form.loc)
    return root
