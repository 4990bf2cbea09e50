"""Reads Composer's Clojure-like export text into plain s-expression values that remember line:column.

Hand-written because a single regular expression over the whole text tokenizes megabytes in a fraction of
a second, and because we want our own error messages ("unclosed `[` opened at 12:5"). Nesting is handled
with an explicit stack, so the depth of a file is bounded by memory, never by Python's recursion limit.

Exports run to megabytes because the same blocks are pasted again and again, so reading *hash-conses*: every
distinct subtree (same tokens, same layout of comments) becomes one `shape`, and the text becomes a small
table of shapes. Only the forms somebody looks at are turned into `Form`/`Atom` objects, on demand, each with
its own exact location (a subtree's shape records where its items sit relative to its first token, so the
same shape seen at another place is located at that place). The compiler compiles each shape once.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import NoReturn, Protocol

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
    """A bracketed collection: `(` list, `[` vector or `{` map.

    A form read from text knows its `shape` (equal shapes are equal subtrees) and makes its `items` only when
    they are first asked for; a form built by hand (the JSON score reader) is given its items.
    """

    __slots__ = ("_items", "_pos", "_table", "bracket", "shape", "token")

    def __init__(
        self, bracket: str, token: int, pos: Locator, shape: int | None = None, table: _Shapes | None = None
    ) -> None:
        self.bracket = bracket
        self.token = token
        self._pos = pos
        self.shape = shape
        self._table = table
        self._items: list[Node] | None = None if table is not None else []

    @property
    def items(self) -> list[Node]:
        if self._items is None:
            assert self._table is not None and self.shape is not None
            self._items = self._table.items(self.shape, self.token)
        return self._items

    @items.setter
    def items(self, items: list[Node]) -> None:
        self._items = items

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


def head_symbol(form: Node) -> str | None:
    """The operator of a call form, `asset` in `(asset "SPY")`; None for anything else."""
    if isinstance(form, Form) and form.bracket == "(" and form.items:
        head = form.items[0]
        if isinstance(head, Atom) and head.kind == "symbol":
            return str(head.value)
    return None


@dataclass(frozen=True, slots=True)
class _AtomShape:
    kind: str
    value: object


@dataclass(frozen=True, slots=True)
class _FormShape:
    bracket: str
    children: tuple[int, ...]  # shape of each item
    offsets: tuple[int, ...]  # token number of each item, counted from the form's opening bracket


class _Shapes:
    """Every distinct subtree of one text, by shape number; turns (shape, first token) back into nodes."""

    __slots__ = ("pos", "shapes")

    def __init__(self, pos: _Positions) -> None:
        self.pos = pos
        self.shapes: list[_AtomShape | _FormShape] = []

    def node(self, shape: int, token: int) -> Node:
        made = self.shapes[shape]
        if isinstance(made, _AtomShape):
            return Atom(made.kind, made.value, token, self.pos)
        return Form(made.bracket, token, self.pos, shape, self)

    def items(self, shape: int, token: int) -> list[Node]:
        made = self.shapes[shape]
        assert isinstance(made, _FormShape)
        return [self.node(s, token + o) for s, o in zip(made.children, made.offsets, strict=True)]


# Every token becomes an int code: a shape number (>= 0) for an atom, or one of these for the rest.
_OPEN = {"(": -1, "[": -2, "{": -3}
_CLOSE = {")": -4, "]": -5, "}": -6}
_COMMENT, _DISCARD, _UNCLOSED_STRING = -7, -8, -9
_BRACKET = {-1: "(", -2: "[", -3: "{", -4: ")", -5: "]", -6: "}"}
# Inside a form's key, `_GAP - n` stands for n tokens that are not items (comments, `#_` and what it discards),
# so the items after them are still located exactly.
_GAP = -10
# One match per token (whitespace and commas are skipped by the search itself). A string is matched as runs of
# plain characters between escapes, not one character per step. `_TOKEN` is the definition (a match's start is
# the token's place); `_SCAN` finds the same tokens faster by eating the whitespace before each one as part of
# its match, instead of failing a match at every blank of the indentation.
_TOKEN_PATTERN = r'[()\[\]{}]|"[^"\\]*(?:\\.[^"\\]*)*"|;[^\n]*|#_|[^\s,;()\[\]{}"]+|"'
_TOKEN = re.compile(_TOKEN_PATTERN)
_SCAN = re.compile(rf"[\s,]*+({_TOKEN_PATTERN})")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
_NUMBER_START = frozenset("0123456789+-.")


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _atom(text: str) -> _AtomShape:
    first = text[0]
    if first == '"':
        return _AtomShape("string", _unescape(text[1:-1]))
    if first == ":" and len(text) > 1:
        return _AtomShape("keyword", text[1:])
    if first in _NUMBER_START and _NUMBER.fullmatch(text):
        if text.endswith("%"):
            return _AtomShape("number", float(text[:-1]) / 100.0)
        # a long integer literal becomes a float (inf when huge): int() refuses over 4300 digits, float() never
        is_float = "." in text or "e" in text or "E" in text or len(text) > 18
        return _AtomShape("number", float(text) if is_float else int(text))
    if text == "nil":
        return _AtomShape("nil", None)
    if text in ("true", "false"):
        return _AtomShape("bool", text == "true")
    return _AtomShape("symbol", text)


def _code(token: str, shapes: list[_AtomShape | _FormShape], lengths: list[int]) -> int:
    """The code of a token text (each distinct text is classified once)."""
    code = _OPEN.get(token, _CLOSE.get(token))
    if code is not None:
        return code
    if token[0] == ";":
        return _COMMENT
    if token == "#_":
        return _DISCARD
    if token == '"':  # the regex only matches a whole string when its closing quote exists
        return _UNCLOSED_STRING
    shapes.append(_atom(token))
    lengths.append(1)
    return len(shapes) - 1


def _form_shape(bracket: str, key: tuple[int, ...], lengths: list[int], first: int) -> tuple[_FormShape, int]:
    """The shape of a form (or of the top level) from its key, and how many tokens it spans."""
    children: list[int] = []
    offsets: list[int] = []
    offset = first
    for code in key:
        if code >= 0:
            children.append(code)
            offsets.append(offset)
            offset += lengths[code]
        else:
            offset += _GAP - code
    return _FormShape(bracket, tuple(children), tuple(offsets)), offset + 1


def _odd(items: list[int]) -> bool:
    """Whether a map's item codes hold an odd number of items (gaps are not items)."""
    if min(items, default=0) >= 0:
        return len(items) % 2 == 1
    return sum(1 for code in items if code >= 0) % 2 == 1


