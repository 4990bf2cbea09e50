"""Symphony parameters: every number a user would sweep, under a stable readable name, and variants with new values.

A parameter is one numeric literal of a `.clj` export or a Composer JSON score. Its `kind` says what it
means and how it is checked:

- `threshold` — the fixed side of a comparison `(> (rsi "TQQQ" {:window 10}) 79)`: any finite number;
- `window` — an indicator parameter counted in days (`:window`, `:short-window`, `:long-window`,
  `:smooth-window`) or a `weight-inverse-volatility` window: a whole number from 1 to 5000;
- `count` — the N of `(select-top N)` / `(select-bottom N)`: a whole number from 1 to 5000;
- `weight` — a `weight-specified` weight: a finite number ≥ 0 (weights are normalised; not all zero);
- `factor` — a non-integer indicator parameter (Bollinger's `:num-std-dev`): a finite number > 0;
- `corridor` — the `:rebalance-threshold` / `:rebalance-corridor-width` setting: above 0 and at most 1.

Names are lower-case words joined by `_` (TOML keys and column names as they are), built from what the
number means, never from its value or position, so editing one number never renames another:

- threshold: `<indicator>_<ticker>_<op>` — `rsi_tqqq_gt` for `(> (rsi "TQQQ" …) 79)`; op is gt, gte, lt,
  lte or eq as read with the indicator first (`(< 79 (rsi …))` is `rsi_…_gt`);
- indicator parameter: `<indicator>_<ticker>_<key>` — `rsi_tqqq_window`, `ppo_spy_short_window`;
- filter: `filter_<indicator>_<key>` for the metric (`filter_rsi_window`) and `filter_<indicator>_top` /
  `_bottom` for the count;
- weight: `weight_<child>` — the child's ticker (`weight_uvxy`), group name (`weight_uvxy_75_bil`) or kind;
- `ivol_window`; `rebalance_corridor` for `:rebalance-threshold` or `:rebalance-corridor-width` (one name for
  both, because a JSON score writes the first as the second).

Indicators are named by their short label (rsi, sma, ema, price, cumret, maret, stdret, stdprice, maxdd,
ppo, pposig, macd, macdsig, bbup, bblow). When several literals share a name, the first in the file keeps
it and the next ones get `_2`, `_3`… in file order. A parameter can also be addressed by its location,
`file:line:col` or `line:col`, as `alchemiser params FILE` shows it.

Substitution writes each new value over the old literal's characters only, so formatting, comments and the
rest of the file stay as they were, in the file's own format (a `25%` stays a percent when it can be one
exactly; a JSON `{"num": 60, "den": 100}` keeps its denominator when it can). The parsed file is cached,
so `load_variant` compiles only the parts of the tree whose numbers changed (see `symphony.variant`).
"""

from __future__ import annotations

import bisect
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.errors import JsonLocation, SourceLocation, StrategyError, SymphonyError, SymphonyErrors
from alchemiser.strategies.registry import BUILTINS, builtin_path
from alchemiser.strategies.symphony.compiler import MAX_WINDOW
from alchemiser.strategies.symphony.json_spans import value_spans
from alchemiser.strategies.symphony.param_sites import KINDS, Site, assign_names, find_sites
from alchemiser.strategies.symphony.program import Program
from alchemiser.strategies.symphony.reader import _atom, read_forms
from alchemiser.strategies.symphony.score import read_score
from alchemiser.strategies.symphony.variant import Base
from alchemiser.strategies.symphony_strategy import SymphonyStrategy

__all__ = [
    "KINDS",
    "Parameter",
    "ParameterError",
    "ParameterJson",
    "ParamsJson",
    "find_parameters",
    "load_variant",
    "parameters_of_text",
    "resolve",
    "substitute_text",
    "symphony_path",
    "variant_of_text",
    "variant_program",
]


class ParameterJson(TypedDict):
    """One sweepable number."""

    name: Annotated[str, "the name sweeps and `--param` use"]
    kind: Annotated[str, "threshold, window, count, weight, factor or corridor"]
    value: Annotated[float, "as written (an integer for windows and counts; a `25%` is 0.25)"]
    integer: Annotated[bool, "true when it must stay a whole number"]
    location: Annotated[str, "file:line:col of the literal"]
    line: Annotated[int, "1-based"]
    col: Annotated[int, "1-based"]
    context: Annotated[str, "the expression around it"]


class ParamsJson(TypedDict):
    """`params FILE --json`: every sweepable number of a symphony, in file order."""

    file: Annotated[str, "the symphony file read (a built-in name resolves to its file)"]
    parameters: list[ParameterJson]


