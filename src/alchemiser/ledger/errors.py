"""The ledger's errors: a file that cannot be used as asked, and an order recorded twice."""

from __future__ import annotations

from alchemiser.errors import AlchemiserError


class LedgerError(AlchemiserError):
    """The ledger file cannot be used as asked (unknown run, newer schema, closed ledger...)."""


class DuplicateOrderError(LedgerError):
    """A client_order_id was already recorded: placing it again could trade twice, so we refuse."""

    def __init__(self, client_order_id: str) -> None:
        self.client_order_id = client_order_id
        super().__init__(f"order {client_order_id!r} is already in the ledger; refusing to record it twice")
