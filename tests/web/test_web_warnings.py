"""The overview's warnings and next run: kill switch (file and environment), an undelivered notification
(from a real `trade`), and the next scheduled run on the XNYS calendar, early closes included."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from alchemiser.market_calendar import NY
from alchemiser.web.context import WebContext
from alchemiser.web.queries import next_run, overview
from tests.web.conftest import cli


def _ctx(home: Path, monkeypatch: pytest.MonkeyPatch) -> WebContext:
    monkeypatch.setenv("ALCHEMISER_HOME", str(home))
    return WebContext.load(None, True)


def test_kill_switch_file_and_environment_are_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = _ctx(tmp_path, monkeypatch)
    assert not any("kill switch" in w for w in overview(ctx)["warnings"])
    (tmp_path / "KILL").write_text("")
    o = overview(ctx)
    assert o["kill_switch"] == f"kill switch: {tmp_path / 'KILL'} exists"
    assert f"kill switch: {tmp_path / 'KILL'} exists: trading is halted" in o["warnings"]
    (tmp_path / "KILL").unlink()
    monkeypatch.setenv("ALCHEMISER_KILL_SWITCH", "1")
    ctx = WebContext.load(None, True)
    assert any("ALCHEMISER_KILL_SWITCH is set" in w for w in overview(ctx)["warnings"])


def test_an_undelivered_notification_is_one_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text('[notify]\nurls = ["json://127.0.0.1:9/nowhere"]\n')
    cli(tmp_path, "trade", "--json")
    found = [w for w in overview(_ctx(tmp_path, monkeypatch))["warnings"] if "notification" in w]
    assert found == ["the notification could not be delivered to (some of) the 1 [notify] url(s); see the log"]


@pytest.mark.parametrize(
    ("now", "minutes", "expected"),
    [
        (dt.datetime(2026, 11, 25, 9, 0, tzinfo=NY), 10, dt.datetime(2026, 11, 25, 15, 50, tzinfo=NY)),
        (dt.datetime(2026, 11, 25, 15, 51, tzinfo=NY), 10, dt.datetime(2026, 11, 27, 12, 50, tzinfo=NY)),  # Thanks-
        (dt.datetime(2026, 11, 27, 12, 55, tzinfo=NY), 10, dt.datetime(2026, 11, 30, 15, 50, tzinfo=NY)),  # giving
        (dt.datetime(2026, 12, 24, 9, 0, tzinfo=NY), 30, dt.datetime(2026, 12, 24, 12, 30, tzinfo=NY)),  # early close
    ],
)
def test_next_run_follows_the_calendar_and_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: dt.datetime, minutes: int, expected: dt.datetime
) -> None:
    (tmp_path / "config.toml").write_text(f"[schedule]\nminutes_before_close = {minutes}\n")
    assert next_run(_ctx(tmp_path, monkeypatch), now) == expected.isoformat()
