"""The README's promise: on a fresh clone, `make run` and then `alchemiser web` work — every page renders
from a home populated only by `make run`'s default job."""

from __future__ import annotations

import re
from pathlib import Path

from alchemiser.ledger import Ledger
from tests.web.conftest import cli, start_web, stop_web
from tests.web.http import get_json, request

REPO = Path(__file__).resolve().parents[2]


def test_every_page_works_on_a_home_made_by_make_run(tmp_path: Path) -> None:
    recipe = re.search(r"^run:.*\n\t(.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert recipe is not None and recipe.group(1).strip() == "$(VENV)/bin/alchemiser trade", "make run changed"
    cli(tmp_path, "trade")  # what `make run` runs: the default job, no flags, no configuration file
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        (run,) = ledger.runs(10)
    server = start_web(tmp_path)
    try:
        status, o = get_json(server.url + "api/overview")
        assert status == 200 and o["empty"] is False and o["last_run"]["run_id"] == run.run_id
        assert o["account"]["equity"] > 0 and o["positions"] and o["equity"]  # marks start at the next close
        status, s = get_json(server.url + "api/strategies")
        assert status == 200 and [r["name"] for r in s["strategies"]] == ["nuclear", "tecl"]
        rec = s["reconciliation"]
        # the sleeves were re-based to this run's equity before it: the account after it differs by the
        # run's own costs (recorded fills vs mid) and little else
        assert rec["account_as_of"].startswith("snapshot") and rec["trading_costs"] < 0
        assert abs(rec["drift"]) < 0.001 * rec["account_equity"], rec
        for name in ("nuclear", "tecl"):
            status, d = get_json(server.url + f"api/decision?strategy={name}&run_id={run.run_id}")
            assert status == 200 and d["error"] is None and d["tree"]["root"]["taken"], d
        pages = {
            "": 'id="positions"',
            "strategies": 'id="sleeves"',
            "runs": run.run_id,
            f"runs/{run.run_id}": 'id="orders"',
            "decision": 'id="tree-data"',
            f"decision?strategy=tecl&run_id={run.run_id}": 'id="tree-data"',
            "backtests": 'id="backtest-form"',
        }
        for path, marker in pages.items():
            status, page = request(server.url + path)
            assert status == 200 and marker in page, (path, page[:500])
            assert "Traceback" not in page
    finally:
        stop_web(server)
