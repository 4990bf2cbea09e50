"""`plan_rebalance`: from target weights, the account and its positions to a deterministic TradePlan.

A pure function: no broker, no clock. Sells are planned as full exits (the symbol is no longer wanted, or
the trim would be at least `full_exit_fraction` of the position) or trims capped at what is held; buys are
planned in dollars, which the executor re-sizes from the cash actually available after the sells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict  # the TypedDict pydantic accepts on 3.11

from alchemiser.formatting import Dollars, Price, Shares, money
from alchemiser.models import FRACTIONAL_STEP, Account, Asset, Position

Action = Literal["exit", "sell", "buy", "hold"]
CENT = Decimal("0.01")


class RebalanceRules(BaseModel):
    """Planning rules; every one is explained in the plan's reasons."""

    model_config = ConfigDict(extra="forbid")

    min_trade_usd: Decimal = Field(default=Decimal(10), ge=0, description="skip trades smaller than this")
    drift_band_pct: float = Field(
        default=0.0, ge=0, le=100, description="skip symbols whose weight is within this many points of target"
    )
    cash_buffer_pct: float = Field(default=0.2, ge=0, le=50, description="percent of equity kept as cash")
    full_exit_fraction: float = Field(
        default=0.99, gt=0, le=1, description="a trim at least this fraction of a position is a full exit"
    )


class PlanItemJson(TypedDict):
    """One line of the rebalance plan."""

    symbol: str
    action: Annotated[Action, "exit (sell all), sell (trim), buy, or hold"]
    current_qty: Annotated[Shares, "shares held before"]
    current_value: Annotated[Dollars, "their market value"]
    current_weight: Annotated[float, "fraction of equity before (0–1)"]
    target_weight: Annotated[float, "fraction of equity wanted (0–1)"]
    target_value: Annotated[Dollars, "dollars wanted"]
    trade_value: Annotated[Dollars, "signed dollars: negative sells, positive buys"]
    qty: Annotated[Shares | None, "shares to sell, or whole shares to buy when not fractionable; null: by dollars"]
    price: Annotated[Price, "the price the plan was sized with"]
    fractionable: Annotated[bool, "whether fractional shares can be traded"]
    reason: Annotated[str, "why, in words"]
    qty_step: Annotated[Shares, "the smallest quantity step (1 when not fractionable)"]


class TradePlanJson(TypedDict):
    """The rebalance plan."""

    equity: Annotated[Dollars, "account equity the plan was made with"]
    cash: Annotated[Dollars, "cash before trading"]
    buffer: Annotated[Dollars, "cash kept back (cash_buffer_pct of equity)"]
    items: list[PlanItemJson]


@dataclass(slots=True)  # not frozen: frozen dataclasses construct several times slower, and backtests make many
class PlanItem:
    symbol: str
    action: Action
    current_qty: Decimal
    current_value: Decimal
    current_weight: float
    target_weight: float
    target_value: Decimal
    trade_value: Decimal  # signed dollars: negative sells, positive buys
    qty: Decimal | None  # shares to sell (trims), or whole shares to buy for non-fractionable assets
    price: Decimal
    fractionable: bool
    reason: str
    qty_step: Decimal = FRACTIONAL_STEP

    def to_json(self) -> PlanItemJson:
        return {
            "symbol": self.symbol,
            "action": self.action,
            "current_qty": str(self.current_qty),
            "current_value": str(self.current_value),
            "current_weight": self.current_weight,
            "target_weight": self.target_weight,
            "target_value": str(self.target_value),
            "trade_value": str(self.trade_value),
            "qty": None if self.qty is None else str(self.qty),
            "price": str(self.price),
            "fractionable": self.fractionable,
            "reason": self.reason,
            "qty_step": str(self.qty_step),
        }


@dataclass(frozen=True)
class TradePlan:
    equity: Decimal
    cash: Decimal
    buffer: Decimal
    items: list[PlanItem] = field(default_factory=list)

    @property
    def sells(self) -> list[PlanItem]:
        return [i for i in self.items if i.action in ("exit", "sell")]

    @property
    def buys(self) -> list[PlanItem]:
        return [i for i in self.items if i.action == "buy"]

    @property
    def is_empty(self) -> bool:
        return not self.sells and not self.buys

    def to_json(self) -> TradePlanJson:
        return {
            "equity": str(self.equity),
            "cash": str(self.cash),
            "buffer": str(self.buffer),
            "items": [i.to_json() for i in self.items],
        }


