"""The simulated account's state: its identity, cash and positions, and its orders, saved on every change.

Orders are kept in submission order, indexed by client id, with their non-final subset (`open`) so that
holds stay O(open orders), not O(history). With a `SimStore`, each change is written in one transaction.
"""

from __future__ import annotations

import random
from decimal import Decimal

from alchemiser.execution.sim.matching import Book, OrderRec
from alchemiser.execution.sim.store import SimStore


class SimAccount:
    """One simulated account; not thread-safe on its own (`SimBroker` holds its lock around every use)."""

    def __init__(self, store: SimStore | None, seed: int, starting_cash: Decimal) -> None:
        self.store = store
        # Account ids come from their own stream so whether a state file exists never shifts fill draws.
        self._id_rng = random.Random(f"sim-account:{seed}")
        self.account_id = ""
        self.seq = 0
        self.book = Book(starting_cash)
        self.orders: dict[str, OrderRec] = {}  # in submission order (seq ascending)
        self.open: dict[str, OrderRec] = {}  # the non-final subset
        self.by_client: dict[str, str] = {}
        if not self._load():
            self.fresh(starting_cash)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    def order_id(self, seq: int) -> str:
        """UUID-shaped (alpaca-py parses order ids as UUIDs), unique per account and ordered by sequence."""
        return f"{self.account_id.removeprefix('sim-')}-0000-4000-8000-{seq:012x}"

    def next_id(self) -> str:
        """The id the next accepted order will get (also a unique default for generated client ids)."""
        return self.order_id(self.seq + 1)

    def open_orders(self) -> list[OrderRec]:
        return list(self.open.values())

    def wipe(self) -> None:
        """Forget every order and position (and the stored account); `fresh` starts the next one."""
        self.orders.clear()
        self.open.clear()
        self.by_client.clear()
        self.book.positions.clear()
        if self.store is not None:
            self.store.wipe()

    def fresh(self, cash: Decimal) -> None:
        """Start a new account (a new id) with `cash` and no orders."""
        previous = self.account_id
        while self.account_id == previous:
            self.account_id = f"sim-{self._id_rng.getrandbits(32):08x}"
        self.book.cash = cash
        self.seq = 0
        self.save()

    def add(self, rec: OrderRec) -> None:
        """Register a newly accepted order (its `seq` is the account's latest) and save it."""
        self.orders[rec.order.id] = rec
        self.by_client[rec.order.client_order_id] = rec.order.id
        self.save(rec)

    def save(self, rec: OrderRec | None = None, symbol: str | None = None) -> None:
        """Record a change: keep the open-order index, and write the changed state in one transaction, so a
        crash never leaves cash and orders disagreeing."""
        if rec is not None:
            if rec.order.is_final:
                self.open.pop(rec.order.id, None)
            else:
                self.open[rec.order.id] = rec
        if self.store is not None:
            position = None if symbol is None else self.book.positions.get(symbol)
            self.store.save(self.account_id, self.book.cash, self.seq, rec, symbol, position)

    def _load(self) -> bool:
        """Take over a previous process's account; False when there is no state file or it is empty."""
        stored = None if self.store is None else self.store.load()
        if stored is None:
            return False
        self.account_id = stored.account_id
        self.book = Book(stored.cash, stored.positions)
        self.seq = stored.seq
        for rec in stored.orders:
            self.orders[rec.order.id] = rec
            self.by_client[rec.order.client_order_id] = rec.order.id
            if not rec.order.is_final:
                self.open[rec.order.id] = rec
        return True
