"""Parameter sweeps: many backtests of variants of one spec, run on an engine, recorded and resumable.

A run lives in `$ALCHEMISER_HOME/sweeps/<RUN>/`, where RUN is the spec's slug and the hash of everything
that shapes its backtests except the varied values (so widening a grid reuses the finished rows):

    spec.toml          a copy of the spec as last run
    run.json           run id, spec path, spec hash, varied columns, rank_by, created/finished times
    journal.sqlite     one row per finished backtest (id → JSON row), committed as each result arrives;
                       a killed sweep loses nothing that finished, and a rerun computes only missing ids
    results.parquet    every row of the spec sorted by id, written when the sweep completes

Rows: `id`, `index` (expansion order), `p.<name>` per varied thing, the `backtest` command's metrics,
`contribution.<strategy>`, `trades`, `rebalances`, `error` (why a variant has no metrics) and `runtime_s`
(the only column that differs between engines and worker counts).
"""
