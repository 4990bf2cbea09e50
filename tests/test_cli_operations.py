"""Operating the bot from the command line: config init, schedule entries, verbosity flags, repeated runs,
validation of risky inputs, notifications and order phases. Real subprocesses, real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from alchemiser.config import Settings, example_config, load_settings
from tests.test_cli import run


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


REPRICE_CONFIG = """\
[[strategies]]
name = "klm"
weight = 1

[sim]
spread_bps = 100                # wide enough that a limit below the mid rests

[execution]
limit_spread_fraction = 0.25    # below the mid: never fills, so it times out and is re-priced
limit_timeout_s = 0.3
on_limit_timeout = "reprice"
max_reprices = 1
"""


def test_a_repriced_order_has_the_same_phase_in_the_run_result_and_the_ledger(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(REPRICE_CONFIG)
    result = json.loads(run(["trade", "--json"], home).stdout)
    in_result = {o["client_order_id"]: o["phase"] for o in result["orders"]}
    ledger = json.loads(run(["ledger", "orders", "--json"], home).stdout)
    in_ledger = {o["client_order_id"]: o["phase"] for o in ledger}
    assert "reprice" in in_result.values()
    assert in_result == in_ledger


def test_verbosity_flags_work_before_and_after_the_subcommand(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for args in (
        ["-v", "trade", "--force", "--json"],
        ["trade", "--force", "--json", "-v"],
        ["trade", "-vv", "--force", "--json"],
    ):
        done = run(args, home)
        assert done.returncode == 0, done.stderr
        json.loads(done.stdout)  # log lines go to stderr: --json stays parseable
        assert "run finished" in done.stderr
    quiet = run(["trade", "--force", "--json", "-q"], home)
    assert quiet.returncode == 0 and "run finished" not in quiet.stderr
    for args in (["config", "show", "-q"], ["ledger", "runs", "--verbose"], ["schedule", "--quiet"]):
        assert run(args, home).returncode == 0, args


@pytest.mark.parametrize("cash", ["nan", "inf", "-5", "0", "1e30"])
def test_sim_reset_refuses_cash_that_is_not_a_sane_amount(tmp_path: Path, cash: str) -> None:
    home = tmp_path / "home"
    done = run(["sim", "reset", f"--cash={cash}"], home)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--cash" in done.stderr and "finite amount above 0" in done.stderr
    assert run(["status", "--json"], home).returncode == 0  # the account was left usable


@pytest.mark.parametrize("cash", ["nan", "inf", "-5", "0", "1e30"])
def test_sim_starting_cash_in_the_config_is_validated(tmp_path: Path, cash: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f"[sim]\nstarting_cash = {cash}\n")
    done = run(["status"], home)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "sim.starting_cash" in done.stderr


def test_sim_reset_accepts_a_sane_amount(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(["sim", "reset", "--cash", "2500.5"], home).returncode == 0
    assert json.loads(run(["status", "--json"], home).stdout)["account"]["cash"] == "2500.5"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["signal", "-s", ""], "--strategy/-s: an empty value"),
        (["signal", "-s", "  "], "--strategy/-s: an empty value"),
        (["signal", "-s", "klm", "-s", "klm"], "'klm' is given twice"),
        (["signal", "-s", "a/x.clj", "-s", "b/x.clj"], "'x' is the name of both"),
        (["backtest", "-s", "tecl", "-s", "tecl"], "'tecl' is given twice"),
    ],
)
def test_strategy_arguments_obey_the_config_rules(home: Path, args: list[str], named: str) -> None:
    done = run(args, home)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert named in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ALCHEMISER_STRATEGIES", "not json"),
        ("ALCHEMISER_SIM__NON_FRACTIONABLE", "UVXY"),
        ("ALCHEMISER_NOTIFY", "{urls"),
    ],
)
def test_an_environment_value_that_is_not_json_is_named(home: Path, variable: str, value: str) -> None:
    done = run(["signal"], home, **{variable: value})
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"{variable}: not valid JSON" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["trade"], ["status"], ["plan"], ["ledger", "runs"], ["sim", "reset"], ["report"]])
def test_a_home_that_cannot_hold_state_is_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    done = run(command, not_a_folder / "home")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "ALCHEMISER_HOME must be a writable folder" in done.stderr


def test_a_ledger_that_cannot_be_opened_is_a_clear_error(home: Path) -> None:
    (home / "ledger.sqlite").mkdir(parents=True)  # what sqlite sees in a read-only home: it cannot open the file
    done = run(["ledger", "runs"], home)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "cannot open the ledger" in done.stderr and "ALCHEMISER_HOME" in done.stderr


def test_report_html_into_a_missing_folder_or_onto_a_directory(tmp_path: Path, home: Path) -> None:
    assert run(["trade"], home).returncode == 0
    for target in (tmp_path / "missing" / "report.html", tmp_path):
        done = run(["report", "--html", str(target)], home)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert f"--html {target}" in done.stderr
    written = tmp_path / "report.html"
    assert run(["report", "--html", str(written)], home).returncode == 0 and written.read_text().startswith("<")


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    """`model` and every settings model nested in it (tables and lists of tables)."""
    found = [model]
    for info in model.model_fields.values():
        for inner in (info.annotation, *getattr(info.annotation, "__args__", ())):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                found += _models(inner)
    return found


def test_config_init_writes_an_example_that_loads_back_as_the_defaults(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = run(["config", "init"], home)
    assert done.returncode == 0, done.stderr
    written = home / "config.toml"
    text = written.read_text()
    first_table = text.index("\n[")
    assert "\nbroker = " in text[:first_table]  # top-level keys before any table, or TOML files them under it
    assert text.count("[[strategies]]") == 2
    monkeypatch.setenv("ALCHEMISER_HOME", str(home))
    assert load_settings(written) == Settings()  # the real loader: valid TOML, every key real, every default
    for args in (["config", "show"], ["signal"], ["status"]):  # and every command accepts it
        assert run(args, home).returncode == 0, args


def test_every_setting_is_described_so_the_example_is_commented() -> None:
    for model in _models(Settings):
        for name, info in model.model_fields.items():
            assert info.description, f"{model.__name__}.{name} has no description"
    text = example_config()
    for name in ("starting_cash", "limit_timeout_s", "minutes_before_close", "urls", "secrets_file"):
        (line,) = [n for n, line in enumerate(text.splitlines()) if line.lstrip("# ").startswith(f"{name} =")]
        assert text.splitlines()[line - 1].startswith("# "), name  # its description sits just above it


def test_config_init_into_an_unusable_home_is_a_clear_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    done = run(["config", "init"], not_a_folder / "home")
    assert done.returncode != 0 and "Traceback" not in done.stderr and "ALCHEMISER_HOME" in done.stderr
