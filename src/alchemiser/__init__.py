"""The Alchemiser: rule-based ETF/stock strategies from market data to trades."""

__version__ = "0.1.0"
