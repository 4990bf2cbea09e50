"""`alchemiser data …` as a user runs it: real subprocesses, a real Parquet store, and for `data fetch` the
real alpaca-py client talking HTTP to the project's own sandbox server. No sample fallback where it
matters (`sample_fallback = false`): that is how a real user runs, and where missing data must show.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from alchemiser.data.sample import SampleMarket
from alchemiser.data.store import LocalStore
from alchemiser.sandbox.server import SandboxConfig, SandboxServer
from tests.helpers import run

AS_OF = "2025-06-30"  # the shared `market` fixture (and so the sandbox) ends here
KEY, SECRET = "data-test-key", "data-test-secret"
HEADER = "symbol,date,open,high,low,close,volume\n"

ALPHA = """(defsymphony "alpha" {}
  (if (> (moving-average-price "TLT" {:window 200}) 1)
      [(asset "SPY" nil)]
      [(weight-equal [(asset "QQQ" nil) (asset "NODATA" nil)])]))
"""
BETA = '(defsymphony "beta" {}\n  (weight-equal [(asset "SPY" nil) (asset "GLD" nil)]))\n'


def run_input(args: list[str], home: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    """Like `run`, with text on standard input (answers to confirmations)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ALCHEMISER_")}
    environment.update(ALCHEMISER_HOME=str(home), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "alchemiser.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


@pytest.fixture
def realistic(tmp_path: Path, home: Path, market: SampleMarket) -> Path:
    """Two strategy files, no sample fallback, and a store with SPY fresh, QQQ stale, TLT too short,
    GLD and NODATA absent (as of the close of 2025-06-30)."""
    (tmp_path / "alpha.clj").write_text(ALPHA)
    (tmp_path / "beta.clj").write_text(BETA)
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        '[[strategies]]\nname = "alpha"\nsource = "' + str(tmp_path / "alpha.clj") + '"\nweight = 0.5\n'
        '[[strategies]]\nname = "beta"\nsource = "' + str(tmp_path / "beta.clj") + '"\nweight = 0.5\n'
        "[data]\nsample_fallback = false\n"
    )
    store = LocalStore(home / "data")
    store.write(
        {
            "SPY": market.bars("SPY"),
            "QQQ": market.bars("QQQ").loc[:"2025-06-20"],
            "TLT": market.bars("TLT").iloc[-50:],
        }
    )
    return tmp_path


@pytest.fixture
def sandbox(market: SampleMarket, tmp_path: Path) -> Iterator[SandboxServer]:
    server = SandboxServer(market, tmp_path / "sandbox.sqlite", SandboxConfig(port=0, key_id=KEY, secret_key=SECRET))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def alpaca_env(server: SandboxServer) -> dict[str, str]:
    return {
        "ALPACA_API_KEY": KEY,
        "ALPACA_SECRET_KEY": SECRET,
        "ALPACA_BASE_URL": server.url,
        "ALPACA_DATA_URL": server.url,
    }


# --- item 20: every missing ticker at once, and the command that fills them ----------------------------


