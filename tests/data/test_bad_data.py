"""Bad inputs end in a clear, located error and no trade: market data, import files and config values.

* Market data with a gap, a NaN or non-positive close, or a stale last bar → `DataError` naming the symbol
  and the date, and through `compute_signals` no target at all.
* Malformed import files (fuzzed) → only `ImportValidationError` with file and line; the store is untouched.
* Malformed config values (fuzzed TOML) → only `ConfigError` naming the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from alchemiser import market_calendar
from alchemiser.config import Settings, StrategyConfig, load_settings
from alchemiser.data.base import BAR_COLUMNS, DailyBars, Source, SymbolInfo
from alchemiser.data.history import load_history
from alchemiser.data.importer import MAX_PROBLEMS, ImportValidationError, import_into, load_import
from alchemiser.data.store import LocalStore
from alchemiser.errors import ConfigError, DataError
from alchemiser.signals import compute_signals

# ALCHEMISER_FUZZ_SCALE=20 runs a long fuzzing session; the default keeps the suite fast.
SCALE = int(os.environ.get("ALCHEMISER_FUZZ_SCALE", "1"))
EXAMPLES = settings(max_examples=200 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- market data ---------------------------------------------------------------------------------------------
AS_OF = dt.date(2024, 6, 28)  # a Friday session
SESSIONS = market_calendar.sessions(dt.date(2024, 1, 2), AS_OF)
SYMBOLS = ("BIL", "QQQ", "SPY", "TLT")


class FrameMarket:
    """The `MarketData` protocol over in-memory frames."""

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = frames

    def bars(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
        if symbol not in self.frames:
            raise DataError(f"no bars for {symbol}")
        lo = pd.Timestamp(start) if start is not None else None
        hi = pd.Timestamp(end) if end is not None else None
        return self.frames[symbol].loc[lo:hi].copy()

    def daily(self, symbol: str, start: dt.date | None = None, end: dt.date | None = None) -> DailyBars:
        return DailyBars.of_frame(self.bars(symbol, start, end))  # as given: unsorted, repeated, NaN

    def source_of(self, symbol: str) -> Source:
        if symbol not in self.frames:
            raise DataError(f"no bars for {symbol}")
        return "store"

    def available(self) -> list[SymbolInfo]:
        return [
            SymbolInfo(s, "store", f.index[0].date(), f.index[-1].date(), len(f))
            for s, f in sorted(self.frames.items())
        ]


def clean_frames(seed: int = 3) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    frames = {}
    for symbol in SYMBOLS:
        close = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, len(SESSIONS))))
        frames[symbol] = pd.DataFrame(
            {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1e6},
            index=pd.DatetimeIndex(SESSIONS),
        )
    return frames


DEFECTS = ("gap", "nan", "zero", "negative", "inf", "stale")


def corrupt(frames: dict[str, pd.DataFrame], defect: str, symbol: str, pos: int) -> dt.date:
    """Break `symbol`'s bars in place; return the date the error must name."""
    frame = frames[symbol]
    day: dt.date = frame.index[pos].date()
    if defect == "gap":
        frames[symbol] = frame.drop(frame.index[pos])
    elif defect == "stale":
        frames[symbol] = frame.iloc[: pos + 1]
    else:
        value = {"nan": math.nan, "zero": 0.0, "negative": -1.5, "inf": math.inf}[defect]
        frame.loc[frame.index[pos], "close"] = value
    return day


def test_clean_data_loads_and_signals() -> None:
    history = load_history(FrameMarket(clean_frames()), SYMBOLS, AS_OF, expected_last=AS_OF)
    assert history.end == AS_OF and set(history.closes) == set(SYMBOLS)


@EXAMPLES
@given(
    defect=st.sampled_from(DEFECTS),
    symbol=st.sampled_from(SYMBOLS),
    pos=st.integers(1, len(SESSIONS) - 2),
    alone=st.booleans(),
)
def test_bad_market_data_is_a_data_error_naming_symbol_and_date(
    defect: str, symbol: str, pos: int, alone: bool
) -> None:
    frames = clean_frames()
    day = corrupt(frames, defect, symbol, pos)
    wanted = [symbol] if alone else list(SYMBOLS)  # alone: no other symbol shows where the gap is
    with pytest.raises(DataError) as info:
        load_history(FrameMarket(frames), wanted, AS_OF, expected_last=AS_OF)
    message = str(info.value)
    assert symbol in message and day.isoformat() in message, message
    if defect == "stale":
        assert "stale" in message and AS_OF.isoformat() in message


