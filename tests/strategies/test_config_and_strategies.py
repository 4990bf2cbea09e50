"""Configuration validation, Python strategies, and fail-closed signals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from alchemiser.config import load_settings
from alchemiser.data.sample import SampleMarket
from alchemiser.errors import ConfigError, StrategyError
from alchemiser.portfolio.blend import blend
from alchemiser.signals import compute_signals
from alchemiser.strategies.registry import load_strategy

END = dt.date(2025, 6, 30)


def test_defaults_are_nuclear_and_tecl_40_60(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path))
    settings = load_settings()
    assert [(s.name, s.source, s.weight) for s in settings.strategies] == [("nuclear", "nuclear", 0.4), ("tecl", "tecl", 0.6)]
    assert settings.data_dir == tmp_path / "data"


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ('[[strategies]]\nname = "a"\nweight = "lots"\n', "strategies.0.weight"),
        ('[[strategies]]\nname = "a"\nweight = 1.5\n', "less than or equal to 1"),
        ('[data]\nsample_fallback = "perhaps"\n', "data.sample_fallback"),
        ("[data]\ncolour = 1\n", "data.colour"),
        ("strategies = [\n", "not valid TOML"),
    ],
)
def test_invalid_values_name_the_field(tmp_path: Path, toml: str, fragment: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert fragment in str(info.value)


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[data]\nsample_seed = 1\n")
    monkeypatch.setenv("ALCHEMISER_DATA__SAMPLE_SEED", "7")
    assert load_settings(path).data.sample_seed == 7


def test_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


PY_STRATEGY = '''
from alchemiser.strategies.base import PythonStrategy

class Momentum(PythonStrategy):
    name = "momentum"

    def universe(self):
        return {"SPY", "TLT"}

    def allocate(self, history):
        spy, tlt = history.closes["SPY"], history.closes["TLT"]
        best = "SPY" if spy[-1] / spy[-21] > tlt[-1] / tlt[-21] else "TLT"
        return {best: 1.0}, [f"{best} had the better 20-day return"]
'''


def test_python_strategy_from_a_file_in_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mine.py").write_text(PY_STRATEGY)
    config = tmp_path / "config.toml"
    config.write_text('[[strategies]]\nname = "m"\nsource = "mine.py:Momentum"\nweight = 1\n')
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path / "home"))
    settings = load_settings(config)
    report = compute_signals(settings, as_of=END, market=SampleMarket(end=END))
    assert report.ok
    (signal,) = report.strategies
    assert signal.weights in ({"SPY": 1.0}, {"TLT": 1.0})
    assert "better 20-day return" in signal.trace[0].text


def test_a_strategy_without_enough_history_withholds_the_whole_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hungry = tmp_path / "hungry.clj"
    hungry.write_text('(defsymphony "h" {} (if (> (rsi "SPY" {:window 4000}) 50) [(asset "SPY" nil)] [(asset "BIL" nil)]))')
    monkeypatch.setenv("ALCHEMISER_HOME", str(tmp_path / "home"))
    settings = load_settings()
    report = compute_signals(settings, ["tecl", str(hungry)], as_of=dt.date(2010, 6, 30), market=SampleMarket(end=END))
    assert report.target is None
    ok, failed = report.strategies
    assert ok.error is None and ok.weights
    assert failed.error is not None and "window 4000" in failed.error and f"{hungry}:1:28" in failed.error
    assert failed.name == "hungry"


def test_blend_nets_overlapping_symbols_and_checks_shares() -> None:
    target = blend([({"BIL": 0.5, "SPY": 0.5}, 0.4), ({"BIL": 1.0}, 0.6)])
    assert target == pytest.approx({"BIL": 0.8, "SPY": 0.2})
    with pytest.raises(StrategyError):
        blend([({"SPY": 1.0}, 0.5)])


def test_unknown_strategy_reference() -> None:
    with pytest.raises(StrategyError, match="unknown strategy"):
        load_strategy("no-such-thing")
