"""Shared fixtures, and a hermetic environment for every test.

The suite must pass whatever the caller's shell holds: a user who has `ALCHEMISER_HOME` or Alpaca keys
exported for their own account must still get a green `make test`, and no test may ever touch their
real home or keys. So every `ALCHEMISER_*`, `ALPACA_*` and `APCA_*` variable is removed before any test
module is imported (subprocesses inherit the cleaned environment), and `ALCHEMISER_HOME` points at a
throw-away folder for the whole session. Test knobs that are ours (`ALCHEMISER_FUZZ_SCALE`) survive.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile

import pytest

from alchemiser.data.sample import SampleMarket

HOSTILE_PREFIXES = ("ALCHEMISER_", "ALPACA_", "APCA_")
TEST_KNOBS = frozenset({"ALCHEMISER_FUZZ_SCALE"})
SAMPLE_END = dt.date(2025, 6, 30)


def scrub_environment(environ: dict[str, str] | os._Environ[str]) -> None:
    """Drop every variable that could point the bot at a real home, account or setting."""
    for name in [n for n in environ if n.startswith(HOSTILE_PREFIXES) and n not in TEST_KNOBS]:
        del environ[name]


def pytest_configure(config: pytest.Config) -> None:
    scrub_environment(os.environ)
    os.environ["ALCHEMISER_HOME"] = tempfile.mkdtemp(prefix="alchemiser-test-home-")


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(os.environ.get("ALCHEMISER_HOME", ""), ignore_errors=True)


@pytest.fixture(scope="session")
def market() -> SampleMarket:
    """The synthetic sample market, ending on a fixed date so results never depend on today."""
    return SampleMarket(end=SAMPLE_END)
