"""The backtest's one error type, shared by its modules (the CLI prints it without a traceback)."""

from __future__ import annotations

from alchemiser.errors import AlchemiserError


class BacktestError(AlchemiserError):
    """A backtest cannot run as asked (bad options, no decidable days in the range…); the message says why."""