@dataclass(frozen=True)
class Parameter:
    """One sweepable number of a symphony file."""

    name: str  # stable, unique within the file, readable: survives edits elsewhere in the file
    location: str  # "path:line:col" of the literal (1-based, like our parse errors)
    kind: str  # one of KINDS
    value: float  # as written (a `25%` is 0.25; a JSON weight is num / den, located at its num)
    integer: bool  # windows and counts must stay whole numbers
    context: str  # short human text, e.g. (> (rsi "TQQQ" {:window 10}) 79)

    @property
    def line_col(self) -> str:
        """`line:col`, the location without the file."""
        return ":".join(self.location.rsplit(":", 2)[1:])

    def to_json(self) -> ParameterJson:
        line, col = self.line_col.split(":")
        return {
            "name": self.name,
            "kind": self.kind,
            "value": int(self.value) if self.integer else self.value,
            "integer": self.integer,
            "location": self.location,
            "line": int(line),
            "col": int(col),
            "context": self.context,
        }


class ParameterError(StrategyError):
    """A parameter name, location or value that cannot be used; the message names it."""


@dataclass(frozen=True)
class _Edit:
    """Where a parameter's literal sits in the text and how a new value is written there."""

    start: int
    end: int
    style: str  # "clj" | "percent" | "json" | "json-string"
    den: tuple[int, int, bool, float] | None = None  # a JSON weight's denominator: span, is a string, value


class _Template:
    """A file read, compiled and walked once: its parameters and what substitution needs."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        body = text.removeprefix("\ufeff")
        self.bom = text[: len(text) - len(body)]
        self.text = body
        filename = str(path)
        self.is_json = path.suffix.lower() == ".json"
        if self.is_json:
            forms = read_score(body, filename)
        else:
            try:
                forms = read_forms(body, filename)
            except SymphonyError as exc:  # the reader stops at the first problem: a list of one, like `check`
                raise SymphonyErrors([exc]) from None
        self.base = Base(forms, filename)
        self._starts = [0, *(m.end() for m in re.finditer("\n", body))]
        spans = value_spans(body) if self.is_json else {}
        found: list[tuple[int, Site, _Edit]] = []
        for site in find_sites(forms):
            edit = self._edit(site, spans)
            if edit is not None:
                found.append((edit.start, site, edit))
        found.sort(key=lambda f: f[0])
        self.sites = [site for _, site, _ in found]
        self.edits = [edit for _, _, edit in found]
        names = assign_names([site.base for site in self.sites])
        self.params = [
            Parameter(
                name, self._location(edit.start), site.kind, _as_float(site.atom.value), site.integer, site.context
            )
            for name, site, edit in zip(names, self.sites, self.edits, strict=True)
        ]
        self.index = {p.name: i for i, p in enumerate(self.params)}

    def _location(self, offset: int) -> str:
        line = bisect.bisect_right(self._starts, offset)
        return f"{self.path}:{line}:{offset - self._starts[line - 1] + 1}"

    def _edit(self, site: Site, spans: dict[str, tuple[int, int]]) -> _Edit | None:
        loc = site.atom.loc
        if isinstance(loc, JsonLocation):
            if site.kind == "weight":  # {"num": 60, "den": 100}: the numerator is written, the share is read
                num, den = spans.get(f"{loc.path}.num"), spans.get(f"{loc.path}.den")
                if num is None or den is None:
                    return None
                den_text = self.text[den[0] : den[1]]
                den_value = float(den_text.strip('"'))
                return _Edit(*num, _json_style(self.text, num), (*den, den_text.startswith('"'), den_value))
            span = spans.get(loc.path)
            return None if span is None else _Edit(*span, _json_style(self.text, span))
        start = self._starts[loc.line - 1] + loc.col - 1
        token = _CLJ_NUMBER.match(self.text, start)
        assert token is not None
        return _Edit(start, token.end(), "percent" if token.group().endswith("%") else "clj")


_CLJ_NUMBER = re.compile(r'[^\s,;()\[\]{}"]+')
_LOCATION = re.compile(r"(?:(.*):)?(\d+):(\d+)")
_CACHE: dict[str, tuple[str, _Template]] = {}
_CACHE_SIZE = 16


def _json_style(text: str, span: tuple[int, int]) -> str:
    return "json-string" if text.startswith('"', span[0]) else "json"


def _as_float(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _template(path: Path | str) -> _Template:
    """The parsed, compiled and walked file, from the cache while its text is unchanged.

    The text is read on every call and compared with the cached one: a file's modification time only
    changes once per clock tick, so a sweep that rewrites a file quickly could otherwise get a stale tree.
    Reading a symphony costs microseconds; compiling it again is what the cache saves.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")  # not read_text: its newline translation would lose "\r\n"
    except (OSError, UnicodeDecodeError) as exc:
        raise SymphonyErrors([SymphonyError(f"cannot read file: {exc}", SourceLocation(str(path), 1, 1))]) from None
    return _template_of(text, str(path))


