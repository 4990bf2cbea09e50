"""Safety rails checked before every order: a kill switch, a cap per order, a cap on a day's trading.

They exist because the worst failures of a trading bot are not wrong signals but runaway execution: a bug
or a bad price that turns into one enormous order, or a loop that trades all day. Each rail is a hard
stop with a message that says which rail and why.
"""

from __future__ import annotations

import os
import threading
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from alchemiser.execution.broker import BrokerError

KILL_SWITCH_ENV = "ALCHEMISER_KILL_SWITCH"


class RailsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_order_pct_equity: float = Field(default=100.0, gt=0, le=100, description="largest single order, % of equity")
    max_daily_traded_pct_equity: float = Field(
        default=400.0, gt=0, description="total traded per trading day, % of equity (a full rotation is 200)"
    )
    kill_switch_file: Path | None = Field(
        default=None,
        description="while this file exists (or ALCHEMISER_KILL_SWITCH=1) no order is placed; "
        "default $ALCHEMISER_HOME/KILL",
        examples=["~/.alchemiser/KILL"],
    )


class RailTripped(BrokerError):
    """An order was refused by a safety rail; `halt` means no further order may be placed this run."""

    def __init__(self, message: str, halt: bool = False) -> None:
        self.halt = halt
        super().__init__(message)


class Rails:
    """The rails of one run. The kill switch works from the start; the caps need the day's budget, which
    is only known once the account has been read after reconciliation (`open_day`), and until then every
    order is refused."""

    def __init__(self, config: RailsConfig, kill_file: Path) -> None:
        self.config = config
        self.kill_file = config.kill_switch_file or kill_file
        self.equity: Decimal | None = None
        self.traded = Decimal(0)
        self._lock = threading.Lock()

    def open_day(self, equity: Decimal, traded_today: Decimal) -> None:
        """Set the caps' bases: the account's equity and the dollars already traded this trading day."""
        with self._lock:
            self.equity, self.traded = equity, traded_today

    def killed(self) -> str | None:
        if os.environ.get(KILL_SWITCH_ENV, "").strip() not in ("", "0", "false", "no"):
            return f"kill switch: {KILL_SWITCH_ENV} is set"
        if self.kill_file.exists():
            return f"kill switch: {self.kill_file} exists (delete it to trade again)"
        return None

    def check(self, symbol: str, notional: Decimal) -> None:
        """Call before placing an order worth about `notional` dollars; raises `RailTripped` to refuse it."""
        reason = self.killed()
        if reason:
            raise RailTripped(reason, halt=True)
        if self.equity is None:
            raise RailTripped("safety rails: the day's budget was not set before trading", halt=True)
        if self.equity <= 0:
            return
        cap = self.equity * Decimal(str(self.config.max_order_pct_equity)) / 100
        if notional > cap:
            raise RailTripped(
                f"{symbol}: order of ${notional:,.2f} exceeds max_order_pct_equity "
                f"({self.config.max_order_pct_equity:g}% = ${cap:,.2f})"
            )
        with self._lock:
            limit = self.equity * Decimal(str(self.config.max_daily_traded_pct_equity)) / 100
            if self.traded + notional > limit:
                raise RailTripped(
                    f"{symbol}: ${notional:,.2f} more would take today's trading past max_daily_traded_pct_equity "
                    f"({self.config.max_daily_traded_pct_equity:g}% = ${limit:,.2f}; ${self.traded:,.2f} so far)",
                    halt=True,
                )
            self.traded += notional
