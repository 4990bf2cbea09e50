"""Reads Composer's Clojure-like export text into plain s-expression values that remember line:column.

Hand-written because a single regular expression over the whole text tokenizes megabytes in a fraction of
a second, and because we want our own error messages ("unclosed `[` opened at 12:5"). Nesting is handled
with an explicit stack, so the depth of a file is bounded by memory, never by Python's recursion limit.
"""

from __future__ import annotations

import bisect
import re
from typing import Protocol

from alchemiser.errors import SourceLocation, SymphonyError


class Locator(Protocol):
    """Turns a node's token number into its location: line:col in a `.clj`, a JSON path in a score."""

    def at(self, token: int) -> SourceLocation: ...


class _Positions:
    """Token number → line:col, worked out only when a location is asked for.

    Reading stores each node's token number, not its offset: collecting offsets for every token would cost
    as much as the rest of the reading, and most are never needed.
    """

    __slots__ = ("_offsets", "_starts", "filename", "text")

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self._offsets: list[int] | None = None
        self._starts: list[int] | None = None

    def line_col(self, offset: int) -> tuple[int, int]:
        if self._starts is None:
            self._starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def at_offset(self, offset: int) -> SourceLocation:
        return SourceLocation(self.filename, *self.line_col(offset))

    def token_line_col(self, token: int) -> tuple[int, int]:
        if self._offsets is None:
            self._offsets = [m.start() for m in _TOKEN.finditer(self.text)]
        return self.line_col(self._offsets[token])

    def at(self, token: int) -> SourceLocation:
        """A lazy location: nothing is computed until its line or column is read."""
        return SourceLocation(self.filename, resolve=lambda: self.token_line_col(token))


class Atom:
    """A symbol (`weight-equal`, `>`), keyword (`:window`), string, number or `nil`."""

    __slots__ = ("_pos", "kind", "token", "value")

    def __init__(self, kind: str, value: object, token: int, pos: Locator) -> None:
        self.kind = kind  # "symbol" | "keyword" | "string" | "number" | "nil" | "bool"
        self.value = value
        self.token = token
        self._pos = pos

    @property
    def loc(self) -> SourceLocation:
        return self._pos.at(self.token)

    def describe(self) -> str:
        if self.kind == "string":
            return f'string "{self.value}"'
        if self.kind == "keyword":
            return f"keyword :{self.value}"
        return f"{self.kind} {self.value}"


class Form:
    """A bracketed collection: `(` list, `[` vector or `{` map."""

    __slots__ = ("_pos", "bracket", "items", "token")

    def __init__(self, bracket: str, token: int, pos: Locator) -> None:
        self.bracket = bracket
        self.items: list[Node] = []
        self.token = token
        self._pos = pos

    @property
    def loc(self) -> SourceLocation:
        return self._pos.at(self.token)

    @property
    def kind(self) -> str:
        return {"(": "list", "[": "vector", "{": "map"}[self.bracket]

    def describe(self) -> str:
        if self.bracket == "(" and self.items and isinstance(self.items[0], Atom):
            return f"({self.items[0].value} …)"
        return self.kind


Node = Atom | Form

_CLOSERS = {")": "(", "]": "[", "}": "{"}
_OPENERS = frozenset("([{")
# One match per token (whitespace and commas are skipped by the search itself); the first character says
# what kind of token it is, which is cheaper than asking the match object which group matched.
_TOKEN = re.compile(r'[()\[\]{}]|"(?:[^"\\]|\\.)*"|;[^\n]*|#_|[^\s,;()\[\]{}"]+|"')
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
_NUMBER_START = frozenset("0123456789+-.")
_SPECIAL_WORDS = frozenset(("nil", "true", "false"))


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _atom(text: str, token: int, pos: _Positions) -> Atom:
    first = text[0]
    if first == ":" and len(text) > 1:
        return Atom("keyword", text[1:], token, pos)
    if first in _NUMBER_START and _NUMBER.fullmatch(text):
        if text.endswith("%"):
            return Atom("number", float(text[:-1]) / 100.0, token, pos)
        # a long integer literal becomes a float (inf when huge): int() refuses over 4300 digits, float() never
        is_float = "." in text or "e" in text or "E" in text or len(text) > 18
        return Atom("number", float(text) if is_float else int(text), token, pos)
    if text == "nil":
        return Atom("nil", None, token, pos)
    if text in ("true", "false"):
        return Atom("bool", text == "true", token, pos)
    return Atom("symbol", text, token, pos)


def read_forms(text: str, filename: str = "<input>") -> list[Node]:
    """All top-level forms of `text`; raises `SymphonyError` at the first structural problem.

    A UTF-8 byte-order mark (Windows editors add one) is not part of the text: it is dropped before reading.
    """
    text = text.removeprefix("\ufeff")
    pos = _Positions(text, filename)
    root: list[Node] = []
    stack: list[Form] = []
    discard_pending: list[tuple[int, int]] = []  # (stack depth, token) of each `#_` waiting for its form
    for k, token in enumerate(_TOKEN.findall(text)):
        first = token[0]
        node: Node
        if first == '"':
            if len(token) == 1:  # the regex only matches a whole string when its closing quote exists
                raise SymphonyError("string is never closed", pos.at(k))
            body = token[1:-1]
            node = Atom("string", _unescape(body) if "\\" in body else body, k, pos)
        elif first in _OPENERS:
            stack.append(Form(first, k, pos))
            continue
        elif first in _CLOSERS:
            if discard_pending and discard_pending[-1][0] == len(stack):  # else it would eat a later form
                raise SymphonyError("`#_` has no form after it to discard", pos.at(discard_pending[-1][1]))
            if not stack:
                raise SymphonyError(f"unexpected `{first}` with nothing open", pos.at(k))
            form = stack.pop()
            if form.bracket != _CLOSERS[first]:
                opened = form.loc
                raise SymphonyError(
                    f"`{first}` does not match the `{form.bracket}` opened at {opened.line}:{opened.col}", pos.at(k)
                )
            if form.bracket == "{" and len(form.items) % 2:
                raise SymphonyError("a map needs an even number of items (key value pairs)", form.loc)
            node = form
        elif first == ";":
            continue
        elif token == "#_":
            discard_pending.append((len(stack), k))
            continue
        elif first.isalpha() and token not in _SPECIAL_WORDS:
            node = Atom("symbol", token, k, pos)
        else:
            node = _atom(token, k, pos)
        if discard_pending and discard_pending[-1][0] == len(stack):
            discard_pending.pop()
            continue
        (stack[-1].items if stack else root).append(node)
    if stack:
        form = stack[-1]
        closer = {"(": ")", "[": "]", "{": "}"}[form.bracket]
        raise SymphonyError(f"`{form.bracket}` is never closed (expected `{closer}`)", form.loc)
    return root
