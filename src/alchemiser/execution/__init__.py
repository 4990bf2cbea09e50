"""Execution: the `Broker` protocol, the sell-then-buy `Executor`, and the broker adapters."""
