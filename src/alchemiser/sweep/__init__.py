"""Parameter sweeps: many backtests of one spec, walk-forward tests and honest reports of them."""
