"""One notification per run through apprise (email, Slack, Discord, Telegram, ntfy, webhooks…).

The message says what the run did and why: status, each strategy's decision path, orders and fills,
portfolio vs target, day P&L and warnings. The same failure repeating (say, a broker outage every few
minutes under a scheduler) is sent once per window, so a bad morning does not flood the user.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alchemiser.formatting import money, pct, price, qty
from alchemiser.models import RunStatus


def apprise() -> Any:
    """The apprise module, imported on first use: it costs ~0.1 s and most commands never notify."""
    import apprise as module

    return module


log = logging.getLogger(__name__)

FAILURE_STATUSES = frozenset({RunStatus.FAILED, RunStatus.BLOCKED, RunStatus.PARTIAL})
# what `on` may name: "failure" stands for every status above; the others are run statuses themselves
Outcome = Literal["ok", "nothing_to_do", "failure", "market_closed", "halted"]
Delivery = Literal["sent", "skipped", "failed"]


class NotifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    urls: list[str] = Field(
        default_factory=list,
        description="apprise URLs, e.g. ntfy://my-topic, mailto://user:pass@gmail.com, json://host/hook",
    )
    repeat_failure_window_minutes: float = Field(
        default=360, ge=0, description="an identical failure is not re-sent within this window"
    )
    on: list[Outcome] = Field(
        default_factory=lambda: list[Outcome](["ok", "nothing_to_do", "failure"]),
        description="which outcomes notify: ok, nothing_to_do, failure (= failed, blocked, partial), market_closed, "
        "halted",
    )

    @field_validator("urls")
    @classmethod
    def _supported(cls, urls: list[str]) -> list[str]:
        """A mistyped URL would otherwise only show up as a silent non-delivery after a real run. apprise
        parses a URL into its service without contacting it, so this sends nothing."""
        for url in urls:
            if apprise().Apprise.instantiate(url, suppress_exceptions=True) is None:
                raise ValueError(f"{url!r} is not a notification URL apprise supports (e.g. ntfy://my-topic)")
        return urls


def compose(summary: Mapping[str, Any], day_pnl: float | None = None) -> tuple[str, str]:
    """(title, body) of the message for a run summary (`TradeRun.to_json()`)."""
    status = summary["status"]
    title = f"Alchemiser {summary['run_id']}: {status}"
    lines = [f"{status}: {summary.get('message', '')}"]
    if summary.get("synthetic_sample_data"):
        lines.append("(synthetic sample data)")
    if summary.get("price_mode") == "live":
        lines.append("Prices: live (latest trades as today's provisional close)")
    elif summary.get("price_mode"):
        lines.append("Prices: previous close")
    if summary.get("price_notice"):
        lines.append(f"Notice: {summary['price_notice']}")
    if day_pnl is not None:
        lines.append(f"Day P&L: {money(day_pnl, signed=True)}")
    lines.append("")
    lines.append("Signals:")
    for strategy in summary.get("strategies", []):
        lines.append(f"- {strategy['name']} ({pct(strategy.get('share'))}):")
        if strategy.get("error"):
            lines.append(f"    FAILED: {strategy['error']}")
            continue
        for step in strategy.get("trace", []):
            if step.get("kind") in ("prices", "if", "filter", "inverse-volatility", "reason"):
                lines.append(f"    {'  ' * int(step.get('depth', 0))}{step['text']}")
        weights = ", ".join(f"{s} {pct(w, 1)}" for s, w in (strategy.get("weights") or {}).items())
        lines.append(f"    → {weights}")
    orders = summary.get("orders", [])
    if orders:
        lines += ["", "Orders:"]
        for o in orders:
            at = f" @ {price(o['filled_avg_price'])}" if o.get("filled_avg_price") else ""
            error = f" ({o['error']})" if o.get("error") else ""
            lines.append(
                f"- {o['side']} {o['symbol']} {o['type']} {o['status']}: filled {qty(o['filled_qty'])}{at}{error}"
                f" [{o['client_order_id']}]"
            )
    targets, after = summary.get("targets") or {}, summary.get("weights_after") or {}
    if targets or after:
        lines += ["", "Portfolio vs target:"]
        for symbol in sorted(set(targets) | set(after)):
            lines.append(f"- {symbol}: {pct(after.get(symbol, 0.0))} (target {pct(targets.get(symbol, 0.0))})")
        if summary.get("cash_after_weight") is not None:
            lines.append(f"- cash: {pct(summary['cash_after_weight'])}")
    warnings = summary.get("warnings", [])
    if warnings:
        lines += ["", "Warnings:"] + [f"- {w}" for w in warnings]
    return title, "\n".join(lines)


class Notifier:
    def __init__(self, config: NotifyConfig, state_path: Path) -> None:
        self.config = config
        self.state_path = state_path

    def _state(self) -> dict[str, str]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _remember(self, fingerprint: str, now: dt.datetime) -> None:
        state = self._state()
        state[fingerprint] = now.isoformat()
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(json.dumps(state), encoding="utf-8")

    def should_send(self, summary: Mapping[str, Any], now: dt.datetime) -> tuple[bool, str | None]:
        """Whether to send, and the failure fingerprint to remember (None for successes)."""
        status = summary["status"]
        failure = status in FAILURE_STATUSES
        kind = "failure" if failure else status
        if not self.config.urls or kind not in self.config.on:
            return False, None
        if not failure:
            return True, None
        fingerprint = hashlib.sha256(f"{status}|{summary.get('message', '')}".encode()).hexdigest()[:16]
        last = self._state().get(fingerprint)
        window = dt.timedelta(minutes=self.config.repeat_failure_window_minutes)
        if last is not None and now - dt.datetime.fromisoformat(last) < window:
            return False, fingerprint
        return True, fingerprint

    def notify_run(
        self, summary: Mapping[str, Any], day_pnl: float | None = None, now: dt.datetime | None = None
    ) -> Delivery:
        """Send the run's message: "sent", "skipped" (not configured, filtered out, deduplicated) or "failed"
        (some target refused or could not be reached), so the run can report a failed delivery."""
        now = now or dt.datetime.now(dt.UTC)
        send, fingerprint = self.should_send(summary, now)
        if not send:
            return "skipped"
        title, body = compose(summary, day_pnl)
        sender = apprise().Apprise()
        for url in self.config.urls:
            sender.add(url)
        if not sender.notify(title=title, body=body):
            log.warning("notification could not be delivered to %d target(s)", len(self.config.urls))
            return "failed"
        if fingerprint is not None:
            self._remember(fingerprint, now)
        return "sent"
