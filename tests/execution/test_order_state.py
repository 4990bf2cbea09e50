"""The one order-state rule (`moves_forward`): an order state never moves backwards.

The tracker, the ledger and the simulated exchange all use it, so it is checked here for every pair of
statuses, and for filled quantities, on its own.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from alchemiser.execution.sim.matching import OrderRec
from alchemiser.models import FINAL_STATUSES, Order, OrderStatus, OrderType, Side, moves_forward

D = Decimal
T0 = dt.datetime(2025, 6, 30, 14, 0, tzinfo=dt.UTC)
OPEN_STATUSES = [s for s in OrderStatus if s not in FINAL_STATUSES]


def _order(status: OrderStatus, filled: str = "0") -> Order:
    return Order(
        id="o-1",
        client_order_id="c-1",
        symbol="SPY",
        side=Side.BUY,
        type=OrderType.MARKET,
        status=status,
        qty=D(10),
        notional=None,
        limit_price=None,
        filled_qty=D(filled),
        filled_avg_price=None,
        submitted_at=T0,
        updated_at=T0,
    )


def test_final_statuses_are_exactly_the_five_terminal_ones() -> None:
    assert {s for s in OrderStatus if s.is_final} == {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
        OrderStatus.REJECTED,
        OrderStatus.REPLACED,
    }


@pytest.mark.parametrize(("old", "new"), list(itertools.product(OrderStatus, OrderStatus)))
def test_every_pair_of_statuses(old: OrderStatus, new: OrderStatus) -> None:
    # Open may go anywhere (Alpaca's open states interleave: partially_filled → pending_cancel → ...);
    # final may only be corrected by final; final never reopens.
    expected = not (old in FINAL_STATUSES and new not in FINAL_STATUSES)
    assert old.can_move_to(new) is expected
    assert _order(old).can_become(_order(new)) is expected


@pytest.mark.parametrize("status", list(OrderStatus))
def test_a_status_may_always_repeat(status: OrderStatus) -> None:
    assert status.can_move_to(status)


@pytest.mark.parametrize(("was_final", "final"), list(itertools.product([False, True], repeat=2)))
def test_the_filled_quantity_never_shrinks(was_final: bool, final: bool) -> None:
    status_ok = final or not was_final
    assert moves_forward(was_final, D(3), final, D(3)) is status_ok
    assert moves_forward(was_final, D(3), final, D("3.5")) is status_ok
    assert moves_forward(was_final, D(3), final, D("2.999999999")) is False


def test_a_final_state_with_less_filled_does_not_replace_a_partial_fill() -> None:
    assert not _order(OrderStatus.PARTIALLY_FILLED, "5").can_become(_order(OrderStatus.CANCELED, "3"))
    assert _order(OrderStatus.PARTIALLY_FILLED, "5").can_become(_order(OrderStatus.CANCELED, "5"))


def test_the_simulator_refuses_a_backwards_move() -> None:
    rec = OrderRec(_order(OrderStatus.NEW), seq=1)
    rec.move(_order(OrderStatus.PARTIALLY_FILLED, "4"))
    rec.move(_order(OrderStatus.FILLED, "10"))
    with pytest.raises(RuntimeError, match="simulator bug"):
        rec.move(_order(OrderStatus.NEW, "10"))
    with pytest.raises(RuntimeError, match="simulator bug"):
        rec.move(_order(OrderStatus.FILLED, "9"))
    assert rec.order.status == OrderStatus.FILLED and rec.order.filled_qty == D(10)
