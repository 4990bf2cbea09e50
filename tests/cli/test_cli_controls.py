"""The controls from the command line — `strategy pause|resume|list`, `liquidate`, `ledger actions` — as real
subprocesses on the simulated broker, and liquidation through the sandbox with the real alpaca-py client."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli.test_sandbox_cli import _env, _positions, sandbox_serve  # noqa: F401  (a fixture)
from tests.helpers import run

NUCLEAR = {"LEU", "OKLO", "SMR"}  # what the built-in nuclear holds on the sample market (tecl: BIL, klm: SOXL)


def _config(path: Path, second_source: str) -> Path:
    path.write_text(
        '[[strategies]]\nname = "nuclear"\nweight = 0.5\n'
        f'[[strategies]]\nname = "other"\nsource = "{second_source}"\nweight = 0.5\n'
    )
    return path


def _holdings(home: Path, config: Path) -> dict[str, float]:
    status = json.loads(run(["--config", str(config), "status", "--json"], home).stdout)
    return {p["symbol"]: float(p["qty"]) for p in status["positions"]}


def test_a_paused_strategy_keeps_its_holdings_while_the_other_rebalances(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = _config(tmp_path / "config.toml", "tecl")
    first = json.loads(run(["--config", str(config), "trade", "--json"], home).stdout)
    assert first["status"] == "ok" and set(first["targets"]) == NUCLEAR | {"BIL"}
    before = _holdings(home, config)

    paused = run(["--config", str(config), "strategy", "pause", "nuclear", "--json"], home)
    assert paused.returncode == 0, paused.stderr
    state = json.loads(paused.stdout)
    assert state["paused"] is True and state["changed"] is True and state["paused_since"]
    again = json.loads(run(["--config", str(config), "strategy", "pause", "nuclear", "--json"], home).stdout)
    assert again["changed"] is False and again["paused_since"] == state["paused_since"]

    signal = json.loads(run(["--config", str(config), "signal", "--json"], home).stdout)
    held = {s["name"]: s for s in signal["strategies"]}
    assert held["nuclear"]["paused_since"] == state["paused_since"]
    assert held["nuclear"]["held_from_run"] == first["run_id"] and held["other"]["paused_since"] is None
    console = run(["--config", str(config), "signal"], home).stdout
    assert "PAUSED since" in console and first["run_id"] in console

    # the other sleeve changes its strategy (tecl → klm): it sells BIL and buys SOXL; nuclear is untouched
    config = _config(config, "klm")
    second = json.loads(run(["--config", str(config), "trade", "--force", "--json"], home).stdout)
    assert second["status"] == "ok", second["message"]
    traded = {o["symbol"] for o in second["orders"]}
    assert traded == {"BIL", "SOXL"}, second["orders"]
    assert {s["name"]: s["paused_since"] for s in second["strategies"]} == {
        "nuclear": state["paused_since"],
        "other": None,
    }
    assert {i["symbol"]: i["action"] for i in second["plan"]["items"] if i["symbol"] in NUCLEAR} == dict.fromkeys(
        NUCLEAR, "hold"
    )
    after = _holdings(home, config)
    assert {s: after[s] for s in NUCLEAR} == {s: before[s] for s in NUCLEAR}
    assert "BIL" not in after and after["SOXL"] > 0

    listing = json.loads(run(["--config", str(config), "strategy", "list", "--json"], home).stdout)
    assert [(r["name"], r["paused_since"] is not None) for r in listing] == [("nuclear", True), ("other", False)]

    resumed = json.loads(run(["--config", str(config), "strategy", "resume", "nuclear", "--json"], home).stdout)
    assert resumed["paused"] is False and resumed["changed"] is True
    signal = json.loads(run(["--config", str(config), "signal", "--json"], home).stdout)
    assert all(s["paused_since"] is None for s in signal["strategies"])

    actions = json.loads(run(["ledger", "actions", "--json"], home).stdout)
    assert [(a["action"], a["source"], a["detail"]) for a in actions] == [
        ("resume", "cli", {"strategy": "nuclear"}),
        ("pause", "cli", {"strategy": "nuclear"}),
        ("pause", "cli", {"strategy": "nuclear"}),
    ]
    assert actions[1]["outcome"].startswith("already paused")
    table = run(["ledger", "actions"], home).stdout
    assert "Control actions" in table and "resume" in table


def test_pausing_an_unknown_strategy_names_it(home: Path) -> None:
    result = run(["strategy", "pause", "no-such"], home)
    assert result.returncode == 2 and "no-such" in result.stderr and "nuclear" in result.stderr


def test_liquidate_sells_everything_as_a_recorded_run_and_leaves_the_kill_switch(home: Path) -> None:
    assert run(["trade", "--json"], home).returncode == 0
    held = json.loads(run(["status", "--json"], home).stdout)["positions"]
    assert held

    unconfirmed = run(["liquidate"], home)  # no terminal to answer the prompt: nothing is done
    assert unconfirmed.returncode == 1 and "not confirmed" in unconfirmed.stderr
    live = run(["liquidate", "--live", "--yes"], home)
    assert live.returncode == 2 and "--live needs the alpaca broker" in live.stderr

    (home / "KILL").write_text("stop\n")
    halted = run(["liquidate", "--yes", "--json"], home)
    assert halted.returncode == 1 and json.loads(halted.stdout)["status"] == "halted"
    assert json.loads(run(["status", "--json"], home).stdout)["positions"] == held
    assert (home / "KILL").exists()  # left as it was
    (home / "KILL").unlink()

    sold = run(["liquidate", "--yes", "--json"], home)
    assert sold.returncode == 0, sold.stdout + sold.stderr
    result = json.loads(sold.stdout)
    assert result["status"] == "ok"
    assert {o["symbol"] for o in result["orders"]} == {p["symbol"] for p in held}
    assert all(o["side"] == "sell" and o["status"] == "filled" for o in result["orders"])
    assert json.loads(run(["status", "--json"], home).stdout)["positions"] == []
    assert result["weights_after"] == {} and result["cash_after_weight"] == 1.0
    assert not (home / "KILL").exists()  # still off: it is never changed by a liquidation

    shown = json.loads(run(["ledger", "show", result["run_id"], "--json"], home).stdout)
    assert shown["run"]["status"] == "ok" and shown["before"]["positions"] and shown["after"]["positions"] == []
    assert {i["action"] for i in shown["plan"]} == {"exit"}
    assert [(s["name"], s["weights"]) for s in shown["signals"]] == [("nuclear", {}), ("tecl", {})]  # all cash
    actions = json.loads(run(["ledger", "actions", "--json"], home).stdout)
    assert [(a["action"], a["source"], a["outcome"].split(":")[0]) for a in actions] == [
        ("liquidate", "cli", "ok"),
        ("liquidate", "cli", "halted"),
    ]
    again = json.loads(run(["liquidate", "--yes", "--json"], home).stdout)
    assert again["status"] == "nothing_to_do" and again["orders"] == []


def test_liquidate_through_the_sandbox_with_alpaca_py(sandbox_serve: str, tmp_path: Path) -> None:  # noqa: F811
    env = {**_env(tmp_path), "ALPACA_BASE_URL": sandbox_serve, "ALPACA_DATA_URL": sandbox_serve}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alchemiser.cli", *args],
            capture_output=True, text=True, timeout=180, check=False, env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    trade = cli("trade", "--broker", "alpaca", "--json")
    assert trade.returncode == 0 and json.loads(trade.stdout)["status"] == "ok", trade.stdout + trade.stderr
    invested = _positions(sandbox_serve)
    assert invested

    sold = cli("liquidate", "--broker", "alpaca", "--yes", "--json")
    assert sold.returncode == 0, sold.stdout + sold.stderr
    result = json.loads(sold.stdout)
    assert result["status"] == "ok" and {o["symbol"] for o in result["orders"]} == {s for s, _ in invested}
    assert all(o["side"] == "sell" and o["status"] == "filled" for o in result["orders"])
    assert _positions(sandbox_serve) == []
    runs = json.loads(cli("ledger", "runs", "--json").stdout)
    assert (runs[0]["run_id"], runs[0]["mode"], runs[0]["status"]) == (result["run_id"], "paper", "ok")
