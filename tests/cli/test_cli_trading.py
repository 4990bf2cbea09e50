"""Trading commands end to end as real subprocesses on the simulated broker and the sample market."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import run


def test_trade_twice_then_inspect_the_ledger_and_reset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = run(["trade", "--json"], home)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    assert result["status"] == "ok" and result["synthetic_sample_data"] is True
    assert result["orders"], "the first run on a fresh account must buy"
    for order in result["orders"]:
        assert order["client_order_id"].startswith("alc-") and order["side"] == "buy"
        assert {"symbol", "status", "filled_qty", "filled_avg_price"} <= order.keys()
    assert sum(result["targets"].values()) == pytest.approx(1.0)
    for symbol, weight in result["targets"].items():
        assert abs(result["weights_after"][symbol] - weight) <= 0.0025
    assert 0 <= result["cash_after_weight"] <= 0.005

    refused = json.loads(run(["trade", "--json"], home).stdout)
    assert refused["status"] == "already_ran" and refused["orders"] == []  # one run per session…
    second = json.loads(run(["trade", "--force", "--json"], home).stdout)
    assert second["status"] == "nothing_to_do" and second["orders"] == []  # …and a forced one finds nothing to do

    runs = json.loads(run(["ledger", "runs", "--json"], home).stdout)
    assert [r["status"] for r in runs] == ["nothing_to_do", "ok"]
    shown = json.loads(run(["ledger", "show", result["run_id"], "--json"], home).stdout)
    assert {o["client_order_id"] for o in shown["orders"]} == {o["client_order_id"] for o in result["orders"]}
    assert all(o["events"] for o in shown["orders"])
    assert shown["before"] is not None and shown["after"] is not None
    assert [s["name"] for s in shown["signals"]] == ["nuclear", "tecl"]

    status = json.loads(run(["status", "--json"], home).stdout)
    assert {p["symbol"] for p in status["positions"]} == set(result["targets"])
    assert status["open_orders"] == []

    plan = json.loads(run(["plan", "--json"], home).stdout)
    assert all(item["action"] == "hold" for item in plan["plan"]["items"])

    assert run(["sim", "reset"], home).returncode == 0
    status = json.loads(run(["status", "--json"], home).stdout)
    assert status["positions"] == [] and status["account"]["cash"] == 100000  # money is a JSON number (README: JSON conventions)


def test_trade_with_a_failing_strategy_trades_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    hungry = tmp_path / "hungry.clj"
    hungry.write_text('(defsymphony "h" {} (if (> (rsi "NODATA" {:window 10}) 50) [(asset "SPY" nil)] [(asset "BIL" nil)]))')
    config = tmp_path / "config.toml"
    strategies = f'[[strategies]]\nname = "h"\nsource = "{hungry}"\nweight = 0.5\n[[strategies]]\nname = "tecl"\nweight = 0.5\n'
    config.write_text(strategies)
    result = run(["--config", str(config), "trade", "--json"], home)
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert payload["status"] == "failed" and payload["orders"] == []
    assert "no market data for NODATA" in payload["message"]

    config.write_text('on_strategy_failure = "keep_holdings"\n' + strategies)
    kept = json.loads(run(["--config", str(config), "trade", "--json"], home).stdout)
    assert kept["status"] == "ok"
    assert sum(kept["targets"].values()) == pytest.approx(0.5)  # the failed half stays as held: in cash
