"""Where a sweep's backtests run: `embedded` (a local process pool, the default) or `ray` (a Ray cluster)."""

from __future__ import annotations

import importlib.util

from alchemiser.errors import AlchemiserError
from alchemiser.sweep.engines.base import Engine

ENGINES = ("embedded", "ray")


def make_engine(name: str, *, workers: int | None, address: str | None) -> Engine:
    """The engine called `name`; Ray is imported only when asked for, with an install hint when missing."""
    if name == "embedded":
        if address is not None:
            raise AlchemiserError("--address names a Ray cluster; it needs --engine ray")
        from alchemiser.sweep.engines.embedded import EmbeddedEngine

        return EmbeddedEngine(workers)
    if name == "ray":
        if workers is not None:
            raise AlchemiserError(
                "--workers sizes the embedded engine's process pool; with --engine ray the cluster's CPUs set "
                "how many backtests run at once"
            )
        if importlib.util.find_spec("ray") is None:
            raise AlchemiserError("--engine ray needs Ray, which is not installed: pip install 'alchemiser[ray]'")
        try:
            from alchemiser.sweep.engines.ray_engine import RayEngine  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise AlchemiserError("--engine ray is not available in this version yet") from None
        engine: Engine = RayEngine(address)
        return engine
    raise AlchemiserError(f"--engine must be one of {', '.join(ENGINES)} (got {name!r})")
