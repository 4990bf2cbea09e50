"""The dashboard in a real browser (Debian's Chromium via Selenium) against `alchemiser web` as a process.

Every page loads with no console errors, shows the ledger's numbers, draws the decision path the CLI's
`signal --json` reports, and the kill-switch button (with its confirmation) makes a real `trade` refuse.
Screenshots of each page are saved (PNG) under the test's tmp folder, and under
$WEB_SCREENSHOTS_DIR when set (that is how docs/screenshots is refreshed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from alchemiser.ledger import Ledger
from tests.web.conftest import WebServer, cli, console_errors, screenshot

WAIT_S = 30


def _load(browser: Any, url: str, ready: str) -> None:
    browser.get(url)
    WebDriverWait(browser, WAIT_S).until(ec.presence_of_element_located((By.CSS_SELECTOR, ready)))


def test_every_page_loads_without_console_errors(browser: Any, web_server: WebServer, tmp_path: Path) -> None:
    runs = json.loads(cli(web_server.home, "ledger", "runs", "--json").stdout)
    run_id = next(r["run_id"] for r in runs if r["status"] == "ok")
    pages = {
        "overview": ("", "#equity-chart .main-svg"),
        "strategies": ("strategies", "#sleeves tbody tr"),
        "runs": ("runs", "#runs tbody tr"),
        "run": (f"runs/{run_id}", "#orders tbody tr"),
        "decision": ("decision?strategy=nuclear&as_of=2025-06-27", "#tree li.taken"),
        "backtests": ("backtests", "#backtest-form"),
        "not-found": ("runs/nope", "#error-message"),
    }
    console_errors(browser)  # start from a clean log
    for name, (path, ready) in pages.items():
        _load(browser, web_server.url + path, ready)
        errors = [e for e in console_errors(browser) if not (name == "not-found" and "404" in e["message"])]
        assert errors == [], (name, errors)
        screenshot(browser, name, tmp_path)


def test_overview_shows_the_ledgers_numbers(browser: Any, web_server: WebServer) -> None:
    _load(browser, web_server.url, "#positions tbody tr")
    with Ledger(web_server.home / "ledger.sqlite") as ledger:
        latest = ledger.runs(1)[0]
        snap = ledger.snapshot(latest.run_id, "after")
    assert snap is not None
    assert browser.find_element(By.ID, "equity").text == f"${float(snap['account']['equity']):,.2f}"
    assert browser.find_element(By.ID, "cash").text == f"${float(snap['account']['cash']):,.2f}"
    assert browser.find_element(By.ID, "last-run-link").text == latest.run_id
    equity = float(snap["account"]["equity"])
    rows = {r.get_attribute("data-symbol"): r for r in browser.find_elements(By.CSS_SELECTOR, "#positions tbody tr")}
    for p in snap["positions"]:
        shown = rows[p["symbol"]].find_element(By.CSS_SELECTOR, ".weight").text
        assert shown == f"{float(p['market_value']) / equity * 100:.2f}%"


def test_decision_tree_highlights_the_path_signal_reports(browser: Any, web_server: WebServer, tmp_path: Path) -> None:
    day = "2025-06-27"
    signal = json.loads(cli(web_server.home, "signal", "--as-of", day, "--json").stdout)
    for strategy in signal["strategies"]:
        _load(browser, web_server.url + f"decision?strategy={strategy['name']}&as_of={day}", "#tree li.taken")
        steps = [
            e.get_attribute("textContent")
            for e in browser.find_elements(By.CSS_SELECTOR, "#tree li.taken > .row > .step")
        ]
        assert steps == [t["text"] for t in strategy["trace"]], strategy["name"]
        assert browser.find_elements(By.CSS_SELECTOR, "#tree li.untaken")  # untaken branches, collapsed
    search = browser.find_element(By.ID, "tree-search")
    search.send_keys("SPY")
    WebDriverWait(browser, WAIT_S).until(lambda b: "match" in b.find_element(By.ID, "search-result").text)
    assert browser.find_elements(By.CSS_SELECTOR, "#tree li.hit")
    screenshot(browser, "decision-search", tmp_path)
    assert console_errors(browser) == []


def test_kill_switch_button_makes_trade_refuse(browser: Any, web_server: WebServer, tmp_path: Path) -> None:
    _load(browser, web_server.url, "#kill-on")
    browser.find_element(By.ID, "kill-on").click()
    WebDriverWait(browser, WAIT_S).until(ec.alert_is_present()).accept()
    WebDriverWait(browser, WAIT_S).until(ec.presence_of_element_located((By.ID, "kill-off")))
    try:
        assert (web_server.home / "KILL").exists()
        assert "ON" in browser.find_element(By.ID, "kill-state").text
        screenshot(browser, "overview-killed", tmp_path)
        refused = cli(web_server.home, "trade", "--force", "--json", check=False)
        assert refused.returncode == 1 and json.loads(refused.stdout)["status"] == "halted"
        # the refused run is in the ledger: the page learns of it by server-sent event, without reloading
        browser.execute_script("window.notReloaded = true")
        WebDriverWait(browser, WAIT_S).until(lambda b: b.find_element(By.ID, "last-status").text == "halted")
        assert browser.execute_script("return window.notReloaded") is True
    finally:
        browser.find_element(By.ID, "kill-off").click()
        WebDriverWait(browser, WAIT_S).until(ec.alert_is_present()).accept()
        WebDriverWait(browser, WAIT_S).until(ec.presence_of_element_located((By.ID, "kill-on")))
    assert not (web_server.home / "KILL").exists()
    assert console_errors(browser) == []


def test_a_several_thousand_node_tree_stays_interactive(browser: Any, tmp_path: Path) -> None:
    import time

    from tests.web.big_symphony import big_symphony
    from tests.web.conftest import start_web, stop_web

    home = tmp_path / "home"
    home.mkdir()
    (home / "big.clj").write_text(big_symphony(11))
    (home / "config.toml").write_text('[[strategies]]\nname = "big"\nsource = "big.clj"\nweight = 1\n')
    server = start_web(home)
    try:
        _load(browser, server.url + "decision?strategy=big&as_of=2025-06-27", "#tree li.taken.kind-asset")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#tree li.taken")) == 12
        assert len(browser.find_elements(By.CSS_SELECTOR, "#tree li")) < 100  # untaken branches not built yet
        started = time.monotonic()
        browser.find_element(By.ID, "tree-search").send_keys("TECL")
        WebDriverWait(browser, WAIT_S).until(lambda b: "match" in b.find_element(By.ID, "search-result").text)
        assert time.monotonic() - started < 5.0
        assert browser.find_elements(By.CSS_SELECTOR, "#tree li.hit")
        result = browser.find_element(By.ID, "search-result")
        assert "512 match(es), first 200 shown · 1 of 200" in result.text
        browser.find_element(By.ID, "tree-search").send_keys(Keys.ENTER)  # walks to the next hit
        assert "· 2 of 200" in result.text
        assert len(browser.find_elements(By.CSS_SELECTOR, "#tree li.current-hit")) == 1
        screenshot(browser, "decision-large", tmp_path)
        browser.find_element(By.ID, "collapse-untaken").click()  # back to the taken path only
        assert len(browser.find_elements(By.CSS_SELECTOR, "#tree li.taken")) == 12
        assert not browser.find_elements(By.CSS_SELECTOR, "#tree li.hit")
        assert console_errors(browser) == []
    finally:
        stop_web(server)


def test_a_backtest_from_the_form_draws_its_charts(browser: Any, web_server: WebServer, tmp_path: Path) -> None:
    _load(browser, web_server.url + "backtests", "#backtest-form")
    browser.find_element(By.NAME, "start").send_keys("06012024")  # the date input takes the browser's mm/dd/yyyy
    browser.find_element(By.ID, "run-backtest").click()
    WebDriverWait(browser, 120).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#bt-equity .main-svg")))
    assert browser.find_element(By.ID, "backtest-status").text.startswith("done: 2024-06-")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#bt-metrics tbody tr")) == 11
    headers = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#bt-metrics thead th")]
    assert headers == ["metric", "blend", "nuclear", "tecl", "SPY"]
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "a.download")]
    assert {"report.html", "equity.csv", "weights.csv", "trades.csv"} <= set(links)
    screenshot(browser, "backtests", tmp_path)
    assert console_errors(browser) == []


def test_an_empty_home_shows_the_first_run_page(browser: Any, tmp_path: Path) -> None:
    from tests.web.conftest import start_web, stop_web

    home = tmp_path / "home"
    home.mkdir()
    server = start_web(home)
    try:
        console_errors(browser)
        _load(browser, server.url, "#first-run")
        text = browser.find_element(By.ID, "first-run").text
        assert "make run" in text and "alchemiser trade" in text and "no runs yet" in text
        assert console_errors(browser) == []
        screenshot(browser, "first-run", tmp_path)
    finally:
        stop_web(server)
