"""Library warnings never reach the user: the numerics are handled where they arise, and anything left
goes to the log file rather than the console."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from alchemiser import market_calendar as mc
from alchemiser.backtest.metrics import relative
from alchemiser.logs import WARNINGS_LOGGER, route_warnings, setup_logging
from tests.helpers import run

GROUP_FILTER = """(defsymphony "g" {}
  (filter (moving-average-price {:window 10}) (select-top 1)
    [(group "a" [(weight-equal [(asset "SPY" nil)])])
     (group "b" [(weight-equal [(asset "BIL" nil)])])]))
"""


def _exploding_market(path: Path) -> dt.date:
    """SPY gains 900 % a day for 400 sessions: its compounded equity curve passes 1e308."""
    day, written, last = dt.date(2023, 1, 2), 0, dt.date(2023, 1, 2)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["symbol", "date", "open", "high", "low", "close", "volume"])
        while written < 400:
            if mc.is_session(day):  # imports refuse weekends and holidays
                spy = 10.0 ** (-200 + written)
                out.writerow(["SPY", day.isoformat(), spy, spy, spy, spy, 100])
                out.writerow(["BIL", day.isoformat(), 100, 100, 100, 100, 100])
                written, last = written + 1, day
            day += dt.timedelta(days=1)
    return last


def test_a_signal_whose_group_curve_overflows_prints_no_runtime_warning(tmp_path: Path) -> None:
    home = tmp_path / "home"
    last = _exploding_market(tmp_path / "bars.csv")
    assert run(["data", "import", str(tmp_path / "bars.csv")], home).returncode == 0
    (tmp_path / "g.clj").write_text(GROUP_FILTER)
    result = run(["signal", "-s", str(tmp_path / "g.clj"), "--as-of", last.isoformat()], home)
    assert "Warning" not in result.stdout + result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_flat_strategy_has_no_correlation_and_no_warning() -> None:
    flat, moving = np.full(50, 100.0), 100.0 + np.cumsum(np.sin(np.arange(50)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert relative(flat, moving)["correlation"] is None


def test_python_warnings_go_to_the_log_file_not_the_console(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    route_warnings()
    log = setup_logging(tmp_path, 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("overflow encountered in accumulate", RuntimeWarning, stacklevel=1)
        captured = capsys.readouterr()
        assert "overflow" not in captured.out + captured.err
        assert "overflow encountered in accumulate" in log.read_text()
    finally:
        logging.captureWarnings(False)
        logging.getLogger(WARNINGS_LOGGER).handlers.clear()
        logging.getLogger("alchemiser").handlers.clear()


def test_piped_log_lines_stay_whole_at_any_length(tmp_path: Path) -> None:
    """A cron mail or `2>file` capture gets one line per record: grep must find a message in one piece."""
    script = (
        "import logging, pathlib, sys\n"
        "from alchemiser.logs import setup_logging\n"
        f"setup_logging(pathlib.Path({str(tmp_path)!r}), 0)\n"
        "logging.getLogger('alchemiser.test').warning('word ' * 60 + 'END')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={"COLUMNS": "80"}, check=True
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["WARNING " + "word " * 60 + "END"]
