"""Operating the bot from the command line: config init, schedule entries, verbosity flags, repeated runs,
validation of risky inputs, notifications and order phases. Real subprocesses, real files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import run

REPRICE_CONFIG = """\
[[strategies]]
name = "klm"
weight = 1

[sim]
spread_bps = 100                # wide enough that a limit below the mid rests

[execution]
limit_spread_fraction = 0.25    # below the mid: never fills, so it times out and is re-priced
limit_timeout_s = 0.3
on_limit_timeout = "reprice"
max_reprices = 1
"""


def test_a_repriced_order_has_the_same_phase_in_the_run_result_and_the_ledger(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(REPRICE_CONFIG)
    result = json.loads(run(["trade", "--json"], home).stdout)
    in_result = {o["client_order_id"]: o["phase"] for o in result["orders"]}
    ledger = json.loads(run(["ledger", "orders", "--json"], home).stdout)
    in_ledger = {o["client_order_id"]: o["phase"] for o in ledger}
    assert "reprice" in in_result.values()
    assert in_result == in_ledger
