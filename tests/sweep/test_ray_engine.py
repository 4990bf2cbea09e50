"""The Ray engine on a real two-node Ray cluster started on this machine: same rows as the embedded engine,
and a worker node killed mid-sweep loses no result.

The cluster lives in a network namespace of its own that has only a loopback interface: Ray resolves
127.0.0.1 to the machine's outward address when it can see one, so the namespace is what keeps every
byte on loopback. Every process in that namespace is ours, which also makes the clean-up exact: kill them
all (never `ray stop`, which would stop anybody's Ray on the machine) and check none is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alchemiser.errors import AlchemiserError
from alchemiser.sweep.engines.ray_engine import RUNTIME_ENV_VAR, RayEngine, check_address, runtime_env
from tests.helpers import run
from tests.sweep import ray_gate
from tests.sweep.journal import journal_rows

ray = pytest.importorskip("ray", reason="LOUD SKIP: ray is not installed (pip install -e '.[test]' brings it)")

RAY = str(Path(sys.executable).with_name("ray"))
PORT = 6379  # inside our own network namespace nothing else can hold it
ADDRESS = f"127.0.0.1:{PORT}"
NODE_FLAGS = ["--num-cpus", "1", "--object-store-memory", str(80 * 1024 * 1024), "--disable-usage-stats"]
SPEC = """\
[sweep]
name = "ray-two-nodes"
rank_by = "sharpe"
start = 2016-01-04
end = 2025-06-30
rebalance = "daily"

[[strategies]]
source = "tecl"

[[vary]]
name = "tqqq_window"
param = "rsi_tqqq_window"
values = [8, 10, 12, 14]

