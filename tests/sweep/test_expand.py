"""Expansion: deterministic order and ids, grids that widen keep their ids, seeded random draws, lists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from alchemiser.config import load_settings
from alchemiser.sweep.expand import Plan, build_plan
from alchemiser.sweep.spec import SweepSpecError, load_spec
from tests.sweep.conftest import write_spec

END = dt.date(2025, 6, 30)


def _plan(path: Path) -> Plan:
    return build_plan(load_spec(path), path, load_settings(None), END)


def test_grid_order_is_the_product_with_the_first_entry_slowest(spec: Path) -> None:
    plan = _plan(spec)
    assert [dict(t.params) for t in plan.tasks[:3]] == [
        {"window": 8, "overbought": 75.0, "rebalance": "daily"},
        {"window": 8, "overbought": 75.0, "rebalance": "weekly"},
        {"window": 8, "overbought": 79.0, "rebalance": "daily"},
    ]
    assert [t.index for t in plan.tasks] == list(range(8))
    assert plan.columns == ["p.window", "p.overbought", "p.rebalance"]
    again = _plan(spec)
    assert [t.id for t in again.tasks] == [t.id for t in plan.tasks] and again.run_id == plan.run_id
    assert len({t.id for t in plan.tasks}) == 8
    first = plan.tasks[0]
    assert dict(first.strategies[0].values) == {"rsi_tqqq_window": 8, "rsi_tqqq_gt": 75.0}
    assert str(first.config.schedule) == "daily" and first.window == (dt.date(2016, 1, 4), dt.date(2017, 12, 29))


def test_widening_a_grid_keeps_the_ids_of_the_rows_already_there(tmp_path: Path) -> None:
    narrow = _plan(write_spec(tmp_path / "a", '[[vary]]\nsetting = "fee_bps"\nvalues = [0, 5]\n'))
    wide = _plan(write_spec(tmp_path / "b", '[[vary]]\nsetting = "fee_bps"\nvalues = [0, 5, 10]\n'))
    assert {t.id for t in narrow.tasks} < {t.id for t in wide.tasks} and len(wide.tasks) == 12
    assert narrow.run_id == wide.run_id
    other = _plan(write_spec(tmp_path / "c", '[[vary]]\nsetting = "fee_bps"\nvalues = [0, 5]\n', end="2017-12-28"))
    assert not {t.id for t in other.tasks} & {t.id for t in narrow.tasks}, "another period is another run"
    assert other.run_id != narrow.run_id


def test_editing_the_strategy_changes_every_id(tmp_path: Path) -> None:
    path = write_spec(tmp_path, "")
    before = _plan(path)
    clj = tmp_path / "tecl.clj"
    clj.write_text(clj.read_text().replace("{:window 200}", "{:window 150}"))
    after = _plan(path)
    assert not {t.id for t in before.tasks} & {t.id for t in after.tasks}


def test_random_draws_repeat_with_the_seed_and_change_without(tmp_path: Path) -> None:
    body = '[[vary]]\nsetting = "slippage_bps"\nuniform = [0, 10]\n'
    head = "[sweep]\nsamples = 6\nseed = {seed}\n"

    def draws(seed: int, folder: str) -> list[tuple[object, ...]]:
        path = write_spec(tmp_path / folder, body)
        path.write_text(head.format(seed=seed) + path.read_text().replace("[sweep]\n", "", 1))
        return [tuple(v for _, v in t.params) for t in _plan(path).tasks]

    first, again, other = draws(7, "a"), draws(7, "b"), draws(8, "c")
    assert first == again and first != other
    assert all(w in (8, 10) and t in (75.0, 79.0) and 0 <= s <= 10 for w, t, s in first)


def test_random_draws_of_a_window_must_be_integers(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    write_spec(tmp_path, "")
    path.write_text(
        '[sweep]\nsamples = 3\n[[strategies]]\nsource = "tecl.clj"\n[[vary]]\nparam = "rsi_tqqq_window"\nuniform = [5, 20]\n'
    )
    with pytest.raises(SweepSpecError, match=r"vary\[0\]: rsi_tqqq_window takes whole numbers; draw with integers"):
        _plan(path)
    path.write_text(path.read_text().replace("uniform", "integers"))
    assert all(5 <= dict(t.params)["rsi_tqqq_window"] <= 20 for t in _plan(path).tasks)


def test_list_mode_keeps_the_given_combinations_in_order(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    write_spec(tmp_path, "")
    path.write_text(
        "[sweep]\ncombinations = [{w = 12, t = 70}, {w = 9, t = 81}]\n"
        '[[strategies]]\nsource = "tecl.clj"\n'
        '[[vary]]\nname = "w"\nparam = "7:34"\n[[vary]]\nname = "t"\nparam = "rsi_tqqq_gt"\n'
    )
    assert [dict(t.params) for t in _plan(path).tasks] == [{"w": 12, "t": 70.0}, {"w": 9, "t": 81.0}]


@pytest.mark.parametrize(
    ("vary", "needle"),
    [
        ('param = "rsi_tqqq_gtt"', r"vary\[0\]\.param: no parameter 'rsi_tqqq_gtt' .*did you mean rsi_tqqq_gt"),
        (
            'param = "99:1"',
            r"vary\[0\]\.param: 99:1: no parameter starts there.*\(parameters of tecl: sma_spy_window, ",
        ),
        ('param = "rsi_tqqq_window"\nvalues = [0]', r"vary\[0\] \(rsi_tqqq_window = 0\): .*whole number from 1"),
        ('param = "rsi_tqqq_window"\nvalues = [7.5]', r"rsi_tqqq_window = 7\.5\): .*whole number"),
        ('param = "rsi_tqqq_gt"\nvalues = ["high"]', r"rsi_tqqq_gt = 'high'\): must be a finite number"),
    ],
)
def test_bad_parameters_name_the_entry_and_the_valid_ones(tmp_path: Path, vary: str, needle: str) -> None:
    write_spec(tmp_path, "")
    path = tmp_path / "s.toml"
    values = "" if "values" in vary else "\nvalues = [1]"
    path.write_text(f'[[strategies]]\nsource = "tecl.clj"\n[[vary]]\n{vary}{values}\n')
    with pytest.raises(SweepSpecError, match=rf"^{path}: .*{needle}"):
        _plan(path)
