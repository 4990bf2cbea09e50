"""Backtest jobs survive the dashboard being killed: `alchemiser web` is SIGKILLed mid-job and started again."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from tests.web.conftest import WebServer, start_web, stop_web
from tests.web.http import csrf_of, get_json, post_json, request

WAIT_S = 180.0
SHORT = {"strategies": ["tecl"], "start": "2024-01-02", "benchmark": None}
LONG = {"strategies": ["nuclear", "tecl"], "start": "2004-01-02", "benchmark": "SPY"}


def _until(url: str, done: Any) -> dict[str, Any]:
    """Poll the job until `done(job)` (bounded): the server answers every poll, so no sleep is needed."""
    deadline = time.monotonic() + WAIT_S
    while True:
        status, job = get_json(url)
        assert status == 200, job
        if done(job) or time.monotonic() > deadline:
            return dict(job)


def test_jobs_and_outputs_survive_a_killed_server(tmp_path: Path) -> None:
    server = start_web(tmp_path)
    try:
        csrf = {"X-CSRF-Token": csrf_of(server.url)}
        api = server.url + "api/backtests"
        status, short = post_json(api, SHORT, csrf)
        assert status == 202, short
        short = _until(f"{api}/{short['id']}?charts=0", lambda j: j["status"] not in ("queued", "running"))
        assert short["status"] == "done", short
        status, long = post_json(api, LONG, csrf)
        assert status == 202, long
        # freeze the server the moment it has accepted the job: the job has saved itself as queued or running
        # and still has seconds of work ahead (20 years of two strategies, then charts and files), so the
        # kill that follows lands mid-job; the stored state proves it did
        server.process.send_signal(signal.SIGSTOP)
        stored = json.loads((tmp_path / "web" / "backtests" / long["id"] / "job.json").read_text())
        assert stored["status"] in ("queued", "running"), stored
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
    finally:
        stop_web(server)

    again: WebServer = start_web(tmp_path)
    try:
        api = again.url + "api/backtests"
        status, listing = get_json(api)
        assert status == 200
        jobs = {j["id"]: j for j in listing["jobs"]}
        assert [j["id"] for j in listing["jobs"]] == [long["id"], short["id"]]  # newest first
        # the finished job: its results, charts and downloads, as before the kill
        assert jobs[short["id"]]["status"] == "done" and jobs[short["id"]]["result"]["start"] == "2024-01-02"
        status, full = get_json(f"{api}/{short['id']}")
        assert full["charts"]["dates"][0] == "2024-01-02" and "tecl" in full["charts"]["equity"]
        status, csv = request(f"{api}/{short['id']}/files/equity.csv")
        assert status == 200 and csv.startswith("date,equity,cash")
        # the killed job is interrupted, not running forever, and says so
        cut = jobs[long["id"]]
        assert cut["status"] == "interrupted" and "re-run" in cut["error"] and cut["rerunnable"], cut
        assert cut["files"] == [] and cut["request"]["strategies"] == ["nuclear", "tecl"]
        page = request(again.url + "backtests")[1]
        assert f'data-job="{long["id"]}" data-status="interrupted"' in page and "re-run</button>" in page
        assert f'data-job="{short["id"]}" data-status="done"' in page and f"/backtests?job={short['id']}" in page
        assert request(again.url + f"backtests?job={short['id']}")[0] == 200
        assert request(again.url + "backtests?job=nope")[0] == 400
        # re-run the interrupted one: a new job with the same request, which finishes
        csrf = {"X-CSRF-Token": csrf_of(again.url)}
        assert post_json(f"{api}/{long['id']}/rerun", {}, {})[0] == 403  # CSRF still guards it
        assert post_json(f"{api}/nope/rerun", {}, csrf)[0] == 400
        status, rerun = post_json(f"{api}/{long['id']}/rerun", {}, csrf)
        assert status == 202 and rerun["id"] != long["id"] and rerun["request"] == cut["request"]
        rerun = _until(f"{api}/{rerun['id']}?charts=0", lambda j: j["status"] not in ("queued", "running"))
        assert rerun["status"] == "done", rerun
    finally:
        stop_web(again)


def test_a_job_is_interrupted_only_when_its_process_is_gone(tmp_path: Path, monkeypatch: Any) -> None:
    """Loading the kept jobs: our own process id (reused after a restart) or a dead one means the job was
    cut off; a live other process (a second dashboard on the same home) may still be running it."""
    import os

    from alchemiser.web import jobstore
    from alchemiser.web.backtests import Backtests
    from alchemiser.web.context import WebContext

    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    ctx = WebContext.load(None, True)
    root = tmp_path / "web" / "backtests"
    for job_id, pid in (("ours", os.getpid()), ("other", os.getppid()), ("gone", 2**22 + 12345)):
        meta = {"id": job_id, "status": "running", "created": job_id, "pid": pid, "request": SHORT}
        jobstore.write_json(root / job_id / jobstore.JOB_FILE, meta)
    (root / "junk").mkdir()
    (root / "junk" / jobstore.JOB_FILE).write_text("{not json")  # a damaged file is skipped, not fatal
    jobs = Backtests(ctx)
    try:
        assert {j["id"]: j["status"] for j in jobs.listing()} == {
            "ours": "interrupted",
            "other": "running",
            "gone": "interrupted",
        }
        assert jobstore.read_json(root / "gone" / jobstore.JOB_FILE)["status"] == "interrupted"  # saved so
    finally:
        jobs.stop()
