"""A sweep run's folder: the spec copy, run.json, the crash-safe row journal and the final Parquet file.

Rows go to a SQLite journal (WAL) one commit per finished backtest, so a SIGKILL loses only backtests that
had not finished and can never leave a half-written row; the Parquet file is written whole at the end
(to a temporary name, then renamed), sorted by id. See the package docstring for the layout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from alchemiser.errors import AlchemiserError, cannot_open

RESULTS = "results.parquet"


class SweepStoreError(AlchemiserError):
    """A run folder or results file that cannot be read or written."""


def sweeps_dir(home: Path) -> Path:
    return home / "sweeps"


def run_dir(home: Path, run_id: str) -> Path:
    return sweeps_dir(home) / run_id


class Journal:
    """Finished rows by id; inserting an id twice keeps the first (a rerun never duplicates a row)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "journal.sqlite"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, row TEXT NOT NULL)")
        except (OSError, sqlite3.Error) as exc:
            raise SweepStoreError(cannot_open("the sweep journal", self.path, exc)) from None

    def ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM rows")}

    def add(self, row: dict[str, Any]) -> None:
        self.db.execute("INSERT OR IGNORE INTO rows (id, row) VALUES (?, ?)", (row["id"], json.dumps(row)))

    def rows(self, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        found = [json.loads(r[0]) for r in self.db.execute("SELECT row FROM rows ORDER BY id")]
        if ids is None:
            return found
        wanted = set(ids)
        return [r for r in found if r["id"] in wanted]

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM rows").fetchone()[0])

    def close(self) -> None:
        self.db.close()


def columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The column order: as the first row has them (every row of a run has the same keys)."""
    return list(rows[0]) if rows else ["id"]


def write_parquet(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """All rows sorted by id, written to a temporary name then renamed: readers never see half a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ordered = sorted(rows, key=lambda r: str(r["id"]))
    columns = columns_of(ordered)
    table = pa.table({c: pa.array([r.get(c) for r in ordered]) for c in columns})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except (OSError, pa.ArrowException) as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise SweepStoreError(f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}") from None


def read_parquet(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    except (OSError, ValueError) as exc:
        raise SweepStoreError(f"cannot read sweep results {path}: {exc}") from None
    return rows


def record_run(folder: Path, spec_path: Path, info: dict[str, Any]) -> None:
    """Copy the spec and write run.json (what `sweep export` and the dashboard read)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(spec_path, folder / "spec.toml")
        previous = read_run(folder) if (folder / "run.json").exists() else {}
        data = {**previous, **info, "updated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        data.setdefault("created", data["updated"])
        tmp = folder / ".run.json.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, folder / "run.json")
    except OSError as exc:
        raise SweepStoreError(f"cannot write the sweep run folder {folder}: {exc.strerror or exc}") from None


def read_run(folder: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepStoreError(f"cannot read {folder / 'run.json'}: {exc}") from None
    return data
