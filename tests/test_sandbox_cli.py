"""`alchemiser sandbox serve` as a real process, driven by the plain alpaca-py example script."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plain_alpaca_py_script_against_sandbox_serve(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALCHEMISER_", "ALPACA_", "APCA_"))}
    env.update(ALCHEMISER_HOME=str(tmp_path), ALPACA_API_KEY="cli-key", ALPACA_SECRET_KEY="cli-secret", COLUMNS="200")
    server = subprocess.Popen(
        [sys.executable, "-m", "alchemiser.cli", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
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
        client = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "sandbox_client.py")],
            capture_output=True, text=True, timeout=60, check=False, env={**env, "SANDBOX_URL": url},
        )
        assert client.returncode == 0, client.stderr
        out = client.stdout
        assert "placed market order" in out and "placed resting limit" in out
        assert "[list]" in out and "old order now: replaced" in out
        assert re.search(r"\[stream\] fill", out) and re.search(r"\[stream\] canceled", out)
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=20) == 0
