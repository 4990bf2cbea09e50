"""Backtest jobs on disk, so a restart of `alchemiser web` keeps finished results and owns up to lost ones.

Each job's folder under `$ALCHEMISER_HOME/web/backtests/<id>/` holds `job.json` (request, status, the
process that ran it), and once done `result.json` and `charts.json` next to the CLI's report files. Files
are replaced atomically (write a temporary file, then rename), so a server killed mid-write leaves the
previous version, never a half-written one. A job found `queued` or `running` whose process is gone
was cut off by a crash or a kill: it is marked `interrupted`, never left running forever.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from alchemiser.formatting import json_ready

JOB_FILE, RESULT_FILE, CHARTS_FILE = "job.json", "result.json", "charts.json"
UNFINISHED = ("queued", "running")


def write_json(path: Path, payload: Any) -> None:
    """Replace `path` atomically with strict JSON (NaN as null)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(json_ready(payload), handle, allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """The parsed file, or None when it is missing or unreadable (a job folder a user edited by hand)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def alive(pid: object) -> bool:
    """Whether process `pid` still exists (signal 0 checks without touching it)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process holds that id now: not our server
        return False
    return True


def stored_jobs(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(folder, job.json) of every readable job under `root`, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        meta = read_json(folder / JOB_FILE) if folder.is_dir() else None
        if isinstance(meta, dict) and isinstance(meta.get("id"), str) and meta["id"] == folder.name:
            found.append((folder, meta))
    found.sort(key=lambda item: str(item[1].get("created", "")))
    return found