def test_every_stale_symbol_is_refused() -> None:
    frames = {s: f.iloc[:-2] for s, f in clean_frames().items()}
    with pytest.raises(DataError, match=r"BIL is stale: its last bar is 2024-06-26, expected 2024-06-28"):
        load_history(FrameMarket(frames), SYMBOLS, AS_OF, expected_last=AS_OF)


@pytest.mark.parametrize("order", [[0, 1, 2, 3, 4, 5, 5, 6], [0, 1, 2, 3, 4, 6, 5, 7]])
def test_unordered_or_duplicated_bars_are_refused(order: list[int]) -> None:
    frames = clean_frames()
    spy = frames["SPY"]
    frames["SPY"] = pd.concat([spy.iloc[order], spy.iloc[max(order) + 1 :]])
    with pytest.raises(DataError, match="SPY: its bars are out of date order or repeat a date"):
        load_history(FrameMarket(frames), SYMBOLS, AS_OF, expected_last=AS_OF)


SPY_STRATEGY = '(if (> (rsi "SPY" {:window 10}) 70) [(asset "BIL" nil)] [(asset "QQQ" nil)])'
TLT_STRATEGY = '(weight-equal [(asset "TLT" nil) (asset "BIL" nil)])'


def _settings(tmp: Path) -> Settings:
    (tmp / "spy.clj").write_text(SPY_STRATEGY, encoding="utf-8")
    (tmp / "tlt.clj").write_text(TLT_STRATEGY, encoding="utf-8")
    return Settings(
        home=tmp,
        strategies=[
            StrategyConfig(name="spy", source=str(tmp / "spy.clj"), weight=0.5),
            StrategyConfig(name="tlt", source=str(tmp / "tlt.clj"), weight=0.5),
        ],
    )


def test_signals_on_clean_data_have_a_target(tmp_path: Path) -> None:
    report = compute_signals(_settings(tmp_path), as_of=AS_OF, market=FrameMarket(clean_frames()))
    assert report.ok and report.target is not None
    assert math.isclose(sum(report.target.values()), 1.0)
    assert all(s.error is None for s in report.strategies)


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize("symbol", ["SPY", "TLT"])
def test_bad_market_data_means_no_target_and_says_why(tmp_path: Path, defect: str, symbol: str) -> None:
    frames = clean_frames()
    day = corrupt(frames, defect, symbol, len(SESSIONS) - 10)
    report = compute_signals(_settings(tmp_path), as_of=AS_OF, market=FrameMarket(frames))
    assert report.target is None and not report.ok
    for signal in report.strategies:
        if defect == "stale" and symbol.lower() != signal.name:
            # A stale ticker is left out of the history like an absent one: only the strategies that
            # read it fail (each naming all its stale tickers); the others decide on fresh data.
            assert signal.error is None and signal.weights
            continue
        # A defect inside the loaded history (gap, NaN, ...) fails every strategy: it is loaded once.
        assert signal.weights is None
        assert signal.error is not None and symbol in signal.error and day.isoformat() in signal.error
    assert report.to_json()["ok"] is False


# -- import files --------------------------------------------------------------------------------------------
HEADER = ["symbol", "date", "open", "high", "low", "close", "volume"]
GOOD_ROWS = [
    [sym, day, f"{p:.2f}", f"{p * 1.01:.2f}", f"{p * 0.99:.2f}", f"{p:.2f}", "1000"]
    for sym, base in (("SPY", 470.0), ("QQQ", 400.0))
    for day, p in zip(
        ("2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"),
        np.linspace(base, base * 1.02, 5),
        strict=True,
    )
]


