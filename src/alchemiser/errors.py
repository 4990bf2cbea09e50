"""One small error hierarchy, so the CLI can show any failure as a clear message without a traceback."""

from __future__ import annotations

from collections.abc import Callable


class AlchemiserError(Exception):
    """Base of every error the project raises on purpose; its message is meant for the user."""


class ConfigError(AlchemiserError):
    """The configuration file or environment holds an invalid value."""


class DataError(AlchemiserError):
    """Market data is missing, malformed, has gaps, or is stale."""


class StrategyError(AlchemiserError):
    """A strategy could not be parsed or evaluated."""


def cannot_open(what: str, path: object, exc: BaseException) -> str:
    """The message for a state file (ledger, simulated account) that cannot be created or opened.

    These files live in ALCHEMISER_HOME, and a home that is missing, read-only or not a folder is the usual
    cause, so the message says where to look instead of surfacing an OSError or sqlite3 traceback.
    """
    return f"cannot open {what} {path}: {exc}; ALCHEMISER_HOME must be a writable folder"


class SourceLocation:
    """Where a problem sits in a file: `file:line:col` is what editors and users recognise.

    A location can be lazy: readers of large files create one per node, but only the few that end up in
    an error or a trace are ever looked at, so line and column are worked out on first use.
    """

    __slots__ = ("_col", "_line", "_resolve", "file")

    def __init__(
        self, file: str, line: int = 0, col: int = 0, resolve: Callable[[], tuple[int, int]] | None = None
    ) -> None:
        self.file = file
        self._line = line
        self._col = col
        self._resolve = resolve

    def _resolved(self) -> None:
        if self._resolve is not None:
            self._line, self._col = self._resolve()
            self._resolve = None

    @property
    def line(self) -> int:
        self._resolved()
        return self._line

    @property
    def col(self) -> int:
        self._resolved()
        return self._col

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def __repr__(self) -> str:
        return f"SourceLocation({self.file!r}, {self.line}, {self.col})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SourceLocation) and (self.file, self.line, self.col) == (
            other.file,
            other.line,
            other.col,
        )

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.col))


class SymphonyError(StrategyError):
    """A problem in a symphony file, always tied to a location in it."""

    def __init__(self, message: str, location: SourceLocation | None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class SymphonyErrors(SymphonyError):
    """Several problems in one file; `str()` lists one per line."""

    def __init__(self, errors: list[SymphonyError]) -> None:
        self.errors = errors
        text = "\n".join(str(e) for e in errors)
        super().__init__(text, errors[0].location if errors else None)
        self.args = (text,)  # each line already starts with its location; do not prefix the first one twice


class JsonLocation(SourceLocation):
    """A place in a JSON file, named by its path (`children[0].lhs-fn`): JSON has no useful line:col."""

    __slots__ = ("path",)

    def __init__(self, file: str, path: str) -> None:
        super().__init__(file, 0, 0)
        self.path = path

    def __str__(self) -> str:
        return f"{self.file}: {self.path}" if self.path else self.file

    def __repr__(self) -> str:
        return f"JsonLocation({self.file!r}, {self.path!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonLocation) and (self.file, self.path) == (other.file, other.path)

    def __hash__(self) -> int:
        return hash((self.file, self.path))


class InsufficientHistoryError(StrategyError):
    """An indicator needed more bars than exist; the strategy fails closed instead of guessing."""

    def __init__(self, symbol: str, indicator: str, window: int | str | None, detail: str = "") -> None:
        """`window` is a window in days, or a description of several parameters ("short-window 12, …")."""
        self.symbol = symbol
        self.indicator = indicator
        self.window = window
        win = f" window {window}" if isinstance(window, int) else f" {window}" if window else ""
        extra = f" ({detail})" if detail else ""
        super().__init__(f"not enough history for {indicator}{win} on {symbol}{extra}")