def _template_of(text: str, filename: str) -> _Template:
    """The template of `text` (read from `filename`, which names it in locations), cached per file name."""
    cached = _CACHE.get(filename)
    if cached is not None and cached[0] == text:
        return cached[1]
    template = _Template(Path(filename), text)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[filename] = (text, template)
    return template


def symphony_path(ref: str) -> Path:
    """The file a reference names: a built-in's name (nuclear, tecl, klm) or a `.clj` / `.json` path."""
    key = ref.strip()
    known = ", ".join(BUILTINS)
    if not key:
        raise ParameterError(f"an empty value names no symphony file; give a built-in ({known}) or a .clj/.json file")
    if key.lower() in BUILTINS:
        return builtin_path(key.lower())
    path = Path(key).expanduser()
    if path.is_dir():
        raise ParameterError(f"{path} is a folder, not a symphony file")
    if not path.exists():
        raise ParameterError(f"symphony file not found: {path} (built-ins: {known})")
    return path


def find_parameters(path: Path | str) -> list[Parameter]:
    """Every sweepable number of a `.clj` export or JSON score, in file order.

    Raises `SymphonyErrors` (each naming file:line:col or a JSON path) when the file does not compile.
    """
    return list(_template(path).params)


def resolve(params: Sequence[Parameter], key: str) -> Parameter:
    """The parameter a key names: its name, `path:line:col` or `line:col` (of the literal's first character)."""
    text = key.strip()
    for param in params:
        if param.name == text:
            return param
    where = _LOCATION.fullmatch(text)
    if where is not None:
        file, line, col = where.group(1), where.group(2), where.group(3)
        for param in params:
            p_file, p_line, p_col = param.location.rsplit(":", 2)
            if (p_line, p_col) == (line, col) and (file is None or _same_file(file, p_file)):
                return param
        if params:
            raise ParameterError(
                f"{text}: no parameter starts there; `alchemiser params {_file_of(params)}` lists them with locations"
            )
    folded = [p for p in params if p.name.lower() == text.lower()]
    if len(folded) == 1:
        return folded[0]
    if not params:
        raise ParameterError(f"no parameter {text!r}: the symphony has no numbers to vary")
    close = difflib.get_close_matches(text.lower(), [p.name for p in params], n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ParameterError(
        f"no parameter {text!r} in {_file_of(params)}{hint} (`alchemiser params {_file_of(params)}` lists them)"
    )


def _file_of(params: Sequence[Parameter]) -> str:
    return params[0].location.rsplit(":", 2)[0]


def _same_file(given: str, actual: str) -> bool:
    if given == actual:
        return True
    try:
        return Path(given).resolve() == Path(actual).resolve()
    except (OSError, ValueError):
        return False


def check_value(param: Parameter, value: object) -> int | float:
    """`value` as the number `param` takes (an int for windows and counts); `ParameterError` naming both."""
    what = f"parameter {param.name} ({param.location})"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParameterError(f"{what}: the value must be a number, not {value!r}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    shown = f"{value!r}" if len(repr(value)) < 40 else f"{number:g}"
    if not math.isfinite(number):
        raise ParameterError(f"{what}: the value must be a finite number, not {shown}")
    if param.integer:
        if not number.is_integer() or not 1 <= number <= MAX_WINDOW:
            raise ParameterError(f"{what}: a {param.kind} must be a whole number from 1 to {MAX_WINDOW}, not {shown}")
        return int(number)
    if param.kind == "weight" and number < 0:
        raise ParameterError(f"{what}: a weight must be 0 or more, not {shown}")
    if param.kind == "factor" and number <= 0:
        raise ParameterError(f"{what}: a factor must be above 0, not {shown}")
    if param.kind == "corridor" and not 0 < number <= 1:
        raise ParameterError(f"{what}: the corridor must be above 0 and at most 1 (0.1 is 10 %), not {shown}")
    return number


def _assign(template: _Template, values: Mapping[str, object]) -> dict[int, int | float]:
    """Parameter index → checked value, from keys that are names or locations."""
    chosen: dict[int, int | float] = {}
    given: dict[int, str] = {}
    for key, raw in values.items():
        if not isinstance(key, str):
            raise ParameterError(f"parameter keys are names or locations, not {key!r}")
        param = resolve(template.params, key)
        index = template.index[param.name]
        value = check_value(param, raw)
        if index in chosen and chosen[index] != value:
            raise ParameterError(
                f"parameter {param.name} is given twice with different values: {given[index]!r} and {key!r}"
            )
        chosen[index], given[index] = value, key
    return chosen


def _compile(template: _Template, chosen: Mapping[int, int | float]) -> Program:
    changes = {template.sites[i].tree_path: _read_as(template, i, v) for i, v in chosen.items()}
    try:
        return template.base.compile(changes)
    except SymphonyErrors as exc:
        names = ", ".join(f"{template.params[i].name}={_number(v)}" for i, v in sorted(chosen.items()))
        raise ParameterError(f"{names} do not make a valid symphony: {exc.errors[0]}") from None


def _read_as(template: _Template, index: int, value: int | float) -> int | float:
    """The number the reader makes of the literal `substitute_text` writes (`1` is an int, `1.0` a float), so
    the tree and the text agree even where the type shows (a corridor setting is kept as written)."""
    edit = template.edits[index]
    if template.is_json:
        return value if template.params[index].integer else float(value)
    written = _write(template.text, edit, value)[-1][2]
    read = _atom(written).value  # the reader's own rule for a number token, without reading a whole text
    assert isinstance(read, int | float)
    return read


def variant_program(path: Path | str, values: Mapping[str, object]) -> Program:
    """The compiled program of the file with `values` (by name or location) substituted."""
    template = _template(path)
    return _compile(template, _assign(template, values))


def load_variant(path: Path | str, values: Mapping[str, object], name: str | None = None) -> SymphonyStrategy:
    """The file's strategy with `values` substituted, compiled and ready to backtest (named after the file)."""
    return SymphonyStrategy(variant_program(path, values), name or Path(path).stem)


def parameters_of_text(text: str, filename: str) -> list[Parameter]:
    """`find_parameters` for a symphony held as text (a sweep worker on another machine has no file);
    `filename` names it in locations and says its format (`.json` is a score)."""
    return list(_template_of(text, filename).params)


def variant_of_text(text: str, filename: str, values: Mapping[str, object]) -> Program:
    """`variant_program` for a symphony held as text; cached per `filename` like a file, so a worker
    compiling many variants of one text re-compiles only the changed branches."""
    template = _template_of(text, filename)
    return _compile(template, _assign(template, values))


def substitute_text(path: Path | str, values: Mapping[str, object]) -> str:
    """The file's text with `values` written over the literals they replace; same format and layout.

    The values are checked one by one and then together (the result must compile), so the text returned is
    always a valid symphony that reads back to exactly the program `load_variant` gives.
    """
    template = _template(path)
    chosen = _assign(template, values)
    _compile(template, chosen)
    pieces: list[tuple[int, int, str]] = []
    for index, value in chosen.items():
        pieces.extend(_write(template.text, template.edits[index], value))
    out: list[str] = [template.bom]
    at = 0
    for start, end, replacement in sorted(pieces):
        out += [template.text[at:start], replacement]
        at = end
    out.append(template.text[at:])
    return "".join(out)


def _number(value: float) -> str:
    """The shortest text that reads back as exactly `value` (whole numbers without a decimal point)."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _exact(candidates: Sequence[float], read_back: float, scale: float) -> str | None:
    """The first candidate whose text, divided by `scale`, is exactly `read_back`."""
    for candidate in candidates:
        text = _number(candidate)
        if math.isfinite(candidate) and float(text) / scale == read_back:
            return text
    return None


def _write(text: str, edit: _Edit, value: int | float) -> list[tuple[int, int, str]]:
    """The replacements (start, end, new text) that make the literal at `edit` read as `value`."""
    if edit.style == "percent":
        as_percent = _exact([round(value * 100, 10), value * 100], value, 100)
        return [(edit.start, edit.end, f"{as_percent}%" if as_percent is not None else _number(value))]
    if edit.den is None:
        written = _number(value)
        return [(edit.start, edit.end, f'"{written}"' if edit.style == "json-string" else written)]
    den_start, den_end, den_quoted, den = edit.den
    numerator = _exact([round(value * den, 10), value * den], value, den)
    replacements = []
    if numerator is None:  # no numerator over this denominator is exact: write value / 1
        numerator = _number(value)
        replacements.append((den_start, den_end, '"1"' if den_quoted else "1"))
    replacements.append((edit.start, edit.end, f'"{numerator}"' if edit.style == "json-string" else numerator))
    return replacements
