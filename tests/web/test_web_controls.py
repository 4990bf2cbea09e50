"""The dashboard's controls API — pause/resume and liquidate — against `alchemiser web` as a real process on a
home of real `trade` runs: bad bodies refused by name, every action in the ledger, live refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.web.conftest import WebServer, cli, start_web, stop_web
from tests.web.http import csrf_of, get_json, post_json, request
from tests.web.test_web_api import _run_now


def test_pause_and_resume_a_strategy(web_server: WebServer) -> None:
    base, url = web_server.url, web_server.url + "api/controls/pause"
    status, body = post_json(url, {"strategy": "nuclear", "paused": True})
    assert status == 403 and "X-CSRF-Token" in body["error"]
    csrf = {"X-CSRF-Token": csrf_of(base)}
    for payload, raw, field in (
        ({}, None, "strategy"),
        ({"strategy": "nuclear"}, None, "paused"),
        ({"strategy": 1, "paused": True}, None, "strategy"),
        ({"strategy": "nuclear", "paused": "yes"}, None, "paused"),
        ({"strategy": "nuclear", "paused": 1}, None, "paused"),
        ({"strategy": "", "paused": True}, None, "strategy"),
        ({"strategy": "no-such", "paused": True}, None, "no-such"),
        ({"strategy": "nuclear", "paused": True, "x": 1}, None, "x"),
        (None, b"[]", "body"),
        (None, b'{"strategy": "nuclear", "paused": NaN}', "body"),
    ):
        status, body = post_json(url, payload, csrf, raw=raw)
        assert status == 400 and field in body["error"], (payload, raw, body)
    assert get_json(base + "api/controls")[1]["actions"] == []  # refused requests change and record nothing

    status, body = post_json(url, {"strategy": "nuclear", "paused": True}, csrf)
    assert status == 200 and body["paused"] is True and body["changed"] is True, body
    controls = get_json(base + "api/controls")[1]
    assert {s["name"]: s["paused_since"] for s in controls["strategies"]} == {
        "nuclear": body["paused_since"],
        "tecl": None,
    }
    action = controls["actions"][0]
    assert (action["action"], action["source"], action["detail"]) == ("pause", "web", {"strategy": "nuclear"})
    status, page = request(base)
    assert status == 200 and "paused since" in page and 'id="resume-nuclear"' in page and 'id="pause-tecl"' in page

    signal = json.loads(cli(web_server.home, "signal", "--json").stdout)  # the CLI sees the dashboard's pause
    assert [s["paused_since"] for s in signal["strategies"]] == [body["paused_since"], None]

    status, body = post_json(url, {"strategy": "nuclear", "paused": False}, csrf)
    assert status == 200 and body["paused"] is False and body["changed"] is True
    assert all(s["paused_since"] is None for s in get_json(base + "api/controls")[1]["strategies"])
    actions = json.loads(cli(web_server.home, "ledger", "actions", "--json").stdout)
    assert [(a["action"], a["source"]) for a in actions] == [("resume", "web"), ("pause", "web")]


def test_liquidate_from_the_dashboard_sim_only(web_server: WebServer) -> None:
    base, url = web_server.url, web_server.url + "api/controls/liquidate"
    csrf = {"X-CSRF-Token": csrf_of(base)}
    for payload, field in (({}, "broker"), ({"broker": 1}, "broker"), ({"broker": "sim", "x": True}, "x")):
        status, body = post_json(url, payload, csrf)
        assert status == 400 and field in body["error"], (payload, body)
    for broker in ("live", "alpaca", ""):
        status, body = post_json(url, {"broker": broker}, csrf)
        assert status == 400 and "command line" in body["error"] and "--live" in body["error"], body
    held = json.loads(cli(web_server.home, "status", "--json").stdout)["positions"]
    assert held

    state = _run_now(base, "liquidate")
    assert state["kind"] == "liquidate" and state["exit_code"] == 0, state
    result = json.loads(state["output"])
    assert result["status"] == "ok" and {o["symbol"] for o in result["orders"]} == {p["symbol"] for p in held}
    assert json.loads(cli(web_server.home, "status", "--json").stdout)["positions"] == []
    assert not (web_server.home / "KILL").exists()  # the kill switch is left as it was: off
    runs = json.loads(cli(web_server.home, "ledger", "runs", "--json").stdout)
    assert runs[0]["run_id"] == result["run_id"] and runs[0]["status"] == "ok"
    actions = get_json(base + "api/controls")[1]["actions"]
    assert [(a["action"], a["source"]) for a in actions[:2]] == [("liquidate", "web"), ("liquidate_requested", "web")]
    assert actions[0]["outcome"].startswith("ok") and actions[0]["detail"]["run_id"] == result["run_id"]
    status, page = request(base)
    assert "Leaves the kill switch unchanged" in page and "liquidate_requested" in page


def test_old_audit_lines_show_on_the_dashboard_once(tmp_path: Path) -> None:
    (tmp_path / "web").mkdir()
    old = {"at": "2025-06-30T19:00:00+00:00", "action": "kill_switch", "on": True}
    (tmp_path / "web" / "actions.jsonl").write_text(json.dumps(old) + "\n")
    server = start_web(tmp_path)
    try:
        [action] = get_json(server.url + "api/controls")[1]["actions"]
        assert (action["action"], action["source"], action["detail"]["on"]) == ("kill_switch", "web", True)
        assert len(get_json(server.url + "api/controls")[1]["actions"]) == 1
        assert (tmp_path / "web" / "actions.jsonl.imported").exists()
    finally:
        stop_web(server)
