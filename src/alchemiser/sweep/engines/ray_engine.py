"""The Ray engine: a sweep's backtests as Ray tasks on a cluster (or on a Ray started just for the sweep).

Why it looks the way it does:
- `shared` (twenty years of prices) goes into Ray's object store once (`ray.put`); tasks carry only its
  reference, wrapped in a list so Ray does not resolve it per task. Each worker process fetches and
  unpickles it once and keeps it, exactly like the embedded engine's pool initializer, so `fn`'s
  per-process caches work the same way.
- Neighbouring tasks travel in chunks of up to 8, like the embedded engine (grid neighbours reuse one
  worker's indicator series and simulations; and 100,000 variants are 12,500 Ray tasks).
- A bounded window of tasks is in flight (a few per cluster CPU): 100,000 variants never become 100,000
  pending futures, and results stream back through `ray.wait` as they complete.
- Tasks are retried (`max_retries`) when their worker or node dies, so losing a node loses no result; if
  retries run out the sweep stops with a message, and a rerun resumes with only the missing backtests.
- Ray's own log lines go to our log file, never to the user's terminal; failing to reach the cluster (no
  one there, wrong protocol, a Ray/Python version mismatch) is one message naming --address.
- Ray is imported only inside `map_unordered`: importing the sweep package never imports Ray.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_fixed

from alchemiser.errors import AlchemiserError

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

TASKS_PER_CPU = 4  # in flight per cluster CPU: enough to keep every worker busy between two ray.wait calls
MAX_IN_FLIGHT = 10_000
PROBE_TIMEOUT_S = 10.0  # to open a TCP connection to the cluster's address before handing it to Ray
MAX_CHUNK = 8  # tasks per Ray task, as the embedded engine: grid neighbours share indicator series
MAX_RETRIES = 5  # a task is rerun this often when its worker process or node dies
RUNTIME_ENV_VAR = "ALCHEMISER_RAY_RUNTIME_ENV"  # JSON: Ray's runtime_env for the sweep's workers
_ADDRESS = re.compile(r"^(auto|ray://[^\s/:]+:\d{1,5}|[^\s/:]+:\d{1,5})$")

# this worker process's copy of `shared`, keyed by its object id: fetched and unpickled once per process
_SHARED: dict[str, Any] = {}


def _run_many(fn: Callable[[Any, Any], Any], holder: list[Any], tasks: list[Any]) -> list[Any]:
    """A chunk of neighbouring tasks on one Ray worker; `holder` is `[ObjectRef]` (a list, so Ray does not
    resolve it per task)."""
    import ray

    (ref,) = holder
    key = ref.hex()
    if key not in _SHARED:
        _SHARED.clear()  # a new sweep in a reused worker: drop the previous one's data
        _SHARED[key] = ray.get(ref)
    return [fn(_SHARED[key], task) for task in tasks]


def check_address(address: str | None) -> str | None:
    """`address` if it is one of the forms Ray accepts (auto, HOST:PORT, ray://HOST:PORT), else a clear error."""
    if address is None:
        return None
    cleaned = address.strip()
    if not _ADDRESS.match(cleaned):
        raise AlchemiserError(f"--address {address!r}: give auto, HOST:PORT (a node of the cluster) or ray://HOST:PORT")
    if cleaned != "auto" and not 1 <= int(cleaned.rpartition(":")[2]) <= 65535:
        raise AlchemiserError(f"--address {address!r}: the port must be between 1 and 65535")
    return cleaned


def runtime_env() -> dict[str, Any] | None:
    """The runtime_env of $ALCHEMISER_RAY_RUNTIME_ENV (e.g. {"pip": ["alchemiser[ray]==0.1.0"]}): how workers
    that do not have the package get it. Unset or empty: the nodes already have it (the same image)."""
    text = os.environ.get(RUNTIME_ENV_VAR, "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise AlchemiserError(f"{RUNTIME_ENV_VAR} is not JSON: {err.msg} at character {err.pos}") from None
    if not isinstance(value, dict):
        raise AlchemiserError(f'{RUNTIME_ENV_VAR} must be a JSON object, such as {{"pip": ["alchemiser[ray]"]}}')
    return value


def _route_ray_logs(name: str = "ray") -> None:
    """Ray's Python loggers write to our log file only (the file handlers `setup_logging` put on the
    "alchemiser" logger), never to the console where the progress bar is.

    `ray.init(configure_logging=False)` empties the "ray" logger while it starts, and warns meanwhile, so
    `_connect` routes "ray._private" too until `ray.init` returns, then "ray" again."""
    from alchemiser.logs import JsonFileHandler

    ray_logger = logging.getLogger(name)
    ray_logger.handlers = [h for h in logging.getLogger("alchemiser").handlers if isinstance(h, JsonFileHandler)]
    ray_logger.propagate = False
    if not ray_logger.handlers:
        ray_logger.addHandler(logging.NullHandler())
    # the driver prints the cluster's error messages ("Task _run failed. There are 5 retries remaining")
    # straight to sys.stdout from a thread, which would corrupt --json: they go to the log file instead
    import ray._private.worker as ray_worker

    if hasattr(ray_worker, "print_to_stdstream"):
        ray_worker.print_to_stdstream = _log_cluster_lines


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _log_cluster_lines(data: dict[str, Any], ignore_prefix: bool = False) -> None:
    """Stand-in for Ray's print_to_stdstream: each line a warning of the `ray.cluster` logger (our file)."""
    for line in data.get("lines", []):
        logging.getLogger("ray.cluster").warning(_ANSI.sub("", str(line)), extra={"ray_pid": str(data.get("pid"))})


CLIENT_ATTEMPTS = 3


def _client_server_slow(err: BaseException) -> bool:
    """A Ray client (ray://) whose per-client server did not start in time on a busy head node: worth
    asking again, unlike an address that refuses or a version mismatch."""
    return isinstance(err, ConnectionError) and "Initialization failure from server" in str(err)


def _connect(address: str | None) -> None:
    """`ray.init` for `address` (None: a Ray started for this sweep on this machine), errors naming --address."""
    import ray

    environment = runtime_env()
    _route_ray_logs()
    _route_ray_logs("ray._private")  # ray.init empties "ray" while it starts
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no telemetry from a sweep
    where = "a local Ray" if address is None else f"the Ray cluster at --address {address}"
    if address is not None and address != "auto":
        _probe(address, where)  # Ray itself retries an unreachable address for minutes, printing as it goes
    try:
        for attempt in Retrying(
            retry=retry_if_exception(_client_server_slow),
            stop=stop_after_attempt(CLIENT_ATTEMPTS),
            wait=wait_fixed(2),
            before_sleep=lambda _: ray.shutdown(),
            reraise=True,
        ):
            with attempt:
                ray.init(
                    address=address or "local",
                    configure_logging=False,
                    log_to_driver=False,  # workers' stdout/stderr stay in the cluster's log files
                    include_dashboard=False if address is None else None,
                    ignore_reinit_error=False,
                    runtime_env=environment,
                )
    except (ConnectionError, TimeoutError) as err:
        raise AlchemiserError(f"cannot connect to {where}: {_first_line(err)} (is the cluster running?)") from None
    except Exception as err:  # Ray raises RuntimeError/ValueError/... for a cluster it cannot use
        hint = f"; check {RUNTIME_ENV_VAR}" if environment else ""
        need = "the cluster must run the same Ray and Python versions as this machine" if address else "see Ray's logs"
        raise AlchemiserError(f"cannot use {where}: {_first_line(err)} ({need}{hint})") from None
    finally:
        _route_ray_logs()
        logging.getLogger("ray._private").handlers = []
        logging.getLogger("ray._private").propagate = True
    log.info(
        "ray connected",
        extra={"address": address or "local", "resources": ray.cluster_resources()},  # type: ignore[no-untyped-call]
    )


def _probe(address: str, where: str) -> None:
    """Fail fast and clearly when nothing listens at HOST:PORT."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        port_of = "Ray client server (10001 by default)" if address.startswith("ray://") else "head (6379 by default)"
        raise AlchemiserError(
            f"cannot connect to {where}: {reason} (is the cluster running, and is that port its {port_of}?)"
        ) from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:300]


def _cluster_cpus() -> int:
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]


class RayEngine:
    """Runs a sweep's tasks on Ray: `address` None starts a local Ray for the sweep; "auto" joins the cluster
    this machine is part of; "HOST:PORT" joins that cluster as a driver; "ray://HOST:PORT" uses Ray client."""

    def __init__(self, address: str | None = None) -> None:
        self.address = check_address(address)

    def map_unordered(self, fn: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> Iterator[R]:
        if not tasks:
            return
        import ray
        from ray.exceptions import RayError, RayTaskError

        started = not ray.is_initialized()
        if started:
            _connect(self.address)
        pending: list[Any] = []
        try:
            remote = ray.remote(max_retries=MAX_RETRIES, retry_exceptions=False)(_run_many)
            holder = [ray.put(shared)]  # once: every task gets the reference, not the data
            cpus = _cluster_cpus()
            window = min(MAX_IN_FLIGHT, cpus * TASKS_PER_CPU)
            size = max(1, min(MAX_CHUNK, len(tasks) // (cpus * 8)))
            chunks = (list(tasks[i : i + size]) for i in range(0, len(tasks), size))
            for chunk in chunks:
                pending.append(remote.remote(fn, holder, chunk))
                if len(pending) >= window:
                    break
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    try:
                        results = ray.get(ref)
                    except RayTaskError as err:
                        cause = err.cause
                        if isinstance(cause, AlchemiserError):
                            raise cause from None
                        raise AlchemiserError(f"a sweep task failed on the Ray cluster: {_first_line(err)}") from None
                    except RayError as err:
                        raise AlchemiserError(
                            f"a sweep task was lost on the Ray cluster after {MAX_RETRIES} retries "
                            f"({_first_line(err)}); rerun the same command to compute only what is missing"
                        ) from None
                    yield from results
                for chunk in chunks:
                    pending.append(remote.remote(fn, holder, chunk))
                    if len(pending) >= window:
                        break
        finally:
            for ref in pending:  # stopped early (Ctrl-C, an error): nothing keeps running for us
                with contextlib.suppress(Exception):  # best effort while stopping
                    ray.cancel(ref, force=True)
            if started:
                ray.shutdown()
