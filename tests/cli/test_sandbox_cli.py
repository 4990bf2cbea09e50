"""`alchemiser sandbox serve` as a real process, used in the README's order: the bot trades through it, then
the plain alpaca-py example script runs against the same, now fully invested, account."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "cli-key", "cli-secret"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALCHEMISER_", "ALPACA_", "APCA_"))}
    env.update(ALCHEMISER_HOME=str(home), ALPACA_API_KEY=KEY, ALPACA_SECRET_KEY=SECRET, COLUMNS="200")
    return env


@pytest.fixture
def sandbox_serve(tmp_path: Path) -> Iterator[str]:
    """A real `alchemiser sandbox serve --port 0`; yields its URL once it says where it listens."""
    server = subprocess.Popen(
        [sys.executable, "-m", "alchemiser.cli", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path),
    )
    try:
        assert server.stdout is not None
        url = None
        for line in server.stdout:  # blocks until the server prints its address
            match = re.search(r"Alpaca sandbox on (http://127\.0\.0\.1:\d+)", line)
            if match:
                url = match.group(1)
                break
        assert url, "the server never said where it listens"
        yield url
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=20) == 0


def _positions(url: str) -> list[tuple[str, str]]:
    answer = requests.get(
        f"{url}/v2/positions", headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}, timeout=10
    )
    answer.raise_for_status()
    rows: list[dict[str, Any]] = answer.json()
    return sorted((p["symbol"], p["qty"]) for p in rows)


def _run_example(url: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "sandbox_client.py")],
        capture_output=True, text=True, timeout=90, check=False, env={**_env(home), "SANDBOX_URL": url},
    )


def _assert_full_tour(out: str) -> None:
    assert "placed resting limit" in out and "[list]" in out and "old order now: replaced" in out
    assert re.search(r"\[stream\] canceled .*-replacement", out)
    assert re.search(r"placed market order \S+ for \$\d+\.\d\d of SPY", out)
    assert re.search(r"\[stream\] fill\s+buy .*-market\)", out) and re.search(r"\[stream\] fill\s+sell ", out)


def test_plain_alpaca_py_script_against_a_fresh_sandbox(sandbox_serve: str, tmp_path: Path) -> None:
    client = _run_example(sandbox_serve, tmp_path)
    assert client.returncode == 0, client.stderr
    _assert_full_tour(client.stdout)
    assert _positions(sandbox_serve) == []  # it sold back what it bought


def test_example_runs_right_after_the_bot_traded_in_readme_order(sandbox_serve: str, tmp_path: Path) -> None:
    """README: `sandbox serve`, `trade --broker alpaca`, then the example — which used to fail with
    'insufficient buying power' because the bot leaves only its small cash buffer uninvested."""
    env = {**_env(tmp_path), "ALPACA_BASE_URL": sandbox_serve, "ALPACA_DATA_URL": sandbox_serve}
    trade = subprocess.run(
        [sys.executable, "-m", "alchemiser.cli", "trade", "--broker", "alpaca", "--json"],
        capture_output=True, text=True, timeout=180, check=False, env=env,
    )
    assert trade.returncode == 0, trade.stdout + trade.stderr
    assert json.loads(trade.stdout)["status"] == "ok"
    invested = _positions(sandbox_serve)
    account = requests.get(
        f"{sandbox_serve}/v2/account", headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}, timeout=10
    ).json()
    assert invested and float(account["buying_power"]) < 0.01 * float(account["equity"])  # almost all invested

    client = _run_example(sandbox_serve, tmp_path)
    assert client.returncode == 0, client.stdout + client.stderr
    assert "insufficient buying power" not in client.stdout + client.stderr
    _assert_full_tour(client.stdout)
    assert _positions(sandbox_serve) == invested  # the bot's holdings are exactly as the bot left them
