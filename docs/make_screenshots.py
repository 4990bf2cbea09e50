"""Refresh the README's dashboard screenshots (docs/screenshots/*.png) from a home with some history.

The browser tests save screenshots too, but their homes hold one or two runs of today; the README is more
useful with months of sessions. This builds such a home with the runner's own session seam (signals,
plan, orders on the simulated broker, snapshots, ledger) at a session every two weeks since January 2025,
then today's run with `alchemiser trade`, runs one backtest through the dashboard's API, then photographs each page in Debian's Chromium.

    .venv/bin/python docs/make_screenshots.py          # needs /usr/bin/chromium and /usr/bin/chromedriver
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
WIDTH = 1360


def trade_session(day: dt.date) -> None:
    from alchemiser.config import load_settings
    from alchemiser.execution.sim.broker import SimBroker
    from alchemiser.ledger import Ledger
    from alchemiser.market_calendar import NY
    from alchemiser.runner import Decided, ledger_path, run_session
    from alchemiser.signals import build_market, compute_signals

    settings = load_settings()
    market = build_market(settings)
    report = compute_signals(settings, as_of=day, market=market)
    now = dt.datetime.combine(day, dt.time(15, 50), NY)
    broker = SimBroker(market, settings.home / "sim.sqlite", settings.sim, as_of=report.as_of)
    ticks = iter(range(10**6))  # the ledger's times are that afternoon's, a millisecond apart, in order

    def clock() -> dt.datetime:
        return now.astimezone(dt.UTC) + dt.timedelta(milliseconds=next(ticks))

    try:
        with Ledger(ledger_path(settings), clock=clock) as ledger:
            run_session(broker, ledger, lambda _: None, settings, now, Decided(market, report), mode="sim")
    finally:
        broker.close()


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
    from tests.web.conftest import cli, start_web, stop_web
    from tests.web.http import csrf_of, get_json, post_json

    from alchemiser import market_calendar

    home = Path(tempfile.mkdtemp(prefix="alchemiser-screenshots-"))
    os.environ["ALCHEMISER_HOME"] = str(home)
    sessions = [d.date() for d in market_calendar.sessions(dt.date(2025, 1, 2), dt.date(2026, 11, 25))][::10]
    for day in sessions:
        trade_session(day)
    cli(home, "trade")  # and today's run, as `make run` does it: the run page shows a real run's own times
    print(f"{len(sessions)} past sessions and today's traded in {home}")
    server = start_web(home)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        csrf = {"X-CSRF-Token": csrf_of(server.url)}
        body = {"strategies": ["nuclear", "tecl"], "weights": [0.4, 0.6], "start": "2012-01-03", "slippage_bps": 5}
        _, job = post_json(server.url + "api/backtests", body, csrf)
        while job["status"] in ("queued", "running"):
            time.sleep(0.5)  # a script, not a test: polling a progress bar
            _, job = get_json(server.url + f"api/backtests/{job['id']}?charts=0")
        runs = json.loads(urllib.request.urlopen(server.url + "api/runs?status=ok&limit=1").read())["runs"]
        run_id = runs[0]["run_id"]
        pages = {
            "overview": ("", "#equity-chart .main-svg"),
            "strategies": ("strategies", "#sleeve-chart .main-svg"),
            "runs": ("runs", "#runs tbody tr"),
            "run": (f"runs/{run_id}", "#orders tbody tr"),
            "decision": (f"decision?strategy=nuclear&run_id={run_id}", "#tree li.taken"),
            "backtests": (f"backtests?job={job['id']}", "#bt-equity .main-svg"),
        }
        for name, (path, ready) in pages.items():
            driver.set_window_size(WIDTH, 900)
            driver.get(server.url + path)
            WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, ready)))
            time.sleep(0.5)  # the charts settle their height before the page is measured
            height = driver.execute_script("return Math.min(document.body.scrollHeight, 2600)")
            driver.set_window_size(WIDTH, max(700, int(height) + 40))
            time.sleep(0.5)  # let Plotly finish its resize before the picture
            driver.save_screenshot(str(OUT / f"{name}.png"))
            print(f"{name}.png")
    finally:
        driver.quit()
        stop_web(server)


if __name__ == "__main__":
    main()
