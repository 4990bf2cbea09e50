"""Reports read from the ledger: run reports, execution quality, notifications."""
