"""Market data: the `MarketData` interface, the local Parquet store, imports and the synthetic sample."""
