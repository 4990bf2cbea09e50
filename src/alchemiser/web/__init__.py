"""`alchemiser web`: a local dashboard that shows why the portfolio is what it is.

It reads the same home, configuration and ledger as the CLI, through read-only SQLite connections, so it
can stay open while `run-daily` trades. Views are HTML rendered from the JSON API under `/api`.
"""