def test_missing_lists_every_gap_and_its_command_fills_them(
    realistic: Path, home: Path, sandbox: SandboxServer, market: SampleMarket
) -> None:
    result = run(["data", "missing", "--as-of", AS_OF, "--json"], home)
    no_traceback(result)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    gaps = {g["symbol"]: (g["status"], g["strategies"]) for g in report["gaps"]}
    assert gaps == {
        "GLD": ("absent", ["beta"]),
        "NODATA": ("absent", ["alpha"]),
        "QQQ": ("stale", ["alpha"]),
        "TLT": ("short", ["alpha"]),
    }
    tlt = next(g for g in report["gaps"] if g["symbol"] == "TLT")
    assert (tlt["bars"], tlt["needed"], tlt["detail"]) == (50, 200, "50 bars, needs at least 200")
    qqq = next(g for g in report["gaps"] if g["symbol"] == "QQQ")
    assert qqq["detail"] == f"last bar 2025-06-20, expected {AS_OF}"
    assert [(s["name"], s["missing"]) for s in report["strategies"]] == [
        ("alpha", ["NODATA", "QQQ", "TLT"]),
        ("beta", ["GLD"]),
    ]
    command = report["fill_command"]
    assert command == "alchemiser data fetch --symbols GLD,NODATA,QQQ,TLT"

    human = run(["data", "missing", "--as-of", AS_OF], home)
    assert human.returncode == 1
    assert "alpha: 3 of 4 tickers missing: NODATA, QQQ, TLT" in human.stdout
    assert "beta: 1 of 2 tickers missing: GLD" in human.stdout
    assert f"Fill them with: {command}" in human.stdout

    # The printed command, run as printed: fills what Alpaca has and names what it has not.
    fetched = run(shlex.split(command)[1:], home, **alpaca_env(sandbox))
    no_traceback(fetched)
    assert fetched.returncode == 1
    assert "Alpaca has no bars" in fetched.stderr and "for 1 symbol: NODATA" in fetched.stderr
    cells = [[c.strip() for c in line.strip("│ ").split("│")] for line in fetched.stdout.splitlines()]
    rows = {c[0]: c for c in cells if c[0] in ("GLD", "QQQ", "TLT")}
    assert set(rows) == {"GLD", "QQQ", "TLT"}
    stale_rows = len(market.bars("QQQ").loc[:"2025-06-20"])
    assert rows["QQQ"][2:] == ["2004-01-02", AS_OF, str(len(market.bars("QQQ")) - stale_rows), "0", str(stale_rows)]

    after = json.loads(run(["data", "missing", "--as-of", AS_OF, "--json"], home).stdout)
    assert [(g["symbol"], g["status"]) for g in after["gaps"]] == [("NODATA", "absent")]
    assert run(["data", "missing", "-s", str(realistic / "beta.clj"), "--as-of", AS_OF], home).returncode == 0


def test_signal_names_every_missing_ticker_of_every_strategy_in_one_run(realistic: Path, home: Path) -> None:
    result = run(["signal", "--as-of", AS_OF, "--json"], home)
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    errors = {s["name"]: s["error"] for s in payload["strategies"]}
    alpha, beta = realistic / "alpha.clj", realistic / "beta.clj"
    assert errors["alpha"] == (
        f"{alpha}:4:48: no market data for NODATA; stale market data (no bar for {AS_OF}): QQQ (last bar "
        "2025-06-20); fetch them with `alchemiser data fetch --symbols NODATA,QQQ` (or import them with "
        "`alchemiser data import FILE`)"
    )
    assert errors["beta"] == (
        f"{beta}:2:43: no market data for GLD; fetch it with `alchemiser data fetch --symbols GLD` (or import it "
        "with `alchemiser data import FILE`)"
    )
    assert payload["data"]["fill_command"] == "alchemiser data fetch --symbols GLD,NODATA,QQQ"


def test_many_absent_tickers_are_listed_together(tmp_path: Path, home: Path) -> None:
    tickers = [f"T{i:02d}" for i in range(12)]
    wide = tmp_path / "wide.clj"
    wide.write_text(
        '(defsymphony "wide" {}\n  (weight-equal [' + " ".join(f'(asset "{t}" nil)' for t in tickers) + "]))"
    )
    result = run(["signal", "-s", str(wide), "--json"], home, ALCHEMISER_DATA__SAMPLE_FALLBACK="false")
    error = json.loads(result.stdout)["strategies"][0]["error"]
    assert error.startswith(f"no market data for 12 tickers: T00 ({wide}:2:25), T01 ({wide}:2:43)")
    assert f"`alchemiser data fetch --symbols {','.join(tickers)}`" in error


# --- item 19 / 20: data fetch ------------------------------------------------------------------------


