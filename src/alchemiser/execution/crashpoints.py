"""Crash injection for the crash-safety harness: SIGKILL this process at the N-th broker interaction.

With `ALCHEMISER_CRASH_AT=N` set, the broker is wrapped so that point N — counting "before" and "after"
each request in turn — kills the process outright (no cleanup, no finally blocks), exactly like a power
cut or an OOM kill. Tests then run the bot again and check that it finishes the job without duplicate
orders. Without the variable nothing is wrapped and nothing is counted.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

CRASH_ENV = "ALCHEMISER_CRASH_AT"
COUNT_FILE_ENV = "ALCHEMISER_CRASH_COUNT_FILE"  # where a run that did not crash reports how many points it had
REQUESTS = frozenset(
    {
        "get_account",
        "get_positions",
        "get_asset",
        "get_assets",
        "get_clock",
        "submit_order",
        "cancel_order",
        "get_order",
        "get_order_by_client_id",
        "list_orders",
        "close_position",
        "get_latest_quote",
    }
)


class CrashingBroker:
    """Delegates everything to `inner`; requests pass two numbered kill points (before and after)."""

    def __init__(self, inner: Any, crash_at: int) -> None:
        self._inner = inner
        self._crash_at = crash_at
        self._count = 0
        self._lock = threading.Lock()

    def _point(self) -> None:
        with self._lock:
            self._count += 1
            hit = self._count == self._crash_at
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in REQUESTS or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._point()
            result = attr(*args, **kwargs)
            self._point()
            return result

        return call

    def close(self) -> None:
        self._inner.close()
        path = os.environ.get(COUNT_FILE_ENV)
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(str(self._count))


def maybe_wrap(broker: Any) -> Any:
    value = os.environ.get(CRASH_ENV, "").strip()
    return CrashingBroker(broker, int(value)) if value.isdigit() else broker
