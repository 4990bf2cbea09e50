"""Where each scalar value of a JSON text sits, by the JSON path the score reader names it with.

`json.loads` forgets positions, and a parameter of a Composer JSON score must be shown as `file:line:col`
and replaced in place without re-serialising (which would lose the file's own layout). The only library
for this on PyPI (`json-source-map`) is unmaintained since 2022 and recursive, so deeply nested scores
would overflow it; this scanner is a token loop with an explicit stack, run only on text `json.loads` has
already accepted. Paths follow `symphony.score`: `children[0].lhs-fn-params.window`.
"""

from __future__ import annotations

import json
import re

# punctuation, a string (with escapes), or a bare scalar (number, true/false/null, NaN/Infinity)
_TOKEN = re.compile(r'\s*(?:([{}\[\],:])|("(?:[^"\\]|\\.)*")|([^\s{}\[\],:"]+))', re.DOTALL)


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Open:
    """An open object or array: its path, and where inside it the scanner is."""

    __slots__ = ("array", "index", "key", "path", "want_key")

    def __init__(self, array: bool, path: str) -> None:
        self.array = array
        self.path = path
        self.index = 0
        self.key = ""
        self.want_key = not array

    def here(self) -> str:
        """The path of the value about to be read inside this container."""
        return _join(self.path, self.index) if self.array else _join(self.path, self.key)


def value_spans(text: str) -> dict[str, tuple[int, int]]:
    """JSON path → (start, end) offsets of every scalar value (a repeated key keeps its last value, as
    `json.loads` does). Containers are not listed."""
    spans: dict[str, tuple[int, int]] = {}
    stack: list[_Open] = []
    pos = 0
    while True:
        match = _TOKEN.match(text, pos)
        if match is None:
            break
        pos = match.end()
        punct, string, bare = match.groups()
        frame = stack[-1] if stack else None
        if punct is not None:
            if punct in "{[":
                stack.append(_Open(punct == "[", frame.here() if frame else ""))
            elif punct in "}]":
                stack.pop()
            elif punct == "," and frame is not None:
                if frame.array:
                    frame.index += 1
                else:
                    frame.want_key = True
            continue
        if frame is not None and frame.want_key:
            frame.key = json.loads(string) if string is not None else str(bare)
            frame.want_key = False
            continue
        group = 2 if string is not None else 3
        spans[frame.here() if frame else ""] = (match.start(group), match.end(group))
    return spans
