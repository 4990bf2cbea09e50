"""Logging: structured JSON lines to a rotating file under ALCHEMISER_HOME/logs, human output on the console.

Anything that looks like a configured API key or secret is replaced with *** before it is written
anywhere, whatever logged it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import logging.handlers
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler

SECRET_ENV_VARS = ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
_extra_secrets: set[str] = set()


class JsonFileHandler(logging.handlers.RotatingFileHandler):
    """The rotating JSON-lines log file (its own class so a second `setup_logging` can find and replace it)."""


def register_secret(value: str) -> None:
    """Make `value` (a key loaded from a secrets file, say) redacted from every log line."""
    if value and len(value) >= 4:
        _extra_secrets.add(value)


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-empty value of `secrets` replaced by "***" (the one redaction routine)."""
    for value in secrets:
        if value:
            text = text.replace(value, "***")
    return text


def redact(text: str) -> str:
    """`text` without the API keys of the environment or registered with `register_secret`."""
    values = {os.environ.get(name, "") for name in SECRET_ENV_VARS} | _extra_secrets
    return mask(text, (v for v in values if len(v) >= 4))


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any `extra=` fields."""

    _standard = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._standard and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return redact(json.dumps(payload, default=str))


WARNINGS_LOGGER = "py.warnings"


def route_warnings() -> None:
    """Send Python warnings (numpy's RuntimeWarning, pandas', deprecations) to the log file, never the console.

    A library warning is noise to a user reading a trading report, and a leaked one looks like a crash. Until
    `setup_logging` knows where the log file is, captured warnings are dropped rather than printed by
    logging's last-resort handler.
    """
    logging.captureWarnings(True)
    logger = logging.getLogger(WARNINGS_LOGGER)
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


def _console_handler(level: int) -> logging.Handler:
    """Rich columns on a terminal; one unwrapped `LEVEL message` line per record when stderr is piped.

    Rich wraps to 80 columns when it cannot see a terminal, which splits a log line over several lines of
    a cron mail or a `2>file` capture and breaks grep; piped output is for machines, so keep it whole.
    """
    if sys.stderr.isatty():
        return RichHandler(level=level, console=Console(stderr=True), show_path=False, rich_tracebacks=False)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    return handler


def setup_logging(home: Path, verbosity: int = 0) -> Path:
    """Console at WARNING (-v INFO, -vv DEBUG, -q ERROR); the JSON file always at INFO (DEBUG with -vv)."""
    root = logging.getLogger("alchemiser")
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    root.propagate = False
    console_level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        max(-1, min(verbosity, 2)), logging.DEBUG
    )
    # stderr: log lines must never mix into stdout, which `--json` keeps machine-readable
    console = _console_handler(console_level)
    console.addFilter(RedactingFilter())
    root.addHandler(console)
    folder = home / "logs"
    path = folder / "alchemiser.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = JsonFileHandler(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8")
    except OSError:
        return path  # a read-only home must not stop the bot; the console still shows everything
    handler.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    warnings_logger = logging.getLogger(WARNINGS_LOGGER)
    warnings_logger.handlers = [h for h in warnings_logger.handlers if not isinstance(h, JsonFileHandler)]
    warnings_logger.addHandler(handler)
    return path