def _wrong_close(
    pos: _Positions, k: int, code: int, start: int, opener: int, discard_pending: list[tuple[int, int]], depth: int
) -> NoReturn:
    """Raise for a closing bracket that cannot close the innermost open form (or has nothing to close)."""
    closer = _BRACKET[code]
    if discard_pending and discard_pending[-1][0] == depth:  # else it would eat a later form
        raise SymphonyError("`#_` has no form after it to discard", pos.at(discard_pending[-1][1]))
    if depth == 0:
        raise SymphonyError(f"unexpected `{closer}` with nothing open", pos.at(k))
    opened = pos.at(start)
    raise SymphonyError(
        f"`{closer}` does not match the `{_BRACKET[opener]}` opened at {opened.line}:{opened.col}", pos.at(k)
    )


class _Careful(Exception):
    """The fast loop met something it leaves to the careful one: a `#_`, or a structural error to report."""


class _Builder:
    """Shapes made while reading: each closed form's key (its bracket's code, then its items' codes) → shape."""

    __slots__ = ("forms", "lengths", "shapes")

    def __init__(self, shapes: list[_AtomShape | _FormShape], lengths: list[int]) -> None:
        self.shapes = shapes
        self.lengths = lengths
        self.forms: dict[tuple[int, ...], int] = {}

    def close(self, items: list[int]) -> int:
        key = tuple(items)
        shape = self.forms.get(key)
        if shape is None:
            made, length = _form_shape(_BRACKET[key[0]], key[1:], self.lengths, 1)
            shape = self.forms[key] = len(self.shapes)
            self.shapes.append(made)
            self.lengths.append(length)
        return shape