def _csv(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def store_dir() -> Iterator[Path]:
    """A store seeded with other data, shared by the import examples (failed imports must not touch it)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        seed = Path(tmp) / "seed.csv"
        seed.write_bytes(_csv([["TLT", r[1], *r[2:]] for r in GOOD_ROWS[:5]]))
        import_into(LocalStore(root), seed)
        yield root


def _rejected(store_root: Path, name: str, content: bytes) -> ImportValidationError:
    """Import `content`; it must be rejected with located problems and leave the store as it was."""
    before = _snapshot(store_root)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        n_lines = content.count(b"\n") + 1
        with pytest.raises(ImportValidationError) as info:
            import_into(LocalStore(store_root), path)
        err = info.value
        assert err.problems and err.total >= len(err.problems)
        for problem in err.problems:
            assert problem.file == str(path)
            assert problem.line is None or 1 <= problem.line <= n_lines, (problem, n_lines)
            assert problem.message.strip()
            assert str(problem) in str(err)
    assert _snapshot(store_root) == before, "a rejected import changed the store"
    return err


NOT_A_NUMBER = st.one_of(
    st.sampled_from(["", "abc", "nan", "NaN", "inf", "-inf", "1,5", "$5", "5x", "--1", "1e", "١٢"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8).map(lambda t: "x" + t),
)
NOT_A_DATE = st.one_of(
    st.sampled_from(["", "yesterday", "2024-13-01", "2024-02-30", "01/02/2024x", "nan", "NaT", "/1", "9999-12-31"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8).map(lambda t: "x" + t),
)
NOT_A_SYMBOL = st.sampled_from(["", "not a ticker", "$SPY", "SPY!", "A" * 13, "../etc"])


@st.composite
def bad_row(draw: st.DrawFn) -> tuple[list[list[str]], int]:
    """Good rows with one definitely-bad row; returns the rows and the bad row's line number."""
    rows = [list(r) for r in GOOD_ROWS]
    i = draw(st.integers(0, len(rows) - 1))
    row = rows[i]
    kind = draw(
        st.sampled_from(["number", "date", "symbol", "nonpositive", "negative_volume", "high_low", "duplicate"])
    )
    if kind == "number":
        row[draw(st.integers(2, 6))] = draw(NOT_A_NUMBER)
    elif kind == "date":
        row[1] = draw(NOT_A_DATE)
    elif kind == "symbol":
        row[0] = draw(NOT_A_SYMBOL)
    elif kind == "nonpositive":
        row[draw(st.integers(2, 5))] = draw(st.sampled_from(["0", "-1", "-0.01", "0.0"]))
    elif kind == "negative_volume":
        row[6] = draw(st.sampled_from(["-1", "-1000.5"]))
    elif kind == "high_low":
        row[3] = f"{float(row[4]) * 0.5:.2f}"  # high far below low, open and close
    else:
        rows.append(list(row))
        i = len(rows) - 1
    return rows, i + 2  # the header is line 1


@EXAMPLES
@given(bad_row())
def test_a_bad_row_is_reported_at_its_line_and_changes_nothing(
    store_dir: Path, case: tuple[list[list[str]], int]
) -> None:
    rows, line = case
    err = _rejected(store_dir, "bars.csv", _csv(rows))
    assert line in [p.line for p in err.problems], [str(p) for p in err.problems]


CELL = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12),
    st.floats().map(repr),
    st.integers(-(10**30), 10**30).map(str),
)


@EXAMPLES
@given(
    edits=st.lists(st.tuples(st.integers(0, len(GOOD_ROWS) - 1), st.integers(0, 6), CELL), min_size=1, max_size=6),
    drop_column=st.one_of(st.none(), st.sampled_from(HEADER)),
)
def test_fuzzed_cells_import_cleanly_or_fail_located(
    store_dir: Path, edits: list[tuple[int, int, str]], drop_column: str | None
) -> None:
    rows = [list(r) for r in GOOD_ROWS]
    for i, j, value in edits:
        rows[i][j] = value
    header = list(HEADER)
    if drop_column is not None:
        k = header.index(drop_column)
        header.pop(k)
        rows = [r[:k] + r[k + 1 :] for r in rows]
    content = _csv(rows, header)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bars.csv"
        path.write_bytes(content)
        try:
            frames = load_import(path)
        except ImportValidationError:
            _rejected(store_dir, "bars.csv", content)
            event("rejected")
            return
    event("accepted")
    assert drop_column is None
    for frame in frames.values():  # whatever was accepted is real bars
        values = frame[list(BAR_COLUMNS)].to_numpy()
        assert np.isfinite(values).all() and (values[:, :4] > 0).all() and (values[:, 4] >= 0).all()
        assert frame.index.is_unique and frame.index.is_monotonic_increasing