[[vary]]
name = "tqqq_overbought"
param = "rsi_tqqq_gt"
range = { start = 70, stop = 88, step = 2 }
"""
VARIANTS = 4 * 10  # stop is inclusive


def _wait_for(what: str, check: Any, limit_s: float = 120.0) -> None:
    """Poll `check` until true; the limit only turns a hang into a failure that says what never happened."""
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.2)


@dataclass
class Cluster:
    """A head node and a worker node in a loopback-only network namespace; `enter` runs a command inside it."""

    enter: list[str]
    namespace: str  # the /proc/PID/ns/net link of the namespace
    env: dict[str, str]
    head: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes] | None
    folder: Path

    def processes(self) -> list[int]:
        """Every process in the namespace (all of them ours), the namespace holder included."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.readlink(entry / "ns" / "net") == self.namespace:
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found

    def worker_node_pids(self) -> list[int]:
        """The worker node's processes: `ray start` ran in a session of its own, its daemons stay in it."""
        if self.worker is None:
            return []
        return [pid for pid in self.processes() if _session(pid) == self.worker.pid]

    def cli(self, home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """The CLI as a user runs it, inside the namespace so 127.0.0.1 is the cluster's loopback."""
        env = {**self.env, **(env or {}), "ALCHEMISER_HOME": str(home), "COLUMNS": "200"}
        return subprocess.Popen(
            [*self.enter, sys.executable, "-m", "alchemiser.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _namespace_prefix() -> tuple[subprocess.Popen[bytes], list[str]]:
    """A process holding a new network namespace, and the command prefix that runs a command inside it."""
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None:
            pytest.skip(f"LOUD SKIP: `{tool}` (util-linux / iproute2) is missing; the Ray cluster test needs it")
    as_root = os.geteuid() == 0
    create = ["unshare", "--net"] if as_root else ["unshare", "--user", "--map-root-user", "--net"]
    holder = subprocess.Popen([*create, "sleep", "infinity"], start_new_session=True)
    enter = ["nsenter", "--target", str(holder.pid), "--net"]
    if not as_root:
        enter += ["--user", "--preserve-credentials"]
    _wait_for("the namespace", lambda: os.readlink(f"/proc/{holder.pid}/ns/net") != os.readlink("/proc/self/ns/net"))
    up = subprocess.run([*enter, "ip", "link", "set", "lo", "up"], capture_output=True, text=True, check=False)
    if up.returncode != 0:
        holder.kill()
        holder.wait()
        pytest.skip(f"LOUD SKIP: cannot make a loopback-only network namespace here: {up.stderr.strip()}")
    return holder, enter


def _stop(cluster: Cluster, holder: subprocess.Popen[bytes]) -> None:
    """Kill every process of the namespace (the nodes, their workers, any CLI left) and the holder."""
    for _ in range(50):
        pids = cluster.processes()
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    for child in (cluster.head, cluster.worker, holder):
        if child is not None:
            child.wait()
    leftover = cluster.processes()
    shutil.rmtree(cluster.folder, ignore_errors=True)
    assert not leftover, f"Ray processes left behind: {leftover}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    holder, enter = _namespace_prefix()
    namespace = os.readlink(f"/proc/{holder.pid}/ns/net")
    # short paths: Ray's Unix sockets live under --temp-dir and a socket path has ~107 bytes at most
    folder = Path(tempfile.mkdtemp(prefix="rayt", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALCHEMISER_", "RAY_"))}
    env.update({"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "HOME": str(folder)})
    head = subprocess.Popen(
        [*enter, RAY, "start", "--head", "--port", str(PORT), "--include-dashboard=false",
         "--temp-dir", str(folder / "head"), *NODE_FLAGS],
        stdout=(folder / "head.log").open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    state = Cluster(enter, namespace, env, head, None, folder)
    try:
        assert head.wait(timeout=180) == 0, (folder / "head.log").read_text()
        state.worker = subprocess.Popen(
            [*enter, RAY, "start", "--address", ADDRESS, "--resources", json.dumps({"worker_node": 1}),
             "--temp-dir", str(folder / "worker"), *NODE_FLAGS],
            stdout=(folder / "worker.log").open("wb"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        assert state.worker.wait(timeout=180) == 0, (folder / "worker.log").read_text()
        _wait_for("two alive nodes", lambda: _alive_nodes(state) == 2)
        yield state
    finally:
        _stop(state, holder)


def _alive_nodes(cluster: Cluster) -> int:
    probe = (
        f"import ray; ray.init(address={ADDRESS!r}, configure_logging=False, log_to_driver=False); "
        "print(sum(1 for n in ray.nodes() if n['Alive'])); ray.shutdown()"
    )
    done = subprocess.run(
        [*cluster.enter, sys.executable, "-c", probe], capture_output=True, text=True, env=cluster.env, check=False
    )
    lines = done.stdout.split()
    return int(lines[-1]) if done.returncode == 0 and lines else 0


def _sweep(cluster: Cluster, home: Path, spec: Path, *args: str) -> tuple[int, str, str]:
    process = cluster.cli(home, "sweep", str(spec), "--json", *args)
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def _rows(summary: str) -> pd.DataFrame:
    path = json.loads(summary)["out"]
    rows = pd.read_parquet(path).drop(columns=["runtime_s"])
    return rows.sort_values("id").reset_index(drop=True)


@pytest.fixture(scope="module")
def embedded_rows(tmp_path_factory: pytest.TempPathFactory, cluster: Cluster) -> pd.DataFrame:
    """The reference: the same spec on the embedded engine (run in the namespace too, for one code path)."""
    folder = tmp_path_factory.mktemp("embedded")
    spec = folder / "spec.toml"
    spec.write_text(SPEC)
    code, out, err = _sweep(cluster, folder / "home", spec, "--workers", "2")
    assert code == 0, err
    rows = _rows(out)
    assert len(rows) == VARIANTS
    return rows


def test_a_sweep_on_the_two_node_cluster_gives_the_embedded_rows(
    cluster: Cluster, embedded_rows: pd.DataFrame, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    code, out, err = _sweep(cluster, tmp_path / "home", spec, "--engine", "ray", "--address", ADDRESS)
    assert code == 0, err
    assert json.loads(out)["computed"] == VARIANTS
    pd.testing.assert_frame_equal(_rows(out), embedded_rows)
    assert not _noise(err), f"Ray's own output reached the terminal: {err}"
    # both nodes did work: the worker node started worker processes of its own
    worker_logs = list((cluster.folder / "worker").glob("session_*/logs/*worker*"))
    assert worker_logs, "the worker node ran no task"


SHARED_ONCE = """
import json, os
from alchemiser.sweep.engines.ray_engine import RayEngine

def square_with_origin(shared, task):
    shared["calls"] = shared.get("calls", 0) + 1  # per-process state survives between tasks
    return task * task, os.getpid(), id(shared), shared["calls"]

print(json.dumps(list(RayEngine(ADDRESS).map_unordered(square_with_origin, {"payload": "x" * 1000}, range(60)))))
"""


@pytest.mark.parametrize(
    "address",
    [ADDRESS, "ray://127.0.0.1:10001", None],
    ids=["the cluster", "the cluster through Ray client", "a local Ray started for the sweep"],
)
def test_every_task_runs_once_and_shared_reaches_each_worker_once(cluster: Cluster, address: str | None) -> None:
    script = f"ADDRESS = {address!r}\n{SHARED_ONCE}"
    done = subprocess.run(
        [*cluster.enter, sys.executable, "-c", script], capture_output=True, text=True, env=cluster.env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert not _noise(done.stderr), f"Ray's own output reached the terminal: {done.stderr}"
    results = json.loads(done.stdout)
    assert sorted(r[0] for r in results) == [t * t for t in range(60)]
    by_worker: dict[int, set[int]] = {}
    for _, pid, identity, _ in results:
        by_worker.setdefault(pid, set()).add(identity)
    assert all(len(ids) == 1 for ids in by_worker.values()), "a worker unpickled `shared` more than once"
    for pid in by_worker:  # one `shared` per worker process, kept across its tasks
        assert sorted(r[3] for r in results if r[1] == pid) == list(range(1, sum(r[1] == pid for r in results) + 1))


# this test kills the cluster's worker node: it stays the last one to use the module's cluster
def test_killing_the_worker_node_mid_sweep_loses_no_result(
    cluster: Cluster, embedded_rows: pd.DataFrame, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    home = tmp_path / "home"
    held = tmp_path / "held"
    held.mkdir()
    assert cluster.worker is not None
    # every backtest that starts on the worker node waits there (tests/sweep/ray_gate.py) until the kill,
    # given to the sweep's workers through the user's own runtime_env variable: the kill cannot come late
    gate = {
        "worker_process_setup_hook": ray_gate.HOOK,
        "env_vars": {
            "PYTHONPATH": str(Path(__file__).parents[2]),  # where `tests` imports from
            ray_gate.HOLD_SESSION: str(cluster.worker.pid),  # the worker node's daemons' session
            ray_gate.HELD_DIR: str(held),
        },
    }
    env = {RUNTIME_ENV_VAR: json.dumps(gate)}
    process = cluster.cli(home, "sweep", str(spec), "--json", "--engine", "ray", "--address", ADDRESS, env=env)
    try:
        # progress on the head node, and backtests the worker node started and cannot finish
        _wait_for("rows from the sweep", lambda: journal_rows(home) >= 4, limit_s=300)
        _wait_for("a backtest held on the worker node", lambda: any(held.iterdir()))
        assert _busy_worker(cluster), "a backtest is held but no worker node process runs a task"
        held_ids = {path.name for path in held.iterdir()}
        before = journal_rows(home)
        assert before <= VARIANTS - len(held_ids)
        for pid in cluster.worker_node_pids():
            os.kill(pid, signal.SIGKILL)
        out, err = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:  # Ray gave up on the lost tasks: the rerun resumes with only the missing
        assert "rerun" in err, err
        finished = journal_rows(home)
        code, out, err = _sweep(cluster, home, spec, "--engine", "ray", "--address", ADDRESS)
        assert code == 0, err
        assert json.loads(out)["computed"] == VARIANTS - finished
    rows = _rows(out)
    assert held_ids <= set(rows["id"]), "a backtest held on the killed node has no row"
    pd.testing.assert_frame_equal(rows, embedded_rows)


def _noise(stderr: str) -> list[str]:
    """stderr lines, less the one Ray's C++ core prints in our namespace only: it has no outward interface
    to find a node address from (on a real machine there is one, and the line does not appear)."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and "Failed to determine local IP via external connectivity" not in line
    ]


def _busy_worker(cluster: Cluster) -> bool:
    for pid in cluster.worker_node_pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"ray::_run" in title:
            return True
    return False


def test_an_unreachable_cluster_is_one_message_naming_address(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    home = tmp_path / "home"
    for address, words in (
        (f"127.0.0.1:{port}", "Connection refused"),
        (f"ray://127.0.0.1:{port}", "Ray client server"),
        ("127.0.0.1:99999", "the port must be between 1 and 65535"),
    ):
        done = run(["sweep", str(spec), "--engine", "ray", "--address", address], home)
        assert done.returncode == 2, done.stderr
        assert f"--address {address}" in done.stderr or f"--address '{address}'" in done.stderr
        assert words in done.stderr
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_addresses_are_checked_before_ray_is_touched() -> None:
    assert check_address(None) is None
    assert check_address(" auto ") == "auto"
    assert check_address("ray://head.example:10001") == "ray://head.example:10001"
    assert check_address("10.0.0.5:6379") == "10.0.0.5:6379"
    for bad in ("", "ray://", "http://x:1", "host", "host:port", "a b:1", "h:0", "ray://h:70000"):
        with pytest.raises(AlchemiserError, match="--address"):
            RayEngine(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [("{pip", "ALCHEMISER_RAY_RUNTIME_ENV is not JSON"), ('["x"]', "ALCHEMISER_RAY_RUNTIME_ENV must be a JSON object")],
)
def test_a_bad_runtime_env_is_named(monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    monkeypatch.setenv("ALCHEMISER_RAY_RUNTIME_ENV", text)
    with pytest.raises(AlchemiserError, match=message):
        runtime_env()


def test_a_runtime_env_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert runtime_env() is None
    monkeypatch.setenv("ALCHEMISER_RAY_RUNTIME_ENV", ' {"pip": ["alchemiser[ray]"]} ')
    assert runtime_env() == {"pip": ["alchemiser[ray]"]}


def test_importing_the_sweep_package_does_not_import_ray() -> None:
    code = (
        "import sys; import alchemiser.sweep, alchemiser.sweep.engines, alchemiser.sweep.engines.ray_engine, "
        "alchemiser.cli.sweep_cmds; print('ray' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
