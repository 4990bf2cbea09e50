"""The dashboard's Sweeps page over HTTP and in a real browser, on a home with a real walk-forward sweep."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.sweep.wf_spec import write_spec
from tests.web.conftest import WebServer, cli, console_errors, screenshot, start_web, stop_web
from tests.web.http import get_json, request

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def swept_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("web-sweeps")
    home = folder / "home"
    spec = write_spec(folder)
    out = json.loads(cli(home, "sweep", str(spec), "--workers", "2", "--report", str(folder / "r"), "--json").stdout)
    (home / "sweeps" / "empty-run").mkdir()  # an interrupted sweep before any result: listed, not an error
    return home, out["run"]


@pytest.fixture(scope="module")
def server(swept_home: tuple[Path, str]) -> Iterator[WebServer]:
    web = start_web(swept_home[0])
    try:
        yield web
    finally:
        stop_web(web)


def test_api_lists_runs_with_trials_and_dsr(server: WebServer, swept_home: tuple[Path, str]) -> None:
    _, run = swept_home
    status, data = get_json(server.url + "api/sweeps")
    assert status == 200
    by_run = {s["run"]: s for s in data["sweeps"]}
    assert set(by_run) == {run, "empty-run"}
    entry = by_run[run]
    assert entry["rows"] == 34 and entry["trials"] == 6 and entry["walk_forward"] and entry["report"]
    assert 0 <= entry["dsr"] <= 1 and entry["best_sharpe"] > 0
    assert by_run["empty-run"]["rows"] == 0 and by_run["empty-run"]["dsr"] is None


def test_api_run_detail_matches_the_run_folder(server: WebServer, swept_home: tuple[Path, str]) -> None:
    home, run = swept_home
    status, data = get_json(server.url + f"api/sweeps/{run}")
    assert status == 200
    summary = json.loads((home / "sweeps" / run / "report" / "summary.json").read_text())
    assert data["summary"] == summary
    table = data["table"]
    assert table["columns"][:2] == ["id", "p.share.tecl"] and "sharpe" in table["columns"]
    sharpes = [r[table["columns"].index("sharpe")] for r in table["rows"]]
    assert len(sharpes) == 6 and sharpes == sorted(sharpes, reverse=True)
    assert data["curve"]["dates"][0] == "2021-01-04" and data["curve"]["dates"][-1] == "2024-12-31"
    assert len(data["folds"]["rows"]) == 4
    assert {"heatmap.png", "curve.png", "stability.png", "report.html"} <= set(data["files"])


def test_report_files_are_served_and_nothing_else(server: WebServer, swept_home: tuple[Path, str]) -> None:
    _, run = swept_home
    with urllib.request.urlopen(server.url + f"api/sweeps/{run}/files/heatmap.png", timeout=30) as response:
        assert response.status == 200 and response.read().startswith(PNG)
    for path in (
        f"api/sweeps/{run}/files/journal.sqlite",
        f"api/sweeps/{run}/files/..%2Frun.json",
        "api/sweeps/..%2F..%2Fledger.sqlite",
        "api/sweeps/nope",
        "api/sweeps/nope/files/heatmap.png",
    ):
        status, body = request(server.url + path)
        assert status == 404, (path, status, body)
        if path.startswith("api/sweeps/nope") and not path.endswith(".png"):
            assert "no run 'nope'" in json.loads(body)["error"]
    status, body = get_json(server.url + "api/sweeps?x=1")
    assert status == 400 and "unknown query parameter" in body["error"]


def test_pages_render_the_list_and_a_run(server: WebServer, swept_home: tuple[Path, str]) -> None:
    _, run = swept_home
    status, page = request(server.url + "sweeps")
    assert status == 200 and f'href="/sweeps/{run}"' in page and 'class="on">Sweeps' in page
    status, page = request(server.url + f"sweeps/{run}")
    assert status == 200 and "deflated Sharpe ratio" in page and 'id="sweep-curve"' in page
    status, page = request(server.url + "sweeps/nope")
    assert status == 404 and "no run" in page


def test_sweep_pages_in_a_browser_without_console_errors(
    browser: Any, server: WebServer, swept_home: tuple[Path, str], tmp_path: Path
) -> None:
    _, run = swept_home
    console_errors(browser)
    browser.get(server.url + "sweeps")
    WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#sweeps tbody tr")))
    assert console_errors(browser) == []
    screenshot(browser, "sweeps", tmp_path)
    browser.get(server.url + f"sweeps/{run}")
    WebDriverWait(browser, 30).until(ec.presence_of_element_located((By.CSS_SELECTOR, "#sweep-curve .main-svg")))
    images = browser.find_elements(By.CSS_SELECTOR, "img.sweep-image")
    assert len(images) == 2  # heat map and stability; the curve is the interactive chart above
    assert all(browser.execute_script("return arguments[0].naturalWidth", img) > 0 for img in images)
    assert browser.find_element(By.ID, "dsr").text.endswith("%")
    assert console_errors(browser) == []
    screenshot(browser, "sweep", tmp_path)
