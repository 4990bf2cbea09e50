"""Paused strategies: not re-decided, their sleeve kept as held until resumed.

The pause state lives in the ledger (`strategy_pauses`), not in the config file: it is run-time state the
dashboard, the CLI and a running `run-daily` must all see at once, and rewriting the user's TOML would
lose its comments and race their editor. A paused strategy keeps its configured share of the blend; its
weights are those of its last *traded* decision, and at planning time (`hold_paused`) that decision is
turned into dollars and drifted with prices, so the planner neither sells nor tops the sleeve up. Resuming
deletes the row: the next run decides the strategy again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.config import Settings
from alchemiser.errors import ConfigError
from alchemiser.ledger import Ledger
from alchemiser.ledger import controls as records
from alchemiser.models import Account, Position


def _ledger(settings: Settings) -> Ledger:
    """The home's ledger, with the dashboard's old audit file imported the first time it is opened here."""

    ledger = Ledger(settings.ledger_file)
    try:
        records.import_audit_file(ledger, settings.home.expanduser() / "web" / "actions.jsonl")
    except BaseException:
        ledger.close()
        raise
    return ledger


def open_controls(settings: Settings) -> Ledger:
    """The ledger for control actions (reads and writes); the caller closes it."""
    return _ledger(settings)


def audit(settings: Settings, action: str, detail: dict[str, Any], source: str, outcome: str) -> None:
    with _ledger(settings) as ledger:
        records.record_action(ledger, action, detail, source, outcome)


def paused_now(settings: Settings) -> dict[str, dt.datetime]:
    """Paused strategies and since when; an absent ledger means none (and is not created just to ask)."""

    if not settings.ledger_file.exists():
        return {}
    with Ledger(settings.ledger_file) as ledger:
        return records.paused(ledger)


def _configured(settings: Settings, name: str) -> None:
    names = [s.name for s in settings.strategies]
    if name not in names:
        raise ConfigError(f"strategy: {name!r} is not configured (configured: {', '.join(names)})")


class PauseJson(TypedDict):
    """`strategy pause|resume NAME --json`: what changed."""

    strategy: str
    paused: Annotated[bool, "whether it is paused now"]
    paused_since: Annotated[str | None, "ISO-8601 in UTC, null when not paused"]
    changed: Annotated[bool, "false when it already was in that state"]
    message: Annotated[str, "the outcome in words"]


class StrategyStateJson(TypedDict):
    """One configured strategy (`strategy list --json` lists these)."""

    name: str
    source: Annotated[str, "built-in name, symphony file or module:Class"]
    share: Annotated[float, "its share of the account (0–1)"]
    paused_since: Annotated[str | None, "ISO-8601 in UTC, null when active"]


def strategy_states(settings: Settings) -> list[StrategyStateJson]:
    """The configured strategies, their shares, and which are paused since when."""
    paused = paused_now(settings)
    return [
        {
            "name": s.name,
            "source": s.source or s.name,
            "share": s.weight,
            "paused_since": paused[s.name].isoformat() if s.name in paused else None,
        }
        for s in settings.strategies
    ]


def set_paused(settings: Settings, name: str, on: bool, source: str) -> PauseJson:
    """Pause or resume a configured strategy and record the action; says what changed. A strategy no
    longer in the config can still be resumed (its pause would otherwise linger)."""
    if on:
        _configured(settings, name)
    with _ledger(settings) as ledger:
        if not on and name not in records.paused(ledger):
            _configured(settings, name)
        if on:
            since, changed = records.pause(ledger, name, source)
            outcome = (
                f"paused since {since:%Y-%m-%d %H:%M} UTC"
                if changed
                else f"already paused since {since:%Y-%m-%d %H:%M} UTC"
            )
            since_text: str | None = since.isoformat()
        else:
            was = records.resume(ledger, name)
            changed = was is not None
            outcome = "resumed: decided again at the next run" if changed else "was not paused"
            since_text = None
        records.record_action(ledger, "pause" if on else "resume", {"strategy": name}, source, outcome)
    return {
        "strategy": name,
        "paused": on,
        "paused_since": since_text,
        "changed": changed,
        "message": f"{name}: {outcome}",
    }


def held_weights(settings: Settings, name: str) -> tuple[dict[str, float], str | None]:
    """The weights a paused strategy keeps (those of its last traded decision) and that run's id; with no
    such decision, none (its share then stays in whatever the account holds, see `hold_paused`)."""

    if not settings.ledger_file.exists():
        return {}, None
    with Ledger(settings.ledger_file) as ledger:
        held = records.last_decision(ledger, name)
    return (held.weights, held.run_id) if held is not None else ({}, None)


def hold_paused(
    settings: Settings,
    strategies: list[Any],
    broker_name: str,
    account: Account,
    positions: list[Position],
    prices: Mapping[str, Decimal],
) -> dict[str, float]:
    """The target with every paused sleeve held as it is.

    A paused sleeve's dollars are its share × its last traded weights × the account's equity after that
    run, each drifted by the symbol's price move since (`prices` now vs the prices in that run's "after"
    snapshot); its cash part stays as dollars. Divided by today's equity, that is the sleeve's weight now,
    so the planner finds it already on target. The strategies that decided share the rest in proportion
    to their shares. With no traded decision on this broker, a paused sleeve keeps its share of the
    current holdings (as a failed strategy does under `keep_holdings`).
    """
    from alchemiser.runner import weights_of

    equity = account.equity
    current = weights_of(account, positions)
    now_price = {**prices, **{p.symbol: p.current_price for p in positions}}
    target: dict[str, float] = {}
    held_total = 0.0
    with Ledger(settings.ledger_file) as ledger:
        for signal in (s for s in strategies if s.paused_since is not None):
            held = records.last_decision(ledger, signal.name, broker_name)
            if held is None or equity <= 0:
                for symbol, weight in current.items():
                    target[symbol] = target.get(symbol, 0.0) + signal.share * weight
                held_total += signal.share
                continue
            scale = float(held.equity / equity) * signal.share
            for symbol, weight in held.weights.items():
                then, now = held.prices.get(symbol), now_price.get(symbol)
                moved = float(now / then) if then and now else 1.0
                target[symbol] = target.get(symbol, 0.0) + scale * weight * moved
                held_total += scale * weight * moved
            held_total += scale * max(0.0, 1.0 - sum(held.weights.values()))
    deciding = [s for s in strategies if s.paused_since is None]
    deciding_share = sum(s.share for s in deciding)
    rest = max(0.0, 1.0 - held_total)
    for signal in deciding:
        source = signal.weights if signal.error is None else current
        part = signal.share / deciding_share * rest if deciding_share > 0 else 0.0
        for symbol, weight in (source or {}).items():
            target[symbol] = target.get(symbol, 0.0) + part * weight
    return {s: w for s, w in sorted(target.items()) if w > 1e-12}
