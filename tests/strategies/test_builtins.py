"""Our built-in symphony files decide exactly as the published reference exports do."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from alchemiser.data.history import load_history
from alchemiser.data.sample import SampleMarket
from alchemiser.strategies.registry import BUILTINS, builtin_path, load_strategy
from alchemiser.strategies.symphony.compiler import compile_file
from alchemiser.strategies.symphony.evaluator import IndicatorCache, decide, evaluate_all

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "strategies"
FILES = {"nuclear": "Nuclear.clj", "tecl": "TECL_for_the_long_term.clj", "klm": "KLM.clj"}
END = dt.date(2025, 10, 31)


@pytest.fixture(scope="module")
def market() -> SampleMarket:
    return SampleMarket(end=END)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="shared/strategies is not beside the checkout")
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_matches_reference_on_every_day(name: str, market: SampleMarket) -> None:
    ours = compile_file(builtin_path(name))
    reference = compile_file(REFERENCE / FILES[name])
    assert ours.universe == reference.universe
    assert ours.settings == reference.settings
    history = load_history(market, ours.universe, END)
    cache = IndicatorCache(history)
    a, b = evaluate_all(ours, history, cache), evaluate_all(reference, history, cache)
    days = int((history.dates >= np.datetime64("2023-10-20")).sum())
    assert days >= 504  # at least two years of trading days
    assert a.symbols == b.symbols
    np.testing.assert_array_equal(a.valid, b.valid)
    np.testing.assert_allclose(a.weights, b.weights, atol=1e-12)
    assert a.valid[-days:].all()
    held = {s for row in a.weights[-days:] for s, w in zip(a.symbols, row, strict=True) if w > 0}
    assert len(held) >= 2  # the comparison exercised more than one branch
    for day in history.dates[-days::50]:
        past = history.until(day.date())
        assert decide(ours, past).weights == pytest.approx(decide(reference, past).weights)


def test_builtins_load_by_name_and_decide_on_the_sample_market(market: SampleMarket) -> None:
    for name in BUILTINS:
        strategy = load_strategy(name)
        history = load_history(market, strategy.universe(), END)
        decision = strategy.decide(history)
        assert sum(decision.weights.values()) == pytest.approx(1.0)
        assert decision.trace and all(step.location for step in decision.trace)


DIGEST = """
import datetime as dt, hashlib
from alchemiser.data.history import load_history
from alchemiser.data.sample import SampleMarket
from alchemiser.strategies.registry import load_strategy
s = load_strategy("klm")
m = SampleMarket(end=dt.date(2025, 10, 31))
a = s.evaluate_all(load_history(m, s.universe(), dt.date(2025, 10, 31)))
print(hashlib.sha256(a.weights.tobytes() + a.valid.tobytes()).hexdigest())
"""


def test_evaluation_does_not_depend_on_hash_randomisation() -> None:
    """Filter ties must break the same way on every run, whatever PYTHONHASHSEED is."""
    import os
    import subprocess
    import sys

    digests = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", DIGEST], capture_output=True, text=True, env=env, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
