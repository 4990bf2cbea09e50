"""Pure order validation of the simulated exchange, with Alpaca's messages and HTTP codes.

422 for an invalid request, 403 for missing buying power or shares. No I/O: the caller passes the quote
and what the account can afford and sell.
"""

from __future__ import annotations

from decimal import Decimal

from alchemiser.execution.broker import OrderRejected
from alchemiser.execution.sim.matching import ZERO, floor9
from alchemiser.models import OrderRequest, OrderType, Quote, Side
from alchemiser.money import on_tick


def validate(
    req: OrderRequest,
    quote: Quote,
    *,
    fractionable: bool,
    buying_power: Decimal,
    available_qty: Decimal,
) -> Decimal | None:
    """Alpaca-like checks of `req` against `quote` (its symbol's); returns the price that holds buying
    power (a market buy by quantity) or sizes a notional sell, else None. Raises `OrderRejected`.

    `available_qty` is what the account holds of the symbol minus what open sells already claim.
    """
    sym = quote.symbol
    if req.time_in_force != "day":
        raise OrderRejected(f'time_in_force "{req.time_in_force}" is not supported by the simulator', 422)
    if req.qty is not None and req.qty <= 0:
        raise OrderRejected("qty must be > 0", 422)
    if not fractionable and (req.notional is not None or (req.qty is not None and req.qty % 1 != 0)):
        raise OrderRejected(f'asset "{sym}" is not fractionable', 422)
    if req.notional is not None:
        if req.type != OrderType.MARKET:
            raise OrderRejected("notional orders are only supported for market orders", 422)
        if req.notional < 1:
            raise OrderRejected("cost basis must be >= 1", 422)
    if req.limit_price is not None:
        if req.limit_price <= 0:
            raise OrderRejected("limit price must be > 0", 422)
        if not on_tick(req.limit_price):
            raise OrderRejected(
                f"invalid limit_price {req.limit_price}. sub-penny increment does not fulfill minimum "
                "pricing criteria",
                422,
            )
    if req.side == Side.BUY:
        if req.notional is not None:
            cost = req.notional
        else:
            assert req.qty is not None
            cost = req.qty * (req.limit_price if req.limit_price is not None else quote.ask)
        if cost > buying_power:
            raise OrderRejected("insufficient buying power", 403)
        return quote.ask if req.limit_price is None and req.notional is None else None
    wanted = req.qty if req.qty is not None else floor9((req.notional or ZERO) / quote.bid)
    if wanted > available_qty:
        raise OrderRejected(
            f"insufficient qty available for order (requested: {wanted}, available: {available_qty})", 403
        )
    return quote.bid if req.notional is not None else None
