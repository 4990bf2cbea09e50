"""Operating the bot from the command line: config init, schedule entries, verbosity flags, repeated runs,
validation of risky inputs, notifications and order phases. Real subprocesses, real files."""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from alchemiser.config import Settings, example_config, load_settings
from alchemiser.errors import ConfigError
from alchemiser.scheduling import resilient
from tests.helpers import run
from tests.reporting.test_operations import Receiver

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


@pytest.mark.parametrize("cash", ["nan", "inf", "-5", "0", "1e-9", "1e30"])
def test_sim_reset_refuses_cash_that_is_not_a_sane_amount(tmp_path: Path, cash: str) -> None:
    home = tmp_path / "home"
    done = run(["sim", "reset", f"--cash={cash}"], home)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "--cash" in done.stderr and "finite amount of at least 0.01" in done.stderr
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
    assert json.loads(run(["status", "--json"], home).stdout)["account"]["cash"] == 2500.5


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


def _forced(command: str) -> str:
    """`--when-due` only trades minutes before a real close, so the test asks for a forced run instead; all
    else (executable, environment, --config, quoting) stays exactly as printed."""
    assert command.endswith(" trade --when-due -q")
    return command.removesuffix(" --when-due -q") + " --force --json"


def _cron_job(printed: str) -> tuple[list[str], dict[str, str]]:
    """The command of a crontab line, as cron runs it: through /bin/sh."""
    lines = [line for line in printed.splitlines() if line[:1].isdigit()]
    assert len(lines) == 2
    return ["/bin/sh", "-c", _forced(lines[0].split(maxsplit=5)[5])], {}


def _systemd_job(printed: str) -> tuple[list[str], dict[str, str]]:
    """ExecStart= and Environment= as systemd reads them: quoted words, no shell."""
    lines = printed.splitlines()
    (environment,) = [line.removeprefix("Environment=") for line in lines if line.startswith("Environment=")]
    (exec_start,) = [line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart=")]
    return shlex.split(_forced(exec_start)), dict(word.split("=", 1) for word in shlex.split(environment))


@pytest.mark.parametrize("kind", ["cron", "systemd"])
def test_scheduled_entries_run_with_the_home_and_config_that_printed_them(tmp_path: Path, kind: str) -> None:
    home, decoy = tmp_path / "my home", tmp_path / "decoy"
    decoy.mkdir()
    config = tmp_path / "conf dir" / "alchemiser.toml"
    config.parent.mkdir()
    config.write_text('[[strategies]]\nname = "klm"\nweight = 1\n')
    printed = run(["--config", str(config), "schedule", "--print", kind], home)
    assert printed.returncode == 0, printed.stderr
    argv, job_env = (_cron_job if kind == "cron" else _systemd_job)(printed.stdout)
    # started from elsewhere, in a foreign environment: cron and systemd bring none of ours
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ALCHEMISER_")}
    environment.update(ALCHEMISER_HOME=str(decoy), HOME=str(decoy), COLUMNS="200")
    environment.update(job_env)
    done = subprocess.run(argv, capture_output=True, text=True, env=environment, cwd=decoy, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert [s["name"] for s in result["strategies"]] == ["klm"]  # the config that printed the entry
    assert (home / "ledger.sqlite").exists() and not (decoy / "ledger.sqlite").exists()  # and its home


def test_a_second_trade_in_a_session_says_which_run_traded_and_nothing_misleading(home: Path) -> None:
    first = json.loads(run(["trade", "--json"], home).stdout)
    assert first["status"] == "ok"
    again = run(["trade"], home)
    assert again.returncode == 0  # the guard did its job: not an error for a script or cron job firing twice
    out = again.stdout
    assert first["run_id"] in out and "already traded" in out and "--force" in out and "New York time" in out
    assert "Signals as of" not in out and "No target" not in out and "failed" not in out
    refused = json.loads(run(["trade", "--json"], home).stdout)
    assert refused["status"] == "already_ran" and first["run_id"] in refused["message"]
    assert refused["as_of"] is None and refused["strategies"] == [] and refused["orders"] == []


@pytest.fixture
def failing_receiver() -> Iterator[Receiver]:
    receiver = Receiver(status=500)
    yield receiver
    receiver.close()


def test_an_undelivered_notification_is_a_run_warning_everywhere(home: Path, failing_receiver: Receiver) -> None:
    home.mkdir()
    (home / "config.toml").write_text(f'[notify]\nurls = ["{failing_receiver.url}"]\n')
    result = json.loads(run(["trade", "--json"], home).stdout)
    assert len(failing_receiver.messages) >= 1
    assert result["status"] == "ok" and any("notification" in w for w in result["warnings"])
    assert result["message"].endswith("1 warning(s)")
    (recorded,) = json.loads(run(["ledger", "runs", "--json"], home).stdout)
    assert recorded["message"] == result["message"]
    assert recorded["summary"]["warnings"] == result["warnings"]
    console = run(["trade", "--force"], home)  # nothing to do, but the notification still fails: shown
    assert "warning:" in console.stdout and "notification" in console.stdout and "1 warning(s)" in console.stdout


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ('on = ["sometimes"]', "notify.on.0: Input should be 'ok'"),
        ('urls = ["notaurl"]', "'notaurl' is not a notification URL"),
        ('urls = ["ntfy://ok-topic", "http//typo"]', "'http//typo' is not a notification URL"),
    ],
)
def test_notification_settings_are_validated_at_load(home: Path, setting: str, named: str) -> None:
    home.mkdir()
    (home / "config.toml").write_text(f"[notify]\n{setting}\n")
    done = run(["config", "show"], home)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert named in done.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["report", "--execution", "nope"], "no run 'nope'"),
        (["ledger", "orders", "--run", "nope"], "no run 'nope'"),
        (["report", "--since", "2024-01-01"], "--since applies to --execution only"),
        (["ledger", "runs", "--limit", "0"], "--limit"),
        (["ledger", "orders", "--limit", "-1"], "--limit"),
    ],
)
def test_ledger_and_report_arguments_that_name_nothing_are_refused(home: Path, args: list[str], named: str) -> None:
    assert run(["trade"], home).returncode == 0
    done = run(args, home)
    assert done.returncode != 0 and "Traceback" not in done.stderr and named in done.stderr


def test_run_daily_reports_an_unusable_home_at_once(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    done = run(["run-daily"], not_a_folder / "home")  # fails before the scheduler starts: it does not block
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "ALCHEMISER_HOME must be a writable folder" in done.stderr


def test_a_scheduled_run_that_fails_on_purpose_is_logged_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    def job() -> None:
        raise ConfigError("notify.urls: something the user must fix")

    logger = logging.getLogger("alchemiser.scheduling")
    logger.addHandler(caplog.handler)  # directly: another test's setup_logging may stop propagation to the root
    try:
        resilient(job)()
    finally:
        logger.removeHandler(caplog.handler)
    records = [r for r in caplog.records if "scheduled run failed" in r.getMessage()]
    assert records and all("something the user must fix" in r.getMessage() and r.exc_info is None for r in records)
