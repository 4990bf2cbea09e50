"""Real parts for the dashboard tests: a home filled by real `alchemiser trade` runs, `alchemiser web` as a
real process, and Debian's Chromium driven by Selenium.

Chromium comes from apt (`chromium`, `chromium-driver`). When it is missing and we are root with apt-get
(CI, developer machines), it is installed once per session; otherwise the browser tests are skipped with
a loud reason. Selenium is pointed at /usr/bin/chromedriver and the chromium binary explicitly, because
selenium-manager's driver downloads cannot work offline.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
START_TIMEOUT_S = 60.0
SCREENSHOTS = Path(os.environ.get("WEB_SCREENSHOTS_DIR", "")) if os.environ.get("WEB_SCREENSHOTS_DIR") else None


def cli(home: Path, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`alchemiser ARGS` as a real process on `home`."""
    env = {**os.environ, "ALCHEMISER_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "alchemiser.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode not in (0,):
        raise AssertionError(
            f"alchemiser {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


@dataclass
class WebServer:
    url: str
    process: subprocess.Popen[str]
    home: Path


def start_web(home: Path, *extra: str) -> WebServer:
    """Start `alchemiser web --port 0` and wait (bounded) for the line announcing its address."""
    env = {**os.environ, "ALCHEMISER_HOME": str(home)}
    process = subprocess.Popen(
        [sys.executable, "-m", "alchemiser.cli", "web", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = process.stdout.readline()
        if not line:
            break
        seen += line
        match = re.search(r"(http://\S+?:\d+/)", line)
        if match:
            return WebServer(match.group(1), process, home)
    stop_web(WebServer("", process, home))
    raise AssertionError(f"alchemiser web did not announce its address within {START_TIMEOUT_S}s:\n{seen}")


def stop_web(server: WebServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    if server.process.stdout is not None:
        server.process.stdout.close()


@pytest.fixture(scope="module")
def traded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with two real simulated runs: one that trades, one that finds nothing to do. One per module,
    because some tests add runs (a refused trade) that would change another module's counts."""
    home = tmp_path_factory.mktemp("web-home")
    first = json.loads(cli(home, "trade", "--json").stdout)
    assert first["status"] == "ok", first
    cli(home, "trade", "--force", "--json")
    return home


@pytest.fixture(scope="module")
def web_server(traded_home: Path) -> Iterator[WebServer]:
    server = start_web(traded_home)
    try:
        yield server
    finally:
        stop_web(server)


def _ensure_chromium() -> str | None:
    """None when Chromium and its driver are usable, else the reason they are not."""
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return (
            f"{CHROMIUM} / {CHROMEDRIVER} missing and not root with apt-get: apt-get install chromium chromium-driver"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium", "chromium-driver"]):
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if result.returncode != 0:
            return f"{' '.join(cmd)} failed: {result.stderr[-500:]}"
    return None if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists() else "apt-get did not provide chromium"


@pytest.fixture(scope="session")
def chromium() -> str:
    reason = _ensure_chromium()
    if reason is not None:
        warnings.warn(f"BROWSER TESTS SKIPPED: {reason}", stacklevel=1)
        pytest.skip(f"BROWSER TESTS SKIPPED: {reason}")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1360,1000",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any) -> list[dict[str, Any]]:
    """Severe entries of the browser log since the last call (Chromium's console, network errors)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot(driver: Any, name: str, tmp_path: Path) -> Path:
    """Save a full-page PNG under tmp (and under $WEB_SCREENSHOTS_DIR when set, for the README)."""
    height = driver.execute_script("return Math.min(document.body.scrollHeight, 3000)")
    driver.set_window_size(1360, max(800, int(height) + 40))
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    if SCREENSHOTS is not None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / f"{name}.png")
    driver.set_window_size(1360, 1000)
    return path
