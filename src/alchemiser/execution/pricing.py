"""Order pricing from a quote: marketable limits at bid + a fraction of the spread."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from alchemiser.models import Quote
from alchemiser.money import tick


def buy_limit_price(quote: Quote, fraction: float) -> Decimal:
    """bid + fraction × spread, on the price grid, never below the bid nor above the ask."""
    raw = quote.bid + (quote.ask - quote.bid) * Decimal(str(fraction))
    price = raw.quantize(tick(raw), rounding=ROUND_HALF_UP)
    return min(max(price, quote.bid), quote.ask)
