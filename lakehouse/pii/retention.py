"""Retention: delete what a client's ``retention:`` periods say has expired, and prove it.

Per layer with a period (``lakehouse.config.retention``):

1. counts the client's rows whose ``_creation_date`` is before the cutoff (bronze,
   quarantine, silver; tables are partitioned by client, so only its partition is read);
2. deletes them in one commit per table, then vacuums with ``full=True`` (older versions
   and ``_change_data`` files go: expired rows must not survive in time travel or the change
   feed) and purges the log history, whose statistics quote the removed files' values;
3. removes archived landing files (``<archive>/<client>/...`` and its rejected files) whose
   creation date, from the file name, is before the archive cutoff; links are never
   followed or removed through;
4. proves it: every data file left under the client's partition, the change feed's
   included, is read back and must hold no expired row (``leftovers``).

The full vacuum rewrites the history of tables shared with other clients (their old
versions go too), so the caller holds the lock of every client writing the dataset.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError, LandingFileError
from lakehouse.landing.filenames import feed_prefix, parse_file_name

__all__ = ["RetentionReport", "apply_retention"]

log = logging.getLogger(__name__)

_TABLE_LAYERS: tuple[Literal["bronze", "quarantine", "silver"], ...] = (
    "bronze",
    "quarantine",
    "silver",
)
_DATE = "_creation_date"


@dataclass
class RetentionReport:
    """What one client's retention found and removed (counts only)."""

    client_id: str
    dry_run: bool
    today: dt.date
    cutoffs: dict[str, str] = field(default_factory=dict)  # layer -> ISO date
    rows: dict[str, int] = field(default_factory=dict)  # expired rows found
    files_removed: dict[str, int] = field(default_factory=dict)
    log_files_purged: dict[str, int] = field(default_factory=dict)
    archive_files: int = 0
    leftovers: dict[str, int] = field(default_factory=dict)  # expired rows still in files

    @property
    def verified(self) -> bool:
        return self.dry_run or not any(self.leftovers.values())

    def as_detail(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "today": self.today.isoformat(),
            "cutoffs": self.cutoffs,
            "rows": self.rows,
            "files_removed": self.files_removed,
            "log_files_purged": self.log_files_purged,
            "archive_files": self.archive_files,
            "leftovers": self.leftovers,
            "verified": self.verified,
        }


def _expired(dates: pa.ChunkedArray | pa.Array, cutoff: dt.date) -> int:
    return int(pc.sum(pc.less(dates, pa.scalar(cutoff, pa.date32()))).as_py() or 0)


def _count_expired(engine: TableEngine, path: Path, client_id: str, cutoff: dt.date) -> int:
    if not engine.exists(path):
        return 0
    rows = engine.read(path, columns=[_DATE], partition=("client_id", client_id))
    return _expired(rows.column(_DATE), cutoff) if rows.num_rows else 0


def _partition_files(path: Path, client_id: str) -> list[Path]:
    """Every Parquet data file of the client's partition, the change feed's included."""
    folder = f"client_id={client_id}"
    return [
        file
        for file in path.rglob("*.parquet")
        if folder in file.parts and "_delta_log" not in file.parts
    ]


def _leftovers(path: Path, client_id: str, cutoff: dt.date) -> int:
    """Expired rows in any file left under the table (not only the current version)."""
    total = 0
    for file in _partition_files(path, client_id):
        if _DATE in pq.read_schema(file).names:
            total += _expired(pq.read_table(file, columns=[_DATE]).column(_DATE), cutoff)
    return total


def _expired_archive_files(
    settings: Settings,
    client: ClientConfig,
    cutoff: dt.date,
    today: dt.date,
    siblings: Collection[str] = (),
) -> list[Path]:
    """Archived files of the client's dataset created before ``cutoff``: by the creation
    date in the name, or, for a name without one (a rejected file), by its modification date
    (archiving keeps the landing file's). Files named for another of the client's datasets
    (``siblings``: their feeds) are theirs: that dataset's retention decides."""
    roots = [
        settings.archive_root / client.client_id,
        settings.archive_root / "_rejected" / client.client_id,
    ]
    clients = {client.feed: client}
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs[:] = [d for d in dirs if not Path(folder, d).is_symlink()]
            for name in files:
                file = Path(folder, name)
                if not stat.S_ISREG(file.lstat().st_mode):
                    continue  # a link is never removed through, nor is its target
                if feed_prefix(name, [client.feed, *siblings]) not in (client.feed, None):
                    continue
                try:
                    created = parse_file_name(name, clients, today=today).creation_date
                except LandingFileError:
                    modified = file.lstat().st_mtime
                    created = dt.datetime.fromtimestamp(modified, dt.UTC).date()
                if created < cutoff:
                    found.append(file)
    return sorted(found)


def apply_retention(
    settings: Settings,
    engine: TableEngine,
    client: ClientConfig,
    *,
    today: dt.date,
    dry_run: bool = False,
    siblings: Collection[str] = (),
) -> RetentionReport:
    """Enforce ``client.retention`` as of ``today`` (see the module docstring) on the
    dataset's tables and archived files (``siblings``: the feeds of the client's other
    datasets, whose archived files are left to their own retention).

    Raises:
        LakehouseError: the client has no retention period configured.
    """
    policy = client.retention
    if not policy.configured:
        raise LakehouseError(
            "no retention period configured",
            client=client.client_id,
            fix=f"add a 'retention:' section to clients/{client.client_id}.yaml (README, "
            "'Retention')",
        )
    report = RetentionReport(client.client_id, dry_run, today)
    for layer in _TABLE_LAYERS:
        cutoff = policy.cutoff(layer, today)
        if cutoff is None:
            continue
        report.cutoffs[layer] = cutoff.isoformat()
        path = settings.table_path(layer, client.dataset)
        expired = _count_expired(engine, path, client.client_id, cutoff)
        report.rows[layer] = expired
        if dry_run:
            continue
        if expired:
            predicate = f"client_id = '{client.client_id}' AND {_DATE} < '{cutoff.isoformat()}'"
            engine.delete(path, predicate, metadata={"lakehouse_operation": "retention"})
            report.files_removed[layer] = len(engine.vacuum_full(path))
            report.log_files_purged[layer] = engine.purge_history(path)
        if engine.exists(path):
            report.leftovers[layer] = _leftovers(path, client.client_id, cutoff)
    cutoff = policy.cutoff("archive", today)
    if cutoff is not None:
        report.cutoffs["archive"] = cutoff.isoformat()
        files = _expired_archive_files(settings, client, cutoff, today, siblings)
        report.archive_files = len(files)
        if not dry_run:
            for file in files:
                file.unlink()
    log.info(
        "retention planned (dry run)" if dry_run else "retention applied",
        extra={
            "client": client.client_id,
            "rows": sum(report.rows.values()),
            "archive_files": report.archive_files,
            "verified": report.verified,
        },
    )
    return report
