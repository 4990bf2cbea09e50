"""Money helpers shared by pricing, the simulated exchange and the sandbox: the price grid and Decimal text."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")
SUB_PENNY = Decimal("0.0001")


def tick(price: Decimal) -> Decimal:
    """US equities quote in cents from $1 up, and in hundredths of a cent below."""
    return CENT if price >= 1 else SUB_PENNY


def on_tick(price: Decimal) -> bool:
    """Whether `price` lies on the price grid (`tick`); a sub-penny increment is refused like Alpaca does."""
    return price % tick(price) == 0


def dec(text: str | None) -> Decimal | None:
    """A stored number's text as a Decimal; None stays None."""
    return None if text is None else Decimal(text)


def dec_text(x: Decimal | None) -> str | None:
    """A Decimal as text to store; None stays None (the inverse of `dec`)."""
    return None if x is None else str(x)
