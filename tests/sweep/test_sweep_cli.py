"""`alchemiser sweep` end to end through real subprocesses: ranking, resume, worker-count independence,
export back to a runnable strategy, and a SIGKILL mid-sweep."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.helpers import run
from tests.sweep.conftest import write_spec
from tests.sweep.journal import journal_rows


def _json(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def test_sweep_ranks_every_variant_and_a_rerun_reuses_them(spec: Path, home: Path) -> None:
    first = run(["sweep", str(spec), "--top", "3"], home, COLUMNS="80")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert "8 configurations tried (8 computed)" in lines[0]
    assert "Top 3 by sharpe" in first.stdout
    table_rows = [line for line in lines if line.split()[:1] in (["#"], ["1"], ["2"], ["3"])]
    assert len(table_rows) == 4 and all(len(line) <= 80 for line in table_rows), first.stdout  # piped: no wrapping
    second = _json(run(["sweep", str(spec), "--json", "--top", "8"], home))
    assert (second["configurations"], second["computed"], second["reused"], second["failed"]) == (8, 0, 8, 0)
    assert second["run"] in first.stdout
    sharpe = [row["sharpe"] for row in second["top"]]
    assert sharpe == sorted(sharpe, reverse=True) and [r["rank"] for r in second["top"]] == list(range(1, 9))
    table = pq.read_table(second["out"])
    ids = table.column("id").to_pylist()
    assert ids == sorted(ids) and len(set(ids)) == 8
    params = {(r["p.window"], r["p.overbought"], r["p.rebalance"]) for r in table.to_pylist()}
    assert params == {(w, t, r) for w in (8, 10) for t in (75.0, 79.0) for r in ("daily", "weekly")}
    assert {"sharpe", "cagr", "max_drawdown", "trades", "runtime_s", "error"} <= set(table.column_names)
    assert Path(second["folder"], "spec.toml").read_text() == spec.read_text()


def test_results_are_identical_whatever_the_worker_count(spec: Path, tmp_path: Path) -> None:
    out = {}
    for workers in (1, 2):
        target = tmp_path / f"w{workers}.parquet"
        _json(
            run(
                ["sweep", str(spec), "--workers", str(workers), "--out", str(target), "--json"],
                tmp_path / f"h{workers}",
            )
        )
        out[workers] = pq.read_table(target)
    one, two = (t.drop_columns(["runtime_s"]) for t in (out[1], out[2]))
    assert one.num_rows == 8 and one.column_names == two.column_names
    assert _bytes(one) == _bytes(two)


def test_an_exported_row_is_a_strategy_whose_backtest_equals_the_row(spec: Path, home: Path, tmp_path: Path) -> None:
    summary = _json(run(["sweep", str(spec), "--json", "--top", "8"], home))
    best = summary["top"][0]
    target = tmp_path / "best.clj"
    exported = _json(run(["sweep", "export", summary["run"], "1", "-o", str(target), "--json"], home))
    assert exported["row"] == best["id"] and exported["rank"] == 1 and exported["files"] == [str(target)]
    text = target.read_text()
    assert f"{{:window {best['p.window']}}}) {best['p.overbought']:g})" in text  # the first overbought test
    checked = run(["check", str(target)], home)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    command = shlex.split(exported["backtest_command"])
    assert command[:2] == ["alchemiser", "backtest"]
    backtest = _json(run([*command[1:], "--json"], home))
    metrics = backtest["metrics"]
    for key in ("total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "exposure"):
        assert metrics[key] == best[key], key
    assert backtest["trades"] == best["trades"] and backtest["final_equity"] == best["final_equity"]
    assert backtest["benchmark"]["beta"] == best["beta"]
    by_id = run(["sweep", "export", summary["run"], best["id"][:8]], home)  # an id prefix; printed to stdout
    assert by_id.returncode == 0 and by_id.stdout == text
    last = _json(run(["sweep", "export", summary["run"], "8", "--json"], home))
    assert last["row"] == summary["top"][7]["id"] and last["text"].startswith(";; Built-in 'tecl'")
    beyond = run(["sweep", "export", summary["run"], "9"], home)
    assert beyond.returncode == 2 and "ranks of this run go from 1 to 8" in beyond.stderr
    clj = spec.parent / "tecl.clj"
    clj.write_text(clj.read_text().replace("{:window 200}", "{:window 150}"))
    stale = run(["sweep", "export", summary["run"], "1"], home)
    assert stale.returncode == 2 and "changed since the sweep ran" in stale.stderr, stale.stderr


def _start_sweep(spec: Path, home: Path, **popen: Any) -> subprocess.Popen[str]:
    """`alchemiser sweep SPEC --workers 1` as a real background process on `home`, to be interrupted."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALCHEMISER_")}
    env.update({"ALCHEMISER_HOME": str(home)})
    command = [sys.executable, "-m", "alchemiser.cli", "sweep", str(spec), "--workers", "1"]
    return subprocess.Popen(command, env=env, text=True, **popen)


