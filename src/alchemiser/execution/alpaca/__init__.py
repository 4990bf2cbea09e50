"""The `Broker` protocol on Alpaca, through the official alpaca-py SDK (see `broker.py` for the map)."""

from alchemiser.execution.alpaca.broker import AlpacaBroker
from alchemiser.execution.alpaca.errors import RetryPolicy
from alchemiser.execution.alpaca.wire import order_from_alpaca

__all__ = ["AlpacaBroker", "RetryPolicy", "order_from_alpaca"]
