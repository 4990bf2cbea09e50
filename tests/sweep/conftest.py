"""Small sweep specs over the sample market, written next to a copy of the TECL symphony."""

from __future__ import annotations

from pathlib import Path

import pytest

from alchemiser.strategies.registry import builtin_path


def write_spec(folder: Path, body: str, *, start: str = "2016-01-04", end: str = "2017-12-29", name: str = "t") -> Path:
    """A spec varying TECL's TQQQ RSI window and threshold plus `body`, over [start, end]."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tecl.clj").write_text(builtin_path("tecl").read_text(encoding="utf-8"), encoding="utf-8")
    spec = folder / f"{name}.toml"
    spec.write_text(
        f'[sweep]\nname = "{name}"\nstart = {start}\nend = {end}\n\n[[strategies]]\nsource = "tecl.clj"\n\n'
        '[[vary]]\nname = "window"\nparam = "rsi_tqqq_window"\nvalues = [8, 10]\n\n'
        '[[vary]]\nname = "overbought"\nparam = "rsi_tqqq_gt"\nvalues = [75, 79]\n\n' + body,
        encoding="utf-8",
    )
    return spec


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh, not yet created home, as for a new user."""
    return tmp_path / "home"


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    """Eight variants: two windows × two thresholds × daily or weekly rebalancing, two years."""
    return write_spec(tmp_path / "specs", '[[vary]]\nsetting = "rebalance"\nvalues = ["daily", "weekly"]\n')
