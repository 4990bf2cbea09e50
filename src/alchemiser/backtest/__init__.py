"""Backtests: the live pipeline run over past trading days, with metrics and reports."""
