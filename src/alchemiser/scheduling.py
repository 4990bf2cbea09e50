"""Daily runs on the market calendar: N minutes before each XNYS session's close, early closes included.

`run-daily` uses APScheduler with a trigger that asks the exchange calendar for the next fire time, so
holidays are skipped and early closes (13:00 ET) move the run forward by themselves. The job never runs
twice in a session (the ledger says whether it already ran) and survives a failed run: it reports and
waits for the next session. For cron or systemd users, `schedule --print` writes the equivalent entries;
they call `trade --when-due`, which only trades inside the same window.
"""

from __future__ import annotations

import datetime as dt
import logging
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger

from alchemiser import market_calendar
from alchemiser.config import ScheduleConfig as ScheduleConfig  # re-exported: it was defined here
from alchemiser.errors import AlchemiserError

log = logging.getLogger(__name__)
NY = market_calendar.NY
SCAN_DAYS = 15  # the longest run of non-sessions is far shorter


def fire_time(day: dt.date, minutes_before_close: int) -> dt.datetime:
    return market_calendar.session_close(day) - dt.timedelta(minutes=minutes_before_close)


def next_fire_time(after: dt.datetime, minutes_before_close: int) -> dt.datetime:
    """The first session's run time at or after `after` (an aware datetime)."""
    day = after.astimezone(NY).date()
    for _ in range(SCAN_DAYS):
        if market_calendar.is_session(day):
            when = fire_time(day, minutes_before_close)
            if when >= after:
                return when
        day += dt.timedelta(days=1)
    raise RuntimeError(f"no session within {SCAN_DAYS} days after {after}")  # pragma: no cover


class SessionCloseTrigger(BaseTrigger):  # type: ignore[misc]
    """APScheduler trigger: once per session, `minutes_before_close` before the close."""

    def __init__(self, minutes_before_close: int = 10) -> None:
        self.minutes_before_close = minutes_before_close

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime:
        after = now if previous_fire_time is None else max(now, previous_fire_time + dt.timedelta(seconds=1))
        return next_fire_time(after, self.minutes_before_close)

    def __str__(self) -> str:
        return f"{self.minutes_before_close} min before each XNYS close"


def due_session(now: dt.datetime, config: ScheduleConfig) -> dt.date | None:
    """Today's session when `now` is inside its run window [fire time, fire time + grace), else None."""
    day = now.astimezone(NY).date()
    if not market_calendar.is_session(day):
        return None
    start = fire_time(day, config.minutes_before_close)
    return day if start <= now < start + dt.timedelta(minutes=config.grace_minutes) else None


def resilient(job: Callable[[], Any]) -> Callable[[], None]:
    """A failed run is logged (and was already notified by the runner); the scheduler waits for the next
    session instead of dying with it."""

    def run() -> None:
        try:
            job()
        except AlchemiserError as exc:  # a problem we explain ourselves: its message, no traceback
            log.error("the scheduled run failed: %s; waiting for the next session", exc)
        except Exception:
            log.exception("the scheduled run failed; waiting for the next session")

    return run


def make_scheduler(job: Callable[[], Any], config: ScheduleConfig) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone=NY)
    scheduler.add_job(
        resilient(job),
        trigger=SessionCloseTrigger(config.minutes_before_close),
        id="daily-trade",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=config.grace_minutes * 60,
    )
    return scheduler


def _executable() -> list[str]:
    """This installation's `alchemiser` (next to the running interpreter), never whichever is first on PATH."""
    script = Path(sys.executable).parent / "alchemiser"
    return [str(script)] if script.exists() else [sys.executable, "-m", "alchemiser.cli"]


def job_command(home: Path, config_file: Path | None) -> tuple[dict[str, str], list[str]]:
    """(environment, argv) of the scheduled run: the same home and config file as the command that printed
    it, as absolute paths, because cron and systemd start with neither our environment nor our folder."""
    argv = _executable()
    if config_file is not None:
        argv += ["--config", str(config_file.expanduser().absolute())]
    return {"ALCHEMISER_HOME": str(home.expanduser().absolute())}, [*argv, "trade", "--when-due", "-q"]


def _fire_times(config: ScheduleConfig) -> tuple[dt.datetime, dt.datetime]:
    """(early close, normal close) run times in New York: 2025-11-28 closed at 13:00, 2025-11-26 at 16:00."""
    early = fire_time(dt.date(2025, 11, 28), config.minutes_before_close).astimezone(NY)
    normal = fire_time(dt.date(2025, 11, 26), config.minutes_before_close).astimezone(NY)
    return early, normal


def cron_entry(config: ScheduleConfig, home: Path, config_file: Path | None) -> str:
    """Cron cannot follow the exchange calendar, so it wakes at both possible times (normal and early close)
    and `trade --when-due` trades only inside the real window."""
    early, normal = _fire_times(config)
    env, argv = job_command(home, config_file)
    assignments = [f"{name}={shlex.quote(value)}" for name, value in env.items()]
    command = " ".join([*assignments, *(shlex.quote(a) for a in argv)]).replace("%", "\\%")  # % ends a cron command
    return (
        "# The Alchemiser: one trading run per NYSE session, "
        f"{config.minutes_before_close} minutes before the close (early closes and holidays handled by --when-due)\n"
        "CRON_TZ=America/New_York\n"
        f"{early.minute} {early.hour} * * 1-5 {command}\n"
        f"{normal.minute} {normal.hour} * * 1-5 {command}\n"
    )


def _systemd_quote(value: str) -> str:
    """systemd splits ExecStart= and Environment= on whitespace unless quoted; it understands C escapes."""
    if value and not any(c in value for c in ' \t"\\\'$%;'):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    return f'"{escaped}"'


def systemd_units(config: ScheduleConfig, home: Path, config_file: Path | None) -> str:
    early, normal = _fire_times(config)
    env, argv = job_command(home, config_file)
    environment = " ".join(_systemd_quote(f"{name}={value}") for name, value in env.items())
    return f"""# ~/.config/systemd/user/alchemiser.service
[Unit]
Description=The Alchemiser trading run (trades only inside the window before an NYSE close)

[Service]
Type=oneshot
Environment={environment}
ExecStart={" ".join(_systemd_quote(a) for a in argv)}

# ~/.config/systemd/user/alchemiser.timer
[Unit]
Description=Wake The Alchemiser before each possible NYSE close

[Timer]
OnCalendar=Mon..Fri {early:%H:%M} America/New_York
OnCalendar=Mon..Fri {normal:%H:%M} America/New_York
Persistent=false

[Install]
WantedBy=timers.target

# enable with: systemctl --user daemon-reload && systemctl --user enable --now alchemiser.timer
"""
