"""The suite passes whatever the caller's shell exports (a user's own home, keys or settings)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

POLLUTION = {
    "ALCHEMISER_HOME": "/nonexistent/alchemiser-home",
    "ALCHEMISER_STRATEGIES": "not json",
    "ALCHEMISER_BROKER": "alpaca",
    "ALCHEMISER_DATA__SAMPLE_FALLBACK": "false",
    "ALCHEMISER_KILL_SWITCH": "1",
    "ALPACA_API_KEY": "junk-key",
    "ALPACA_SECRET_KEY": "junk-secret",
    "ALPACA_BASE_URL": "http://192.0.2.1:9",
    "APCA_API_KEY_ID": "junk",
    "APCA_API_SECRET_KEY": "junk",
}


def test_environment_is_scrubbed_for_this_session() -> None:
    leaked = [n for n in os.environ if n.startswith(("ALPACA_", "APCA_"))]
    assert leaked == []
    home = Path(os.environ["ALCHEMISER_HOME"])
    assert home.is_dir() and home != Path.home() / ".alchemiser"


def test_config_tests_pass_in_a_polluted_shell(tmp_path: Path) -> None:
    env = {**os.environ, **POLLUTION}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/strategies/test_config_and_strategies.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " passed" in done.stdout