def size_buys(plan: TradePlan, cash: Decimal) -> tuple[list[tuple[PlanItem, Decimal]], Decimal]:
    """Dollars for each planned buy, scaled down together when the cash actually there (less the buffer)
    does not cover them all; also returns the scale (1 when everything fits)."""
    available = max(cash - plan.buffer, Decimal(0))
    wanted = sum((i.trade_value for i in plan.buys), Decimal(0))
    scale = min(Decimal(1), available / wanted) if wanted > 0 else Decimal(0)
    return [(item, (item.trade_value * scale).quantize(CENT, rounding=ROUND_DOWN)) for item in plan.buys], scale


def floor_qty(qty: Decimal, step: Decimal) -> Decimal:
    """Round a quantity down to the asset's step (whole shares when it is not fractionable)."""
    return qty.quantize(step, rounding=ROUND_DOWN) if qty > 0 else Decimal(0)


def plan_rebalance(
    target: Mapping[str, float],
    account: Account,
    positions: list[Position],
    prices: Mapping[str, Decimal],
    assets: Mapping[str, Asset],
    rules: RebalanceRules | None = None,
) -> TradePlan:
    """Decide, per symbol, whether to exit, trim, buy or hold, and by how much (sorted by symbol)."""
    rules = rules or RebalanceRules()
    equity = account.equity
    buffer = (equity * Decimal(str(rules.cash_buffer_pct)) / 100).quantize(CENT)
    investable = max(equity - buffer, Decimal(0))
    held = {p.symbol: p for p in positions if p.qty != 0}
    items: list[PlanItem] = []
    for symbol in sorted(set(target) | set(held)):
        weight = float(target.get(symbol, 0.0))
        position = held.get(symbol)
        qty = position.qty if position else Decimal(0)
        price = position.current_price if position else prices.get(symbol, Decimal(0))
        value = position.market_value if position else Decimal(0)
        current_weight = float(value / equity) if equity > 0 else 0.0
        target_value = (investable * Decimal(str(weight))).quantize(CENT)
        asset = assets.get(symbol)
        fractionable = asset.fractionable if asset else False
        step = asset.qty_step if asset else Decimal(1)
        action, reason, trade_qty, trade = _decide(
            weight, position, asset, price, value, current_weight, target_value - value, rules
        )
        items.append(
            PlanItem(
                symbol,
                action,
                qty,
                value,
                current_weight,
                weight,
                target_value,
                trade,
                trade_qty,
                price,
                fractionable,
                reason,
                step,
            )
        )
    return TradePlan(equity, account.cash, buffer, items)


def _decide(
    weight: float,
    position: Position | None,
    asset: Asset | None,
    price: Decimal,
    value: Decimal,
    current_weight: float,
    trade: Decimal,
    rules: RebalanceRules,
) -> tuple[Action, str, Decimal | None, Decimal]:
    """(action, reason, quantity, signed dollars) for one symbol."""
    held = position.qty if position else Decimal(0)
    step = asset.qty_step if asset else Decimal(1)
    if position is not None and held < 0:
        return "hold", "short position: not managed by the bot", None, Decimal(0)
    if asset is not None and not asset.tradable:
        return "hold", "asset is not tradable at the broker", None, Decimal(0)
    if weight <= 0 and position is not None:
        return "exit", "no longer in the target: close the whole position", held, -value
    if abs(trade) < rules.min_trade_usd:
        reason = f"difference {money(trade, signed=True)} is below the {money(rules.min_trade_usd)} minimum trade"
        return "hold", reason, None, Decimal(0)
    if rules.drift_band_pct and abs(current_weight - weight) < rules.drift_band_pct / 100:
        return "hold", f"within the {rules.drift_band_pct:g}-point drift band", None, Decimal(0)
    if price <= 0:
        return "hold", "no price to size the trade", None, Decimal(0)
    if trade < 0:
        sell_qty = min(held, floor_qty(-trade / price, step))
        if sell_qty >= held * Decimal(str(rules.full_exit_fraction)):
            return "exit", f"trim is ≥ {rules.full_exit_fraction:.0%} of the position: full exit", held, -value
        if sell_qty <= 0:
            return "hold", "less than one share to sell", None, Decimal(0)
        return "sell", f"trim to {weight:.2%}", sell_qty, -(sell_qty * price).quantize(CENT)
    if asset is None:
        return "hold", "asset unknown at the broker", None, Decimal(0)
    if not asset.fractionable:
        shares = floor_qty(trade / price, step)
        if shares <= 0:
            return "hold", "less than one whole share to buy (not fractionable)", None, Decimal(0)
        return "buy", f"raise to {weight:.2%} in whole shares", shares, (shares * price).quantize(CENT)
    return "buy", f"raise to {weight:.2%}", None, trade.quantize(CENT)
