"""Hostile sweep specs: every refusal names the file and the key, and nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from alchemiser.config import load_settings
from alchemiser.sweep.expand import build_plan
from alchemiser.sweep.spec import SweepSpecError, load_spec
from alchemiser.sweep.store import SweepStoreError, write_parquet

STRATEGY = '[[strategies]]\nsource = "tecl"\n'
END = __import__("datetime").date(2025, 6, 30)


def _spec(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _plan(path: Path, max_variants: int = 10_000):  # type: ignore[no-untyped-def]
    return build_plan(load_spec(path), path, load_settings(None), END, max_variants)


def test_bad_toml_names_file_line_and_column(tmp_path: Path) -> None:
    path = _spec(tmp_path, '[sweep]\nname = "x"\nrank_by = \n')
    with pytest.raises(SweepSpecError, match=rf"^{path}:3:\d+: invalid TOML"):
        load_spec(path)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (f"[sweep]\nbogus = 1\n{STRATEGY}", r"sweep\.bogus: unknown key \(allowed here: name, rank_by"),
        (f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\nvalues = [1]\ncolour = 2\n', r"vary\[0\]\.colour: unknown key"),
        (
            f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\nrange = {{start = 1, stop = 2, step = 1, by = 3}}\n',
            r"vary\[0\]\.range\.by: unknown key \(allowed here: start, stop, step\)",
        ),
        ('[sweep]\nname = "x"\n', r"strategies: required key is missing"),
        (f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\nvalues = []\n', r"vary\[0\]: values is empty"),
        (
            f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\nrange = {{start = 5, stop = 1, step = 1}}\n',
            r"vary\[0\]\.range: stop 1 is below start 5",
        ),
        (
            f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\nrange = {{start = 0, stop = 1, step = 0}}\n',
            r"vary\[0\]\.range\.step: Input should be greater than 0",
        ),
        (f'{STRATEGY}[[vary]]\nsetting = "colour"\nvalues = [1]\n', r"vary\[0\]\.setting: Input should be"),
        (f"{STRATEGY}[[vary]]\nvalues = [1]\n", r"vary\[0\]: give exactly one of param, setting or share"),
        (f'[sweep]\nrank_by = "luck"\n{STRATEGY}', r"sweep\.rank_by: 'luck' is not a metric; choose one of sharpe"),
        (f"[sweep]\nsamples = 3\ncombinations = [{{a = 1}}]\n{STRATEGY}", r"sweep: give samples .* not both"),
        (f"[sweep]\nslippage_bps = nan\n{STRATEGY}", r"sweep\.slippage_bps"),
        (f"[sweep]\nstart = 2020-01-01\nend = 2019-01-01\n{STRATEGY}", r"sweep: start 2020-01-01 is after end"),
        (
            f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\nvalues = [1]\n[[vary]]\nshare = "tecl"\nname = "fee_bps"\nvalues = [1]\n',
            r"two vary entries make the column p\.fee_bps",
        ),
    ],
)
def test_invalid_specs_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    path = _spec(tmp_path, text)
    with pytest.raises(SweepSpecError, match=rf"^{path}: .*{needle}"):
        load_spec(path)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[strategies]]\nsource = "nothing.clj"\n', r"strategies\[0\]\.source: no such file .*nothing\.clj"),
        (
            f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\nvalues = ["lots"]\n',
            r"vary\[0\] \(fee_bps = 'lots'\): must be a finite number",
        ),
        (f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\nvalues = [5000]\n', r"fee_bps must be between 0 and 1000"),
        (
            f'{STRATEGY}[[vary]]\nsetting = "rebalance"\nvalues = ["hourly"]\n',
            r"variant 1 \(rebalance = hourly\): --rebalance must be",
        ),
        (
            f'{STRATEGY}[[vary]]\nsetting = "start"\nvalues = ["soon"]\n',
            r"vary\[0\] \(start = 'soon'\): must be a date",
        ),
        (
            f'{STRATEGY}[[vary]]\nshare = "nobody"\nvalues = [1]\n',
            r"vary\[0\]\.share: no strategy named 'nobody'; the spec's strategies: tecl",
        ),
        (f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\nuniform = [1, 2]\n', r"vary\[0\]: uniform draws need random mode"),
        (f'{STRATEGY}[[vary]]\nsetting = "fee_bps"\n', r"vary\[0\]: give values or range"),
        (
            f'[sweep]\ncombinations = [{{fee = 1}}]\n{STRATEGY}[[vary]]\nsetting = "fee_bps"\n',
            r"sweep\.combinations\[0\]: unknown fee \(its keys are the vary columns: fee_bps\)",
        ),
        (
            '[[strategies]]\nsource = "tecl"\n[[strategies]]\nsource = "tecl"\n',
            r"strategies\[1\]: the name 'tecl' is used twice",
        ),
    ],
)
def test_specs_that_cannot_expand_name_the_entry(tmp_path: Path, text: str, needle: str) -> None:
    path = _spec(tmp_path, text)
    with pytest.raises(SweepSpecError, match=rf"^{path}: .*{needle}"):
        _plan(path)


def test_a_huge_grid_is_refused_unless_the_cap_is_raised(tmp_path: Path) -> None:
    text = STRATEGY + "".join(
        f'[[vary]]\nsetting = "{s}"\nrange = {{start = 0, stop = 99, step = 1}}\n' for s in ("fee_bps", "slippage_bps")
    )
    path = _spec(tmp_path, text)
    with pytest.raises(
        SweepSpecError, match=r"expands to 10,000 backtests, more than the cap of 1,000; .*--max-variants"
    ):
        _plan(path, max_variants=1000)
    assert len(_plan(path, max_variants=10_000).tasks) == 10_000
    wide = _spec(tmp_path, STRATEGY + '[[vary]]\nsetting = "capital"\nintegers = [1, 1000000000000]\n', "wide.toml")
    with pytest.raises(SweepSpecError, match=r"expands to 1,000,000,000,000 backtests"):
        _plan(wide)


def test_unreadable_and_non_utf8_specs(tmp_path: Path) -> None:
    with pytest.raises(SweepSpecError, match="cannot read sweep spec"):
        load_spec(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SweepSpecError, match=rf"^{binary}: not a UTF-8 text file"):
        load_spec(binary)


def test_parquet_write_refuses_an_unwritable_place(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SweepStoreError, match=r"cannot write .*results\.parquet"):
        write_parquet([{"id": "a"}], blocker / "results.parquet")
