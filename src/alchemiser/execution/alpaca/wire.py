"""Alpaca's wire values ↔ our models: exact decimals from Alpaca's string numbers, our enums, aware times.

Alpaca sends money and quantities as JSON strings; they become `Decimal` straight from those strings.
Outgoing quantities go through the SDK's float fields, so each is checked to survive the float round trip
exactly (anything with at most 15 significant digits does) instead of being rounded silently.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from alpaca.trading.enums import AssetStatus, OrderSide
from alpaca.trading.models import Asset as AlpacaAsset
from alpaca.trading.models import Order as AlpacaOrder

from alchemiser.execution.broker import BrokerError, OrderRejected
from alchemiser.models import Asset, Order, OrderEvent, OrderStatus, OrderType, OrderUpdate, Quote, Side

log = logging.getLogger(__name__)

# Alpaca statuses our model lacks, mapped to the nearest state the executor understands.
_STATUS_FALLBACK = {"held": OrderStatus.NEW, "pending_review": OrderStatus.PENDING_NEW}
# trade_updates events our model lacks; the rest (order_cancel_rejected, restated, …) change nothing we track.
_EVENT_FALLBACK = {"accepted": OrderEvent.PENDING_NEW}


def dec(value: object) -> Decimal | None:
    """Decimal from Alpaca's string numbers (floats, from JSON or msgpack, via their shortest repr)."""
    if value is None or value == "":
        return None
    try:
        return Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise BrokerError(f"unexpected number from Alpaca: {value!r}") from None


def dec0(value: object) -> Decimal:
    found = dec(value)
    return found if found is not None else Decimal(0)


def aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def timestamp(value: object) -> dt.datetime:
    """A wire timestamp (msgpack Timestamp, RFC 3339 text, epoch ns, datetime) as an aware datetime."""
    to_datetime = getattr(value, "to_datetime", None)  # msgpack.Timestamp
    if callable(to_datetime):
        return aware(to_datetime())
    if isinstance(value, dt.datetime):
        return aware(value)
    if isinstance(value, int):
        return dt.datetime.fromtimestamp(value / 1e9, tz=dt.UTC)
    if isinstance(value, str):
        return aware(dt.datetime.fromisoformat(value.strip()))
    return dt.datetime.now(tz=dt.UTC)


def exact_float(value: Decimal, what: str) -> float:
    """The float alpaca-py's request models want, refusing values a float would change."""
    out = float(value)
    if Decimal(repr(out)) != value:
        raise OrderRejected(f"{what} {value} cannot be sent exactly (too many significant digits)", 422)
    return out


def order_from_alpaca(o: AlpacaOrder) -> Order:
    """Our `Order` from alpaca-py's model.

    Order types we never place (stop, trailing stop…) read as limit when they carry a limit price, else as
    market, so foreign orders on the account still list. A zero average price means "not known yet".
    """
    raw_type = o.type or o.order_type
    type_value = raw_type.value if raw_type is not None else "market"
    if type_value not in (OrderType.MARKET.value, OrderType.LIMIT.value):
        type_value = OrderType.LIMIT.value if o.limit_price else OrderType.MARKET.value
    status_value = o.status.value
    status = _STATUS_FALLBACK.get(status_value) or OrderStatus(status_value)
    avg = dec(o.filled_avg_price)
    return Order(
        id=str(o.id),
        client_order_id=o.client_order_id,
        symbol=o.symbol or "",
        side=Side.BUY if o.side == OrderSide.BUY else Side.SELL,
        type=OrderType(type_value),
        status=status,
        qty=dec(o.qty),
        notional=dec(o.notional),
        limit_price=dec(o.limit_price),
        filled_qty=dec0(o.filled_qty),
        filled_avg_price=avg if avg else None,
        submitted_at=aware(o.submitted_at or o.created_at),
        updated_at=aware(o.updated_at or o.submitted_at or o.created_at),
    )


def asset_from_alpaca(a: AlpacaAsset) -> Asset:
    return Asset(
        a.symbol,
        tradable=bool(a.tradable) and a.status == AssetStatus.ACTIVE,
        fractionable=bool(a.fractionable),
        name=a.name or "",
    )


def quote_from_wire(sym: str, msg: dict[str, Any]) -> Quote:
    """A raw quote (stream frame or REST body) as our Quote."""
    return Quote(sym, dec0(msg.get("bp")), dec0(msg.get("ap")), timestamp(msg.get("t")), dec0(msg.get("bs")),
                 dec0(msg.get("as")))


def update_from_wire(data: dict[str, Any]) -> OrderUpdate | None:
    """A raw `trade_updates` payload as our OrderUpdate; None for events that change nothing we track."""
    name = str(data.get("event", ""))
    event = _EVENT_FALLBACK.get(name)
    if event is None:
        try:
            event = OrderEvent(name)
        except ValueError:
            log.debug("trade update %r carries nothing we track", name)
            return None
    order = order_from_alpaca(AlpacaOrder(**data["order"]))
    extra = {"alpaca_event": name}
    for key in ("position_qty", "execution_id"):
        if data.get(key) is not None:
            extra[key] = str(data[key])
    stamp = data.get("timestamp") or data.get("at")
    return OrderUpdate(
        event,
        order,
        timestamp(stamp) if stamp is not None else order.updated_at,
        price=dec(data.get("price")),
        qty=dec(data.get("qty")),
        extra=extra,
    )