def _read_fast(codes: list[int], builder: _Builder) -> list[int]:
    """The top level's item codes, for the common file: no `#_`, no structural error (else `_Careful`).

    Each open form's list starts with its bracket's code, so a closing bracket checks its match with one
    comparison; the top level starts with 0, which no closing bracket matches.
    """
    root = [0]
    items = root
    stack: list[list[int]] = []
    close = builder.close
    for code in codes:
        if code >= 0:  # an atom: most tokens
            items.append(code)
        elif code >= -3:
            stack.append(items)
            items = [code]
        elif code >= -6:
            if items[0] != code + 3 or (code == -6 and _odd(items[1:])):
                raise _Careful
            shape = close(items)
            items = stack.pop()
            items.append(shape)
        elif code == _COMMENT:
            items.append(_GAP - 1)
        else:
            raise _Careful
    if stack:
        raise _Careful
    return root


def _read_careful(codes: list[int], builder: _Builder, pos: _Positions) -> list[int]:
    """As `_read_fast`, but also tracks token numbers: handles `#_` and reports the first problem exactly."""
    root = [0]
    items = root
    start = 0  # token number of the innermost open form's bracket
    stack: list[tuple[list[int], int]] = []  # the enclosing open forms
    discard_pending: list[tuple[int, int]] = []  # (stack depth, token) of each `#_` waiting for its form
    for k, code in enumerate(codes):
        if code >= 0:
            if discard_pending and discard_pending[-1][0] == len(stack):
                discard_pending.pop()
                items.append(_GAP - 1)
            else:
                items.append(code)
            continue
        if code >= -3:
            stack.append((items, start))
            items, start = [code], k
            continue
        if code >= -6:
            if items[0] != code + 3 or (discard_pending and discard_pending[-1][0] == len(stack)):
                _wrong_close(pos, k, code, start, items[0], discard_pending, len(stack))
            if code == -6 and _odd(items[1:]):
                raise SymphonyError("a map needs an even number of items (key value pairs)", pos.at(start))
            shape = builder.close(items)
            items, start = stack.pop()
            if discard_pending and discard_pending[-1][0] == len(stack):
                discard_pending.pop()
                items.append(_GAP - builder.lengths[shape])
            else:
                items.append(shape)
        elif code == _DISCARD:
            discard_pending.append((len(stack), k))
            items.append(_GAP - 1)
        elif code == _COMMENT:
            items.append(_GAP - 1)
        else:
            raise SymphonyError("string is never closed", pos.at(k))
    if stack:
        opener = items[0]
        raise SymphonyError(f"`{_BRACKET[opener]}` is never closed (expected `{_BRACKET[opener - 3]}`)", pos.at(start))
    return root


def read_shapes(text: str, filename: str = "<input>") -> tuple[_Shapes, list[tuple[int, int]]]:
    """The shape table of `text` and its top-level forms as (shape, token); raises `SymphonyError` at the
    first structural problem.

    The regex splits the text into tokens and each distinct token text is classified once, so the loops see
    small ints. They keep an explicit stack; each open form collects the codes of its items, and when it closes,
    that list is the key under which equal subtrees meet: a block pasted a thousand times costs a thousand
    dictionary look-ups and is stored once. A fast loop reads the usual file; a file with `#_` or a mistake
    is read again by a careful loop that knows every token's number. A UTF-8 byte-order mark (Windows editors
    add one) is not part of the text: it is dropped before reading.
    """
    text = text.removeprefix("\ufeff")
    pos = _Positions(text, filename)
    table = _Shapes(pos)
    lengths: list[int] = []  # tokens spanned by each shape
    tokens = _SCAN.findall(text)
    code_of = {token: _code(token, table.shapes, lengths) for token in set(tokens)}
    codes = list(map(code_of.__getitem__, tokens))
    atoms = len(table.shapes)
    try:
        root = _read_fast(codes, _Builder(table.shapes, lengths))
    except _Careful:
        del table.shapes[atoms:], lengths[atoms:]  # keep the atoms, forget the forms made so far
        root = _read_careful(codes, _Builder(table.shapes, lengths), pos)
    top, _ = _form_shape("", tuple(root[1:]), lengths, 0)
    return table, list(zip(top.children, top.offsets, strict=True))


def read_forms(text: str, filename: str = "<input>") -> list[Node]:
    """All top-level forms of `text`; raises `SymphonyError` at the first structural problem.

    A UTF-8 byte-order mark (Windows editors add one) is not part of the text: it is dropped before reading.
    """
    table, top = read_shapes(text, filename)
    return [table.node(shape, token) for shape, token in top]
