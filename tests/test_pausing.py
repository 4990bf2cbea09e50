"""A paused strategy over two sessions at the trading-run seam: its sleeve is held as it was, drifted with
the prices of the second session, while the other strategy's sleeve is rebalanced to its target."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.config import Settings, load_settings
from alchemiser.execution.sim import SimBroker
from alchemiser.ledger import Ledger
from alchemiser.market_calendar import NY
from alchemiser.models import RunStatus
from alchemiser.pausing import paused_now, set_paused
from alchemiser.runner import Decided, TradeRun, run_session
from alchemiser.signals import build_market, compute_signals

# on the sample market nuclear holds TQQQ on the first day; klm holds TECL, then BIL on the second
FIRST, SECOND = dt.date(2025, 5, 15), dt.date(2025, 6, 27)


def _session(settings: Settings, day: dt.date) -> tuple[TradeRun, dict[str, Decimal]]:
    """One run on `day` (its closes are the sim's prices); returns it and the quantities held after."""
    market = build_market(settings)
    signals = compute_signals(settings, as_of=day, market=market, paused=paused_now(settings))
    now = dt.datetime.combine(day, dt.time(15, 50), NY)
    with (
        SimBroker(market, settings.home / "sim.sqlite", settings.sim, as_of=day) as broker,
        Ledger(settings.ledger_file) as ledger,
    ):
        run = run_session(broker, ledger, lambda _: None, settings, now, Decided(market, signals), mode="sim")
        return run, {p.symbol: p.qty for p in broker.get_positions()}


def test_a_paused_sleeve_is_held_drifted_while_the_other_rebalances(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text(
        '[[strategies]]\nname = "nuclear"\nweight = 0.5\n[[strategies]]\nname = "klm"\nweight = 0.5\n'
    )
    settings = load_settings()
    first, held_first = _session(settings, FIRST)
    assert first.status == RunStatus.OK, first.message
    nuclear = {s for s, w in first.signals.strategies[0].weights.items() if w > 0} if first.signals else set()
    other = set(first.targets) - nuclear
    assert nuclear and other and not nuclear & other

    assert set_paused(settings, "nuclear", True, "cli")["changed"]
    second, held_second = _session(settings, SECOND)
    assert second.status in (RunStatus.OK, RunStatus.NOTHING_TO_DO), second.message
    assert second.signals is not None and second.signals.strategies[0].paused_since is not None
    assert second.signals.strategies[0].held_from_run == first.run_id
    assert second.plan is not None

    # the paused sleeve: no order, same quantities, and its target is exactly where prices drifted it
    assert {i.symbol: i.action for i in second.plan.items if i.symbol in nuclear} == dict.fromkeys(nuclear, "hold")
    assert not {o.symbol for o in (second.execution.orders if second.execution else [])} & nuclear
    assert {s: held_second[s] for s in nuclear} == {s: held_first[s] for s in nuclear}
    investable = 1 - settings.rebalance.cash_buffer_pct / 100  # targets are shares of equity less the buffer
    for symbol in nuclear:
        assert second.targets[symbol] * investable == pytest.approx(second.weights_before[symbol], abs=0.0005)
    drift = {s: second.weights_before[s] / first.weights_after[s] for s in nuclear}
    assert any(abs(d - 1) > 0.01 for d in drift.values()), "the prices did not move: nothing was tested"
    assert second.execution is not None and {o.symbol for o in second.execution.orders} >= other  # klm moved

    # the rest of the account follows the deciding strategy, rebalanced to its target
    rest = 1.0 - sum(second.targets[s] for s in nuclear)
    assert sum(w for s, w in second.targets.items() if s not in nuclear) == pytest.approx(rest, abs=1e-9)
    for symbol, weight in second.targets.items():
        assert second.weights_after.get(symbol, 0.0) == pytest.approx(weight, abs=0.0025)

    # resumed: the next session decides nuclear again
    set_paused(settings, "nuclear", False, "cli")
    report = compute_signals(settings, as_of=SECOND, market=build_market(settings), paused=paused_now(settings))
    assert report.strategies[0].paused_since is None and report.strategies[0].held_from_run is None


def test_a_strategy_paused_before_it_ever_traded_keeps_its_share_in_the_current_holdings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alchemiser.models import Account, Position
    from alchemiser.pausing import hold_paused
    from alchemiser.signals import StrategySignal

    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    settings = load_settings()
    Ledger(settings.ledger_file).close()  # a ledger with no decision of "paused" in it
    since = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)
    strategies = [
        StrategySignal("paused", "nuclear", 0.4, weights={}, paused_since=since),
        StrategySignal("active", "tecl", 0.6, weights={"BIL": 1.0}),
    ]
    account = Account("acc", Decimal(1000), Decimal(500), Decimal(500))
    positions = [Position("SPY", Decimal(5), Decimal(100), Decimal(100), Decimal(500))]
    target = hold_paused(settings, strategies, "sim", account, positions, {"BIL": Decimal(90)})
    # 40% follows what the account holds now (half SPY, half cash); the active 60% goes to its own target
    assert target == pytest.approx({"BIL": 0.6, "SPY": 0.2})


def test_a_strategy_removed_from_the_config_can_still_be_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alchemiser.errors import ConfigError

    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    assert set_paused(load_settings(), "nuclear", True, "cli")["changed"]
    (tmp_path / "config.toml").write_text('[[strategies]]\nname = "tecl"\nweight = 1.0\n')
    settings = load_settings()
    with pytest.raises(ConfigError, match="not configured"):
        set_paused(settings, "nuclear", True, "cli")
    assert set_paused(settings, "nuclear", False, "cli")["changed"]  # the lingering pause is cleared
    assert paused_now(settings) == {}
    with pytest.raises(ConfigError, match="not configured"):
        set_paused(settings, "nuclear", False, "cli")