def test_fetch_by_strategy_by_default_and_unknown_symbols_fail(
    realistic: Path, home: Path, sandbox: SandboxServer
) -> None:
    env = alpaca_env(sandbox)
    beta = run(
        ["data", "fetch", "-s", str(realistic / "beta.clj"), "--start", "2025-06-02", "--end", AS_OF], home, **env
    )
    assert beta.returncode == 0, beta.stderr
    assert "Stored 40 bars for 2 of 2 symbols" in beta.stdout  # 20 sessions in June 2025 (Juneteenth off), SPY and GLD
    assert LocalStore(home / "data").bars("GLD").index[0].date().isoformat() == "2025-06-02"

    unknown = run(["data", "fetch", "--symbols", "ZZZZ"], home, **env)
    no_traceback(unknown)
    assert unknown.returncode == 1
    assert "Stored 0 bars for 0 of 1 symbols" in unknown.stdout
    assert "for 1 symbol: ZZZZ" in unknown.stderr

    # No -s and no --symbols: every configured strategy's universe (NODATA included, so exit 1).
    everything = run(["data", "fetch", "--start", "2025-06-02", "--end", AS_OF], home, **env)
    assert everything.returncode == 1
    assert "of 5 symbols" in everything.stdout and "for 1 symbol: NODATA" in everything.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2025-06-30", "--end", "2025-06-01"], "--start 2025-06-30 is after --end 2025-06-01"),
        (["--start", "2025-13-01"], "Invalid value for '--start'"),
        (["--symbols", "SPY,../X"], "--symbols: invalid symbol '../X'"),
        (["-s", "no-such-file.clj"], "strategy file not found"),
    ],
)
def test_fetch_refuses_bad_arguments_clearly(home: Path, args: list[str], message: str) -> None:
    result = run(["data", "fetch", *args], home)
    no_traceback(result)
    assert result.returncode == 2
    assert message in result.stderr


# --- item 15: imports against the calendar and the store; data delete ---------------------------------


def test_import_reports_calendar_problems_and_conflicts_then_counts(tmp_path: Path, home: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER + "SPY,2024-01-05,10,11,9,10.5,100\nSPY,2024-01-06,10,11,9,10.5,100\nSPY,2099-01-02,1,2,1,1,1\n"
    )
    result = run(["data", "import", str(bad)], home)
    no_traceback(result)
    assert result.returncode == 2
    assert f"{bad}:3: 2024-01-06 is a Saturday (weekend), not a trading session" in result.stderr
    assert f"{bad}:4: 2099-01-02 is after today" in result.stderr

    good = tmp_path / "good.csv"
    good.write_text(HEADER + "SPY,2024-01-02,10,11,9,10.5,100\nSPY,2024-01-03,10,11,9,10.6,100\n")
    assert "SPY: 2 new, 0 replaced, 0 unchanged" in run(["data", "import", str(good)], home).stdout
    changed = tmp_path / "changed.csv"
    changed.write_text(HEADER + "SPY,2024-01-03,10,11,9,10.7,100\nSPY,2024-01-04,10,11,9,10.7,100\n")
    refused = run(["data", "import", str(changed)], home)
    assert refused.returncode == 2
    assert f"{changed}:2: SPY 2024-01-03 is already stored with different values" in refused.stderr
    assert "--replace" in refused.stderr
    replaced = run(["data", "import", str(changed), "--replace"], home)
    assert replaced.returncode == 0 and "SPY: 1 new, 1 replaced, 0 unchanged" in replaced.stdout
    again = run(["data", "import", str(good)], home, ALCHEMISER_DATA__SAMPLE_FALLBACK="false")
    assert again.returncode == 2  # 2024-01-03 now differs again: refused, store unchanged
    shown = json.loads(run(["data", "show", "SPY", "--json"], home).stdout)
    assert [b["close"] for b in shown["bars"]] == [10.5, 10.7, 10.7]


