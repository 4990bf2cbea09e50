"""What every request needs: the home's settings and the paths the CLI uses, resolved once at start-up.

The dashboard must show exactly what the CLI would, so it loads the configuration with the same
`load_settings` and derives the ledger and kill-switch paths the way the runner does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from alchemiser.config import Settings, load_settings
from alchemiser.execution.rails import KILL_SWITCH_ENV


@dataclass(frozen=True)
class WebContext:
    settings: Settings
    config_path: Path | None
    loopback: bool

    @classmethod
    def load(cls, config_path: Path | None, loopback: bool) -> WebContext:
        return cls(load_settings(config_path), config_path, loopback)

    @property
    def home(self) -> Path:
        return self.settings.home.expanduser()

    @property
    def ledger(self) -> Path:
        return self.settings.ledger_file

    @property
    def kill_file(self) -> Path:
        """The file `trade` checks before every order (the configured one, else $ALCHEMISER_HOME/KILL)."""
        return self.settings.rails.kill_switch_file or self.home / "KILL"

    def kill_reason(self) -> str | None:
        """Why trading is halted, mirroring `Rails.killed()`, or None when it is not."""
        if os.environ.get(KILL_SWITCH_ENV, "").strip() not in ("", "0", "false", "no"):
            return f"kill switch: {KILL_SWITCH_ENV} is set"
        if self.kill_file.exists():
            return f"kill switch: {self.kill_file} exists"
        return None

    @property
    def actions_log(self) -> Path:
        return self.home / "web" / "actions.jsonl"
