"""The built-in simulated broker: an in-process simulated exchange and cash account behind `Broker`.

Why it exists: the bot must run, be tested and be benchmarked offline, and the executor's hard parts
(asynchronous acks and fills, partial fills, stalls, rejections, missing average prices) must be
reproducible on demand. So this broker behaves like Alpaca where it matters to the executor:

* orders are acknowledged and filled **asynchronously**, as `OrderUpdate` events delivered on one
  background dispatcher thread, in order, after configurable latencies (`dispatch`: a time-ordered heap
  and a `threading.Condition`; nothing sleeps);
* prices come from a `MarketData` source (the last close on or before `as_of`) with a symmetric
  bid/ask spread (`prices`); market orders fill at the touch, limits rest until a price move makes them
  marketable (`matching`, pure);
* validation mirrors Alpaca's messages and HTTP codes (422 invalid, 403 buying power / quantity)
  (`validation`, pure);
* `account` keeps the account's orders, cash and positions; with a `state_path` it lives in SQLite (WAL)
  (`store`), so consecutive processes share one account;
* `clock` answers open/closed from the XNYS calendar (or always open); `config` holds `SimConfig`;
  `broker` holds the `SimBroker` facade that wires the parts together (the `Broker` protocol).

Randomness comes only from `random.Random(config.seed)`, so a run can be replayed exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alchemiser.execution.sim.config import MAX_STARTING_CASH, SimConfig, valid_starting_cash

if TYPE_CHECKING:
    from alchemiser.execution.sim.broker import SimBroker

__all__ = ["MAX_STARTING_CASH", "SimBroker", "SimConfig", "valid_starting_cash"]


def __getattr__(name: str) -> Any:
    """`SimBroker` is imported on first use: the settings need `SimConfig` without pandas and the calendar."""
    if name == "SimBroker":
        from alchemiser.execution.sim.broker import SimBroker

        return SimBroker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