def _wait_for_rows(victim: subprocess.Popen[str], home: Path, rows: int, what: str) -> None:
    """Until `rows` backtests are in the run's journal, while the sweep still runs (bounded)."""
    deadline = time.monotonic() + 180
    while journal_rows(home) < rows:
        assert victim.poll() is None, f"the sweep ended before it could be {what}"
        assert time.monotonic() < deadline, "no row reached the journal in 180 s"
        time.sleep(0.05)  # polling the journal's row count, not waiting for a race to settle


def test_a_sigkilled_sweep_loses_no_finished_row_and_a_rerun_completes_it(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "specs",
        '[[vary]]\nsetting = "slippage_bps"\nvalues = [0, 1, 2, 3, 4]\n',
        start="2010-01-04",
        end="2017-12-29",
        name="kill",
    )  # 20 variants of eight years
    home = tmp_path / "home"
    victim = _start_sweep(spec, home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_rows(victim, home, 3, "killed")
        os.killpg(victim.pid, signal.SIGKILL)
    finally:
        victim.wait(timeout=30)
    kept = journal_rows(home)
    assert 3 <= kept < 20
    resumed = _json(run(["sweep", str(spec), "--json", "--workers", "2"], home))
    assert resumed["reused"] == kept and resumed["computed"] == 20 - kept
    clean = _json(run(["sweep", str(spec), "--json", "--workers", "2"], tmp_path / "clean"))
    assert clean["run"] == resumed["run"]
    after, fresh = (pq.read_table(s["out"]).drop_columns(["runtime_s"]) for s in (resumed, clean))
    assert after.num_rows == 20 and len(set(after.column("id").to_pylist())) == 20
    assert _bytes(after) == _bytes(fresh)


def test_ctrl_c_keeps_the_finished_rows_and_says_how_to_resume(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path / "specs", '[[vary]]\nsetting = "fee_bps"\nvalues = [0, 1, 2]\n', start="2010-01-04", name="int"
    )
    home = tmp_path / "home"
    victim = _start_sweep(spec, home, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_rows(victim, home, 1, "interrupted")
        victim.send_signal(signal.SIGINT)
        _, err = victim.communicate(timeout=60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == 130, err
    assert "Traceback" not in err and "interrupted: " in err and "run the same command again" in err
    saved = int(err.split("interrupted: ")[1].split()[0])
    assert saved == journal_rows(home) >= 1


def test_a_composer_json_score_is_swept_and_exported_as_json(tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "specs"
    write_spec(folder, "")
    converted = run(["fmt", str(folder / "tecl.clj"), "--to", "json"], home)
    assert converted.returncode == 0, converted.stderr
    (folder / "tecl.json").write_text(converted.stdout)
    spec = folder / "json.toml"
    spec.write_text(
        '[sweep]\nstart = 2016-01-04\nend = 2017-12-29\n[[strategies]]\nsource = "tecl.json"\n'
        '[[vary]]\nparam = "rsi_tqqq_gt"\nvalues = [70, 79]\n'
    )
    summary = _json(run(["sweep", str(spec), "--json"], home))
    assert summary["configurations"] == 2 and summary["failed"] == 0
    best = summary["top"][0]
    target = tmp_path / "best.json"
    exported = _json(run(["sweep", "export", summary["run"], "1", "-o", str(target), "--json"], home))
    score = json.loads(target.read_text())
    assert isinstance(score, dict)
    assert run(["check", str(target)], home).returncode == 0
    backtest = _json(run([*shlex.split(exported["backtest_command"])[1:], "--json"], home))
    assert backtest["metrics"]["sharpe"] == best["sharpe"] and backtest["trades"] == best["trades"]
