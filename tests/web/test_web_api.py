"""The JSON API under /api, against `alchemiser web` as a real process on a home of real `trade` runs."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from alchemiser.ledger import Ledger
from tests.web.conftest import WebServer, cli, start_web, stop_web
from tests.web.http import csrf_of, get_json, post_json, request


def _ledger_latest(home: Path) -> tuple[dict, dict]:
    with Ledger(home / "ledger.sqlite") as ledger:
        latest = ledger.runs(1)[0]
        snap = ledger.snapshot(latest.run_id, "after") or ledger.snapshot(latest.run_id, "before")
        assert snap is not None
        return latest.as_dict(), snap


def test_overview_numbers_equal_the_ledger(web_server: WebServer) -> None:
    status, o = get_json(web_server.url + "api/overview")
    assert status == 200 and not o["empty"]
    run, snap = _ledger_latest(web_server.home)
    assert o["last_run"]["run_id"] == run["run_id"]
    # money in the API follows the `--json` convention: dollars rounded to cents
    assert o["account"]["equity"] == pytest.approx(float(snap["account"]["equity"]), abs=0.005)
    assert o["account"]["cash"] == pytest.approx(float(snap["account"]["cash"]), abs=0.005)
    held = {p["symbol"]: float(p["market_value"]) for p in snap["positions"]}
    shown = {p["symbol"]: p["market_value"] for p in o["positions"] if p["market_value"]}
    assert shown == pytest.approx(held)
    assert len(o["equity"]) == 4  # before + after of each of the two runs
    assert o["next_run"]


def test_runs_list_and_filters_are_validated(web_server: WebServer) -> None:
    status, page = get_json(web_server.url + "api/runs")
    assert status == 200 and page["total"] == 2
    assert {r["status"] for r in page["runs"]} == {"ok", "nothing_to_do"}
    status, page = get_json(web_server.url + "api/runs?status=ok")
    assert [r["status"] for r in page["runs"]] == ["ok"] and page["runs"][0]["orders"] > 0
    for query, field in (
        ("status=bogus", "status"),
        ("mode=x", "mode"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("colour=red", "colour"),
    ):
        status, body = get_json(web_server.url + "api/runs?" + query)
        assert status == 400 and field in body["error"], (query, body)


def test_run_detail_equals_the_cli_report(web_server: WebServer) -> None:
    _, page = get_json(web_server.url + "api/runs?status=ok")
    run_id = page["runs"][0]["run_id"]
    status, detail = get_json(web_server.url + f"api/runs/{run_id}")
    assert status == 200
    cli_report = json.loads(cli(web_server.home, "report", run_id, "--json").stdout)
    assert [o["client_order_id"] for o in detail["orders"]] == [o["client_order_id"] for o in cli_report["orders"]]
    assert [o["filled_qty"] for o in detail["orders"]] == [o["filled_qty"] for o in cli_report["orders"]]
    assert detail["execution"] == cli_report["execution"]
    assert set(detail["quality"]) == {o["client_order_id"] for o in detail["orders"]}
    status, body = get_json(web_server.url + "api/runs/nope")
    assert status == 404 and "run_id" in body["error"]


def _highlighted_steps(node: dict) -> list[str]:
    steps, stack = [], [node]
    while stack:
        n = stack.pop()
        if n["taken"]:
            steps.extend(s["text"] for s in n["steps"])
            stack.extend(reversed(n["children"]))
    return steps


def test_decision_tree_path_equals_signal_json(web_server: WebServer) -> None:
    day = "2025-06-27"
    signal = json.loads(cli(web_server.home, "signal", "--as-of", day, "--json").stdout)
    for strategy in signal["strategies"]:
        status, d = get_json(web_server.url + f"api/decision?strategy={strategy['name']}&as_of={day}")
        assert status == 200, d
        assert d["weights"] == pytest.approx(strategy["weights"])
        assert _highlighted_steps(d["tree"]["root"]) == [t["text"] for t in strategy["trace"]]
        assert d["tree"]["nodes"] > len(strategy["trace"])  # untaken branches are there too


def test_decision_of_a_recorded_run(web_server: WebServer) -> None:
    _, page = get_json(web_server.url + "api/runs?status=ok")
    run_id = page["runs"][0]["run_id"]
    with Ledger(web_server.home / "ledger.sqlite") as ledger:
        recorded = {s["name"]: s for s in ledger.signals(run_id)}
    status, d = get_json(web_server.url + f"api/decision?strategy=tecl&run_id={run_id}")
    assert status == 200
    assert _highlighted_steps(d["tree"]["root"]) == [t["text"] for t in recorded["tecl"]["trace"]]
    for query, field in (
        ("strategy=nope", "strategy"),
        ("as_of=2024-13-01", "as_of"),
        (f"as_of=2024-01-02&run_id={run_id}", "as_of"),
        ("run_id=nope", "run_id"),
        ("extra=1", "extra"),
    ):
        status, body = get_json(web_server.url + "api/decision?" + query)
        assert status in (400, 404) and field in body["error"], (query, body)


def test_state_changes_need_csrf_and_strict_json(web_server: WebServer) -> None:
    url = web_server.url + "api/controls/kill"
    status, body = post_json(url, {"on": True})
    assert status == 403 and "X-CSRF-Token" in body["error"]
    csrf = {"X-CSRF-Token": csrf_of(web_server.url)}
    for payload, raw, field in (
        ({}, None, "on"),
        ({"on": "yes"}, None, "on"),
        ({"on": True, "x": 1}, None, "x"),
        (None, b"{not json", "body"),
        (None, b"[1]", "body"),
        (None, b'{"on": NaN}', "body"),
    ):
        status, body = post_json(url, payload, csrf, raw=raw)
        assert status == 400 and field in body["error"], (payload, raw, body)
    status, body = post_json(url, {"on": True}, {**csrf, "Origin": "http://evil.example"})
    assert status == 403 and "cross-origin" in body["error"]
    status, body = post_json(web_server.url + "api/controls/run", {"broker": "live"}, csrf)
    assert status == 400 and "broker" in body["error"]
    assert not (web_server.home / "KILL").exists()


def test_kill_switch_from_the_api_makes_trade_refuse(web_server: WebServer) -> None:
    csrf = {"X-CSRF-Token": csrf_of(web_server.url)}
    status, body = post_json(web_server.url + "api/controls/kill", {"on": True}, csrf)
    try:
        assert status == 200 and body["kill_switch"]
        refused = cli(web_server.home, "trade", "--force", "--json", check=False)
        assert refused.returncode == 1 and json.loads(refused.stdout)["status"] == "halted"
        latest = get_json(web_server.url + "api/controls")[1]["actions"][0]
        assert (latest["action"], latest["source"], latest["detail"]) == ("kill_switch", "web", {"on": True})
        assert latest["outcome"].startswith("on: kill switch")
    finally:
        status, body = post_json(web_server.url + "api/controls/kill", {"on": False}, csrf)
    assert status == 200 and body["kill_switch"] is None


def test_a_foreign_host_name_is_refused_on_loopback(web_server: WebServer) -> None:
    import re

    """DNS rebinding: evil.example re-pointed at 127.0.0.1 must not get the pages (nor their CSRF token)."""
    status, text = request(web_server.url, headers={"Host": "evil.example:8000"})
    assert status == 421 and re.search(r'csrf-token" content="[^"]+"', text) is None
    status, body = get_json(web_server.url + "api/overview", headers={"Host": "evil.example"})
    assert status == 421 and "Host" in body["error"]
    big = b'{"on": true, "pad": "' + b"x" * 20_000 + b'"}'
    status, body = post_json(
        web_server.url + "api/controls/kill", None, {"X-CSRF-Token": csrf_of(web_server.url)}, raw=big
    )
    assert status in (400, 413) and "error" in body


def test_errors_never_show_a_traceback(web_server: WebServer) -> None:
    for path in ("runs/nope", "decision?strategy=nope", "nope", "static/../../etc/passwd", "api/overview?x=1"):
        status, text = request(web_server.url + path)
        assert status >= 400, path
        assert "Traceback" not in text and 'File "' not in text, path


def test_empty_home_gets_a_first_run_page(tmp_path: Path) -> None:
    server = start_web(tmp_path)
    try:
        status, page = request(server.url)
        assert status == 200 and 'id="first-run"' in page
        status, o = get_json(server.url + "api/overview")
        assert o["empty"] is True and o["positions"] == []
        assert get_json(server.url + "api/runs")[1]["total"] == 0
    finally:
        stop_web(server)


def test_beyond_loopback_every_request_needs_the_token(traded_home: Path, tmp_path: Path) -> None:
    server = start_web(traded_home, "--host", "0.0.0.0")
    base = server.url.replace("0.0.0.0", "127.0.0.1")
    try:
        token_file = traded_home / "web_token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        status, body = get_json(base + "api/overview")
        assert status == 401 and "token" in body["error"]
        status, body = post_json(base + "api/controls/kill", {"on": True}, {"X-CSRF-Token": "x"})
        assert status == 401
        auth = {"Authorization": f"Bearer {token}"}
        status, _ = get_json(base + "api/overview", auth)
        assert status == 200
        status, body = post_json(base + "api/controls/kill", {"on": True}, auth)
        assert status == 403  # the token alone is not enough: CSRF too
        csrf = csrf_of(base, auth)
        status, body = post_json(base + "api/controls/kill", {"on": True}, {**auth, "X-CSRF-Token": csrf})
        assert status == 200 and body["kill_switch"]
        status, body = post_json(base + "api/controls/kill", {"on": False}, {**auth, "X-CSRF-Token": csrf})
        assert status == 200 and body["kill_switch"] is None
        assert not (traded_home / "KILL").exists()
    finally:
        stop_web(server)


def test_a_several_thousand_node_symphony(tmp_path: Path) -> None:
    from tests.web.big_symphony import big_symphony

    (tmp_path / "big.clj").write_text(big_symphony(11))
    (tmp_path / "config.toml").write_text('[[strategies]]\nname = "big"\nsource = "big.clj"\nweight = 1\n')
    server = start_web(tmp_path)
    try:
        status, d = get_json(server.url + "api/decision?strategy=big&as_of=2025-06-27")
        assert status == 200, d
        assert d["tree"]["nodes"] == 2**12 - 1 and not d["tree"]["truncated"]
        assert sum(1 for _ in _taken(d["tree"]["root"])) == 12  # eleven ifs and the asset they lead to
        assert _highlighted_steps(d["tree"]["root"]) == [t["text"] for t in d["trace"]]
    finally:
        stop_web(server)


def _taken(node: dict) -> list[dict]:
    found, stack = [], [node]
    while stack:
        n = stack.pop()
        if n["taken"]:
            found.append(n)
            stack.extend(n["children"])
    return found


def test_backtest_requests_are_validated_and_results_downloadable(web_server: WebServer) -> None:
    import time

    csrf = {"X-CSRF-Token": csrf_of(web_server.url)}
    url = web_server.url + "api/backtests"
    for payload, field in (
        ({"strategies": []}, "strategies"),
        ({"strategies": ["nope"]}, "strategies"),
        ({"strategies": ["tecl"], "weights": [1, 2]}, "weights"),
        ({"strategies": ["tecl"], "start": "2020-02-30"}, "start"),
        ({"strategies": ["tecl"], "start": "2021-01-04", "end": "2020-01-02"}, "end"),
        ({"strategies": ["tecl"], "rebalance": "hourly"}, "rebalance"),
        ({"strategies": ["tecl"], "fill": "open"}, "fill"),
        ({"strategies": ["tecl"], "fee_bps": -1}, "fee_bps"),
        ({"strategies": ["tecl"], "slippage_bps": True}, "slippage_bps"),
        ({"strategies": ["tecl"], "benchmark": "spy; rm"}, "benchmark"),
        ({"strategies": ["tecl"], "colour": 1}, "colour"),
    ):
        status, body = post_json(url, payload, csrf)
        assert status == 400 and field in body["error"], (payload, body)
    status, job = post_json(url, {"strategies": ["tecl"], "start": "2024-01-02", "benchmark": None}, csrf)
    assert status == 202
    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        status, job = get_json(url + f"/{job['id']}?charts=0")
    assert job["status"] == "done", job
    cli_like = job["result"]
    assert cli_like["start"] == "2024-01-02" and cli_like["benchmark"] is None
    status, text = request(url + f"/{job['id']}/files/equity.csv")
    assert status == 200 and text.startswith("date,equity,cash")
    assert request(url + f"/{job['id']}/files/secrets.toml")[0] == 404
    assert get_json(url + "/nope")[0] == 400


def test_sleeves_start_from_the_first_runs_equity(web_server: WebServer) -> None:
    status, data = get_json(web_server.url + "api/strategies")
    assert status == 200 and not data["empty"]
    assert {s["name"] for s in data["strategies"]} == {"nuclear", "tecl"}
    with Ledger(web_server.home / "ledger.sqlite") as ledger:
        first = ledger.runs(10)[-1]
        before = ledger.snapshot(first.run_id, "before")
    assert before is not None
    assert sum(s["start_value"] for s in data["strategies"]) == pytest.approx(float(before["account"]["equity"]))
    rec = data["reconciliation"]
    assert rec["difference"] == pytest.approx(rec["account_equity"] - rec["sleeves_total"], abs=0.01)  # cents


def _run_now(base: str, route: str = "run") -> dict:
    """Start a run (or a liquidation) from the API and poll until its process has finished (bounded)."""
    import time

    csrf = {"X-CSRF-Token": csrf_of(base)}
    status, job = post_json(base + f"api/controls/{route}", {"broker": "sim"}, csrf)
    assert status == 202 and job["broker"] == "sim", job
    deadline = time.monotonic() + 120
    state = job
    while state["running"] and time.monotonic() < deadline:
        state = get_json(base + "api/controls")[1]["run"]
    assert state["running"] is False, state
    return state


def test_run_now_starts_a_real_trade_process(tmp_path: Path) -> None:
    server = start_web(tmp_path)
    try:
        state = _run_now(server.url)
        assert state["exit_code"] == 0 and json.loads(state["output"])["status"] == "ok", state
        with Ledger(tmp_path / "ledger.sqlite") as ledger:
            assert len(ledger.runs(100)) == 1
        # a second click the same session meets the CLI's once-per-session rail (no --force from the web)
        state = _run_now(server.url)
        assert json.loads(state["output"])["status"] == "already_ran"
        audit = json.loads(cli(tmp_path, "ledger", "actions", "--json").stdout)  # the ledger, newest first
        assert [(a["action"], a["source"]) for a in audit] == [("run_now", "web"), ("run_now", "web")]
        assert not (tmp_path / "web" / "actions.jsonl").exists()
    finally:
        stop_web(server)