@pytest.mark.parametrize(
    ("name", "content", "line", "text"),
    [
        ("empty.csv", b"", None, "empty"),
        ("header.csv", _csv([]), 1, "no data rows"),
        ("blank.csv", _csv([]) + b"\n\n", 1, "no data rows"),
        ("columns.csv", b"symbol,date,close\nSPY,2024-01-02,1\n", 1, "missing column"),
        ("latin1.csv", _csv(GOOD_ROWS[:3]) + "SPY,2024-02-01,1,1,1,1,1 caf\u00e9\n".encode("latin-1"), 5, "UTF-8"),
        ("binary.csv", bytes(range(256)) * 4, 1, ""),
        ("bars.parquet", b"PAR1 not really parquet", None, "Parquet"),
        ("bars.json", b"{}", None, "unsupported"),
        ("ragged.csv", _csv(GOOD_ROWS[:2]) + b"SPY,2024-01-09,1,1,1,1,1,1,1,1\n", None, ""),
    ],
)
def test_malformed_files_are_rejected_with_file_and_line(
    store_dir: Path, name: str, content: bytes, line: int | None, text: str
) -> None:
    err = _rejected(store_dir, name, content)
    if text:
        assert any(text in p.message and p.line == line for p in err.problems), [str(p) for p in err.problems]


def test_a_folder_with_bad_files_is_rejected_and_changes_nothing(store_dir: Path) -> None:
    before = _snapshot(store_dir)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        good = _csv([r[1:] for r in GOOD_ROWS[:5]], HEADER[1:])
        (folder / "SPY.csv").write_bytes(good)
        (folder / "not a symbol!.csv").write_bytes(good)
        (folder / "QQQ.csv").write_bytes(good.replace(b"1000\n", b"-5\n", 1))
        with pytest.raises(ImportValidationError) as info:
            import_into(LocalStore(store_dir), folder)
    problems = {(Path(p.file).name, p.line) for p in info.value.problems}
    assert ("not a symbol!.csv", None) in problems and ("QQQ.csv", 2) in problems
    assert _snapshot(store_dir) == before


def test_many_bad_rows_are_capped_but_counted(store_dir: Path) -> None:
    rows = [["SPY", f"bad{i}", "1", "1", "1", "1", "1"] for i in range(MAX_PROBLEMS + 20)]
    err = _rejected(store_dir, "many.csv", _csv(rows))
    assert len(err.problems) == MAX_PROBLEMS and err.total == MAX_PROBLEMS + 20


# -- config values -------------------------------------------------------------------------------------------
def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def _document(section: str | None, key: str, value: object) -> str:
    line = f"{json.dumps(key)} = {_toml(value)}\n"
    return line if section is None else f"[{section}]\n{line}"


