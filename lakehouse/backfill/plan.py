"""What a backfill would re-process: the client's files in a creation-date range, in order.

Reads the archive folder (or bronze) and the audit only; never starts Spark, so ``--dry-run``
is fast and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.archive import archived_client_files
from lakehouse.audit import Status
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError, LandingFileError
from lakehouse.landing.checksum import sha256_file
from lakehouse.landing.filenames import LandingFile, parse_file_name

__all__ = ["BACKFILL_REASON", "BackfillFile", "BackfillPlan", "Source", "plan_backfill"]

log = logging.getLogger(__name__)

Source = Literal["archive", "bronze"]
BACKFILL_REASON = "backfill"


@dataclass(frozen=True)
class BackfillFile:
    """One file to re-process. ``duplicate_of``: its bytes were first ingested under another
    name, so it is audited DUPLICATE again instead of being re-processed (the normal run
    skipped it; a backfill must not resurrect it with a newer creation date)."""

    landing: LandingFile
    source: Source
    sha256: str
    path: Path | None = None  # the archived file; None for bronze
    size: int | None = None
    rows: int | None = None  # bronze rows (bronze source)
    last_status: str | None = None
    duplicate_of: str | None = None
    released: bool = False  # an operator released it once (HELD -> SUCCESS): honour that

    @property
    def name(self) -> str:
        return self.landing.name

    def as_row(self) -> dict[str, Any]:
        return {
            "file_name": self.name,
            "creation_date": self.landing.creation_date.isoformat(),
            "sequence": self.landing.sequence,
            "size": self.size,
            "sha256": self.sha256[:12],
            "last_status": self.last_status,
            "action": f"duplicate_of:{self.duplicate_of}" if self.duplicate_of else "reprocess",
            "source": self.source,
        }


@dataclass(frozen=True)
class BackfillPlan:
    client_id: str
    start: dt.date
    end: dt.date
    source: Source
    files: list[BackfillFile]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


@dataclass(frozen=True)
class _AuditView:
    last_status: dict[str, str]  # file name -> status of its latest row
    first_success: dict[str, str]  # sha256 -> name it was first ingested under
    size_by_sha: dict[str, int]
    released: set[str]  # file names an operator released


def _audit_view(settings: Settings, engine: TableEngine, client_id: str) -> _AuditView:
    if not engine.exists(settings.audit_path):
        return _AuditView({}, {}, {}, set())
    table = engine.read(
        settings.audit_path,
        columns=[
            "client_id",
            "file_name",
            "file_sha256",
            "file_size",
            "status",
            "reason",
            "finished_at",
        ],
    )
    table = table.filter(pc.equal(table.column("client_id").cast(pa.string()), client_id))
    rows = sorted(table.to_pylist(), key=lambda r: (r["finished_at"] is not None, r["finished_at"]))
    view = _AuditView({}, {}, {}, set())
    for row in rows:
        view.last_status[row["file_name"]] = row["status"]
        sha = row["file_sha256"]
        if row["status"] == Status.SUCCESS and sha:
            view.first_success.setdefault(sha, row["file_name"])
            if row["reason"] == "released":
                view.released.add(row["file_name"])
            if row["file_size"] is not None:
                view.size_by_sha[sha] = int(row["file_size"])
    return view


def _from_archive(
    settings: Settings, clients: Mapping[str, ClientConfig], client_id: str
) -> tuple[list[BackfillFile], list[tuple[str, str]]]:
    files, skipped = [], []
    for path in archived_client_files(settings, client_id):
        try:
            landing = parse_file_name(path.name, clients)
        except LandingFileError as error:
            skipped.append((path.name, error.reason))
            continue
        if landing.feed != client_id:
            continue  # a file of another dataset of the client (backfills: README, "Datasets")
        files.append(
            BackfillFile(
                landing=landing,
                source="archive",
                sha256=sha256_file(path),
                path=path,
                size=path.stat().st_size,
            )
        )
    return files, skipped


def _from_bronze(
    settings: Settings, engine: TableEngine, clients: Mapping[str, ClientConfig], client_id: str
) -> tuple[list[BackfillFile], list[tuple[str, str]]]:
    bronze = settings.table_path("bronze", clients[client_id].dataset)
    if not engine.exists(bronze):
        return [], []
    table = engine.read(
        bronze, columns=["_source_file", "_file_sha256"], partition=("client_id", client_id)
    )
    counts = (
        pa.table(
            {
                "name": table.column("_source_file").cast(pa.string()),
                "sha": table.column("_file_sha256").cast(pa.string()),
            }
        )
        .group_by(["name", "sha"])
        .aggregate([([], "count_all")])
        .to_pylist()
    )
    files, skipped = [], []
    for row in counts:
        try:
            landing = parse_file_name(row["name"], clients)
        except LandingFileError as error:
            skipped.append((row["name"], error.reason))
            continue
        files.append(
            BackfillFile(
                landing=landing, source="bronze", sha256=row["sha"], rows=int(row["count_all"])
            )
        )
    return files, skipped


def plan_backfill(
    settings: Settings,
    clients: Mapping[str, ClientConfig],
    engine: TableEngine,
    *,
    client_id: str,
    start: dt.date,
    end: dt.date,
    source: Source = "archive",
) -> BackfillPlan:
    """The client's files with a creation date in ``[start, end]``, in (date, sequence) order.

    Raises:
        LakehouseError: unknown client, or ``start`` after ``end``.
    """
    if client_id not in clients:
        raise LakehouseError(
            f"unknown client '{client_id}'",
            client=client_id,
            step="backfill",
            fix=f"choose from {', '.join(sorted(clients))} or add clients/{client_id}.yaml",
        )
    if start > end:
        raise LakehouseError(
            f"--from {start} is after --to {end}",
            client=client_id,
            step="backfill",
            fix="swap the dates",
        )
    if source == "archive":
        found, skipped = _from_archive(settings, clients, client_id)
    else:
        found, skipped = _from_bronze(settings, engine, clients, client_id)
    audit = _audit_view(settings, engine, client_id)
    in_range = sorted(
        (f for f in found if start <= f.landing.creation_date <= end),
        key=lambda f: (f.landing.creation_date, f.landing.sequence, f.name),
    )
    planned: list[BackfillFile] = []
    first_in_plan: dict[str, str] = {}
    for file in in_range:
        original = audit.first_success.get(file.sha256) or first_in_plan.get(file.sha256)
        first_in_plan.setdefault(file.sha256, file.name)
        planned.append(
            BackfillFile(
                landing=file.landing,
                source=file.source,
                sha256=file.sha256,
                path=file.path,
                size=file.size if file.size is not None else audit.size_by_sha.get(file.sha256),
                rows=file.rows,
                last_status=audit.last_status.get(file.name),
                duplicate_of=original if original not in (None, file.name) else None,
                released=file.name in audit.released,
            )
        )
    for name, reason in skipped:
        log.warning("backfill ignores a file", extra={"file": name, "reason": reason})
    return BackfillPlan(client_id, start, end, source, planned, skipped)
