"""`status --json`'s result: the account, its positions with weights and P&L, and the open orders.

One object feeds the table and `--json`; money and quantities stay exact text until `json_ready`
rounds them by key, and the `TypedDict`s below are what the README's "JSON output" section documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.formatting import CENT, Dollars, Price, Shares
from alchemiser.models import Account, Order, Position


class AccountJson(TypedDict):
    """The broker account's balances."""

    account_id: Annotated[str, "the broker's account id"]
    equity: Annotated[Dollars, "cash plus positions at their current price"]
    cash: Dollars
    buying_power: Dollars
    currency: Annotated[str, "e.g. USD"]
    status: Annotated[str, "the broker's account status (ACTIVE, …)"]
    trading_blocked: Annotated[bool, "true when the broker refuses orders on this account"]


class HeldPositionJson(TypedDict):
    """One held position."""

    symbol: str
    qty: Shares
    avg_entry_price: Price
    current_price: Price
    market_value: Dollars
    unrealized_pl: Annotated[Dollars, "market value minus cost"]
    weight: Annotated[float, "market value as a fraction of equity (0–1)"]


class OpenOrderJson(TypedDict):
    """One order the broker still has open."""

    id: Annotated[str, "the broker's order id"]
    client_order_id: Annotated[str, "our id, stable across retries of one intent"]
    symbol: str
    side: Annotated[str, "buy or sell"]
    type: Annotated[str, "market or limit"]
    qty: Annotated[Shares | None, "shares asked for, null for a dollar order"]
    notional: Annotated[Dollars | None, "dollars asked for, null for a share order"]
    status: Annotated[str, "the broker's status (new, accepted, partially_filled, …)"]


class AccountStatusJson(TypedDict):
    """`status --json`: the account as the broker reports it now."""

    broker: Annotated[str, "sim or alpaca"]
    account: AccountJson
    positions: list[HeldPositionJson]
    open_orders: list[OpenOrderJson]


@dataclass(frozen=True)
class AccountStatus:
    """What `status` shows: read once from the broker, rendered as a table or as `--json`."""

    broker: str
    account: Account
    positions: list[Position]
    open_orders: list[Order]
    weights: dict[str, float]  # symbol → weight of equity

    def to_json(self) -> AccountStatusJson:
        a = self.account
        return {
            "broker": self.broker,
            "account": {
                "account_id": a.account_id,
                "equity": str(a.equity),  # exact here; `--json` rounds money to cents
                "cash": str(a.cash),
                "buying_power": str(a.buying_power),
                "currency": a.currency,
                "status": a.status,
                "trading_blocked": a.trading_blocked,
            },
            "positions": [
                {
                    "symbol": p.symbol,
                    "qty": str(p.qty),
                    "avg_entry_price": str(p.avg_entry_price),
                    "current_price": str(p.current_price),
                    "market_value": str(p.market_value.quantize(CENT)),
                    "unrealized_pl": str(p.unrealized_pl.quantize(CENT)),
                    "weight": self.weights.get(p.symbol, 0.0),
                }
                for p in self.positions
            ],
            "open_orders": [
                {
                    "id": o.id,
                    "client_order_id": o.client_order_id,
                    "symbol": o.symbol,
                    "side": str(o.side),
                    "type": str(o.type),
                    "qty": _text(o.qty),
                    "notional": _text(o.notional),
                    "status": str(o.status),
                }
                for o in self.open_orders
            ],
        }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
