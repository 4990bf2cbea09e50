"""Both brokers close the same way: idempotent, final (orders refused after), counted, and with `with`."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from alchemiser.data.sample import SampleMarket
from alchemiser.execution.alpaca import AlpacaBroker
from alchemiser.execution.broker import Broker, BrokerLifecycle, OrderRejected
from alchemiser.execution.sim import SimBroker
from alchemiser.models import OrderRequest, OrderType, Side
from alchemiser.sandbox.server import SandboxServer
from tests.execution.test_alpaca_broker import make_broker, start_sandbox


@pytest.fixture
def sandbox(market: SampleMarket, tmp_path: Path) -> Iterator[SandboxServer]:
    server = start_sandbox(market, tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sim", "alpaca"])
def open_broker(request: pytest.FixtureRequest, market: SampleMarket, tmp_path: Path) -> Callable[[], Broker]:
    if request.param == "sim":
        return lambda: SimBroker(market, tmp_path / "sim.sqlite")
    server: SandboxServer = request.getfixturevalue("sandbox")
    return lambda: make_broker(server)


def buy() -> OrderRequest:
    return OrderRequest(symbol="SPY", side=Side.BUY, type=OrderType.MARKET, qty=Decimal(1), client_order_id="late-1")


def test_both_brokers_share_one_close() -> None:
    for cls in (SimBroker, AlpacaBroker):
        assert issubclass(cls, BrokerLifecycle)
        assert cls.close is BrokerLifecycle.close and cls.__exit__ is BrokerLifecycle.__exit__
    assert inspect.signature(Broker.close) == inspect.signature(BrokerLifecycle.close)


def test_close_twice_then_orders_are_refused(open_broker: Callable[[], Broker]) -> None:
    broker = open_broker()
    broker.close()
    broker.close()
    assert broker.calls["close"] == 2  # type: ignore[attr-defined]
    with pytest.raises(OrderRejected, match="is closed"):
        broker.submit_order(buy())


def test_with_closes_on_the_way_out_even_after_an_error(open_broker: Callable[[], Broker]) -> None:
    with pytest.raises(RuntimeError), open_broker() as broker:
        raise RuntimeError("boom")
    with pytest.raises(OrderRejected, match="is closed"):
        broker.submit_order(buy())
