"""Safety rails: kill switch, per-order cap, daily cap — each checked before every order."""

from __future__ import annotations

from pathlib import Path

import pytest

from alchemiser.config import load_settings
from alchemiser.runner import run_trade


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    monkeypatch.delenv("ALCHEMISER_KILL_SWITCH", raising=False)
    return tmp_path


def config(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text)
    return path


def test_kill_switch_file_stops_everything(home: Path) -> None:
    (home / "KILL").touch()
    result = run_trade(load_settings())
    assert result.status == "halted" and "kill switch" in result.message
    assert result.execution is None


def test_kill_switch_environment_variable(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALCHEMISER_KILL_SWITCH", "1")
    assert run_trade(load_settings()).status == "halted"
    monkeypatch.setenv("ALCHEMISER_KILL_SWITCH", "0")
    assert run_trade(load_settings()).status == "ok"


def test_an_order_larger_than_the_cap_is_refused(home: Path) -> None:
    path = config(home, '[[strategies]]\nname = "t"\nsource = "tecl"\nweight = 1\n[rails]\nmax_order_pct_equity = 30\n')
    result = run_trade(load_settings(path))
    assert result.status == "partial"
    assert result.execution is not None
    assert any("max_order_pct_equity" in w for w in result.execution.warnings)
    assert all(float(o.filled_qty) * float(o.filled_avg_price or 0) <= 30_000 for o in result.execution.orders)


def test_the_daily_cap_halts_further_trading(home: Path) -> None:
    path = config(home, "[rails]\nmax_daily_traded_pct_equity = 60\n")
    result = run_trade(load_settings(path))
    assert result.status == "halted" and result.execution is not None
    traded = sum(float(o.filled_qty) * float(o.filled_avg_price or 0) for o in result.execution.orders)
    assert 0 < traded <= 60_000
    assert any("max_daily_traded_pct_equity" in w for w in result.execution.warnings)
    # the cap counts what earlier runs traded today: the second run may only fill what still fits under it
    # (which buy comes first depends on which quote arrives first, so what fits varies, never the total)
    again = run_trade(load_settings(path), force=True)
    assert again.status == "halted"
    orders = again.execution.orders if again.execution is not None else []
    more = sum(float(o.filled_qty) * float(o.filled_avg_price or 0) for o in orders)
    assert traded + more <= 60_000
    assert again.execution is None or any("max_daily_traded_pct_equity" in w for w in again.execution.warnings)