NAN, INF = math.nan, math.inf
# (section, field) -> values that must be refused
INVALID: dict[tuple[str | None, str], list[object]] = {
    (None, "broker"): ["ibkr", 5, True, ""],
    (None, "on_strategy_failure"): ["panic", 1],
    (None, "home"): [5, [1], {"a": 1}],
    (None, "strategies"): [
        5,
        "nuclear",
        [],
        [5],
        [{}],
        [{"name": "", "weight": 1}],
        [{"name": "a", "weight": 0}],
        [{"name": "a", "weight": 2}],
        [{"name": "a", "weight": 0.5}],
        [{"name": "a", "weight": NAN}],
        [{"name": "a", "weight": "all"}],
        [{"name": "a", "weight": 1, "colour": "red"}],
        [{"name": "a", "weight": 0.5}, {"name": "a", "weight": 0.5}],
        [{"name": "a", "source": "~no-such-user-xyz/a.clj", "weight": 1}],
    ],
    (None, "_env_file"): ["/etc/passwd", 5],
    (None, "_cli_parse_args"): [True],
    (None, "bogus"): [1],
    ("data", "dir"): [5, True],
    ("data", "sample_fallback"): ["maybe", 2, [True]],
    ("data", "sample_seed"): ["x", 1.5],
    ("data", "bogus"): [1],
    ("sim", "starting_cash"): [-1, "lots", NAN, INF],
    ("sim", "spread_bps"): [-1, "x", NAN, INF],
    ("sim", "ack_latency_ms"): [-1, NAN, INF],
    ("sim", "fill_latency_ms"): [[1], [2, 1], [-1, 0], "x", [NAN, NAN], [0, INF], [1, 2, 3]],
    ("sim", "partial_fill_probability"): [1.5, -0.1, NAN],
    ("sim", "seed"): ["x", 1.5],
    ("sim", "non_fractionable"): ["SPY", [1], [["SPY"]]],
    ("sim", "inside_spread_fills"): ["maybe", 2],
    ("sim", "bogus"): [1],
    ("rebalance", "min_trade_usd"): [-1, "abc", NAN, INF],
    ("rebalance", "drift_band_pct"): [-1, 101, NAN, INF],
    ("rebalance", "cash_buffer_pct"): [-1, 51, NAN],
    ("rebalance", "full_exit_fraction"): [0, 1.5, NAN],
    ("rebalance", "bogus"): [1],
    ("execution", "buy_mode"): ["market", 1],
    ("execution", "limit_spread_fraction"): [1.5, -1, NAN],
    ("execution", "limit_timeout_s"): [0, -1, INF, NAN],
    ("execution", "on_limit_timeout"): ["cancel"],
    ("execution", "max_reprices"): [-1, 1.5, "x"],
    ("execution", "fractional_limit_orders"): ["maybe"],
    ("execution", "sell_timeout_s"): [0, INF],
    ("execution", "poll_interval_s"): [0, NAN],
    ("execution", "max_quote_age_s"): [0, INF],
    ("execution", "block_buys_on_failed_sells_usd"): [-1, NAN, "x"],
    ("execution", "bogus"): [1],
}
INVALID_CASES = [(section, key, value) for (section, key), values in INVALID.items() for value in values]


def _load(text: str | bytes) -> Settings:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
        return load_settings(path)


@pytest.mark.parametrize(("section", "key", "value"), INVALID_CASES)
def test_each_invalid_config_value_is_a_config_error_naming_the_field(
    section: str | None, key: str, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALCHEMISER_HOME", raising=False)  # the environment would win over the file's `home`
    with pytest.raises(ConfigError) as info:
        _load(_document(section, key, value))
    message = str(info.value)
    # dotted (`sim.spread_bps`), or the section's own check naming its field (`sim: ... fill_latency_ms ...`)
    assert key in message and (section is None or f"{section}." in message or f"{section}:" in message), message


def test_config_that_is_not_toml_or_not_utf8_is_a_config_error() -> None:
    for text in (b"broker = \xff\n", b"[sim\n", b"\x00\x01", b"strategies = ["):
        with pytest.raises(ConfigError, match="not valid TOML"):
            _load(text)


TOML_VALUE = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
        st.dates(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["name", "source", "weight", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
FIELDS = sorted({key for key in INVALID if not key[1].startswith("_") and key[1] != "bogus"}, key=str)


@settings(max_examples=400 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=TOML_VALUE)
def test_fuzzed_config_values_load_or_fail_naming_the_field(field: tuple[str | None, str], value: object) -> None:
    section, key = field
    try:
        loaded = _load(_document(section, key, value))
    except ConfigError as exc:
        message = str(exc)
        assert key in message and (section is None or f"{section}." in message or f"{section}:" in message), message
        event("refused")
        return
    event("accepted")
    dump = loaded.model_dump()
    got = dump[key] if section is None else dump[section][key]
    assert got is not None or value is None
    if isinstance(got, float):
        assert math.isfinite(got)