def test_delete_asks_confirms_and_reports(tmp_path: Path, home: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "".join(f"SPY,2024-01-0{d},10,11,9,10.5,100\n" for d in (2, 3, 4, 5)))
    assert run(["data", "import", str(good)], home).returncode == 0
    declined = run_input(["data", "delete", "SPY", "--from", "2024-01-03", "--to", "2024-01-03"], home, "n\n")
    assert declined.returncode == 1 and "Nothing deleted" in declined.stderr
    no_answer = run_input(["data", "delete", "SPY"], home, "")
    assert no_answer.returncode == 1 and "Nothing deleted" in no_answer.stderr
    agreed = run_input(["data", "delete", "SPY", "--from", "2024-01-05"], home, "y\n")
    assert agreed.returncode == 0 and "Deleted 1 bars of SPY (2024-01-05 … 2024-01-05)" in agreed.stdout
    nothing = run(["data", "delete", "SPY", "--from", "2024-02-01", "--yes"], home)
    no_traceback(nothing)
    assert nothing.returncode == 2
    assert "SPY has no stored bars between 2024-02-01 and its end (it has 2024-01-02 … 2024-01-04)" in nothing.stderr
    reversed_ = run(["data", "delete", "SPY", "--from", "2024-01-04", "--to", "2024-01-02", "--yes"], home)
    assert reversed_.returncode == 2 and "--from 2024-01-04 is after --to 2024-01-02" in reversed_.stderr
    assert run(["data", "delete", "SPY", "--yes"], home).returncode == 0
    assert not list((home / "data" / "bars").iterdir())
    gone = run(["data", "delete", "SPY", "--yes"], home)
    assert gone.returncode == 2 and "no stored bars for SPY" in gone.stderr


# --- items 17 and 12: argument and file-system errors are one clear line -------------------------------


@pytest.mark.parametrize("tail", ["-5", "0", "10001"])
def test_show_tail_out_of_range_names_the_option(home: Path, tail: str) -> None:
    result = run(["data", "show", "SPY", "--tail", tail], home)
    no_traceback(result)
    assert result.returncode == 2 and "'--tail'" in result.stderr


def test_show_tail_shows_exactly_that_many(home: Path) -> None:
    shown = json.loads(run(["data", "show", "SPY", "--tail", "3", "--json"], home).stdout)
    assert len(shown["bars"]) == 3


def test_sample_export_onto_a_file_or_under_one_is_a_clear_error(tmp_path: Path, home: Path) -> None:
    existing = tmp_path / "taken"
    existing.write_text("x")
    for target, message in (
        (existing, f"--export {existing}: exists and is not a folder"),
        (existing / "sub", f"--export {existing / 'sub'}: cannot write"),
    ):
        result = run(["data", "sample", "--export", str(target)], home)
        no_traceback(result)
        assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "no such file or directory"),
        ("empty.csv", "", "file is empty"),
        ("notes", {"a.txt": "x", "b.json": "{}"}, "no SYMBOL.csv files in this directory"),
        ("binary.csv", b"\x89PNG\r\n\x1a\n\xff\xfe", "not UTF-8 text"),
    ],
)
def test_import_of_unusable_inputs_is_one_clear_line(
    tmp_path: Path, home: Path, name: str, content: str | bytes | dict[str, str] | None, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, dict):
        path.mkdir()
        for child, text in content.items():
            (path / child).write_text(text)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = run(["data", "import", str(path)], home)
    no_traceback(result)
    assert result.returncode == 2 and f"{path}" in result.stderr and message in result.stderr


def test_import_of_excel_csv_with_bom_and_crlf(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfsymbol,date,open,high,low,close,volume\r\nSPY,2024-01-02,10,11,9,10.5,100\r\n")
    result = run(["data", "import", str(path)], home)
    assert result.returncode == 0, result.stderr
    assert "SPY: 1 new, 0 replaced, 0 unchanged" in result.stdout


def test_import_into_a_store_that_cannot_be_written_is_one_clear_line(tmp_path: Path, home: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "SPY,2024-01-02,10,11,9,10.5,100\n")
    result = run(["data", "import", str(good)], home, ALCHEMISER_DATA__DIR=str(blocker))
    no_traceback(result)
    assert result.returncode == 2 and f"cannot write to the store {blocker / 'bars'}" in result.stderr
