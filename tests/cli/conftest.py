"""Fixtures shared by the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh, not yet created home: the CLI must make it on first use, as for a new user."""
    return tmp_path / "home"
