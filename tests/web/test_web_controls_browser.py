"""The controls in a real browser (Debian's Chromium via Selenium): pause a strategy from the overview — with
its confirmation — and see the overview say it is paused, the CLI see it too, and the action listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.web.conftest import WebServer, cli, console_errors, screenshot

WAIT_S = 30


def _confirm(browser: Any, button_id: str) -> str:
    browser.find_element(By.ID, button_id).click()
    alert = WebDriverWait(browser, WAIT_S).until(ec.alert_is_present())
    text = str(alert.text)
    alert.accept()
    return text


def test_pause_a_strategy_in_the_page(browser: Any, web_server: WebServer, tmp_path: Path) -> None:
    browser.get(web_server.url)
    WebDriverWait(browser, WAIT_S).until(ec.presence_of_element_located((By.ID, "pause-nuclear")))
    assert "hold its sleeve as it is" in _confirm(browser, "pause-nuclear")
    WebDriverWait(browser, WAIT_S).until(ec.presence_of_element_located((By.ID, "resume-nuclear")))
    row = browser.find_element(By.CSS_SELECTOR, '#strategy-controls tr[data-strategy="nuclear"]').text
    assert "paused since" in row
    assert "active" in browser.find_element(By.CSS_SELECTOR, '#strategy-controls tr[data-strategy="tecl"]').text
    actions = browser.find_element(By.ID, "actions").text
    assert "pause" in actions and "strategy=nuclear" in actions
    listing = json.loads(cli(web_server.home, "strategy", "list", "--json").stdout)
    assert [r["paused_since"] is not None for r in listing] == [True, False]
    screenshot(browser, "overview-paused", tmp_path)

    browser.refresh()  # the state is the ledger's, not the page's: it survives a reload
    WebDriverWait(browser, WAIT_S).until(ec.presence_of_element_located((By.ID, "resume-nuclear")))
    assert "decides it again" in _confirm(browser, "resume-nuclear")
    WebDriverWait(browser, WAIT_S).until(ec.presence_of_element_located((By.ID, "pause-nuclear")))
    assert json.loads(cli(web_server.home, "strategy", "list", "--json").stdout)[0]["paused_since"] is None

    # a liquidation's confirmation says the kill switch is left alone; dismissing it does nothing
    browser.find_element(By.ID, "liquidate-sim").click()
    alert = WebDriverWait(browser, WAIT_S).until(ec.alert_is_present())
    assert "kill switch is left as it is" in alert.text
    alert.dismiss()
    assert json.loads(cli(web_server.home, "status", "--json").stdout)["positions"]
    assert console_errors(browser) == []
