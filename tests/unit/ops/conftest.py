"""Fixtures for the operations tests: a small lake under tmp_path written through the engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lakehouse.audit import AuditRecord, Status, append_audit
from lakehouse.config.models import Settings
from lakehouse.engine.deltars import DeltaRsEngine

T0 = dt.datetime(2026, 1, 10, 8, 0, tzinfo=dt.UTC)


def settings_for(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        lake_root=tmp_path / "lake",
        landing_dir=tmp_path / "landing",
        clients_dir=Path(__file__).resolve().parents[3] / "clients",
        **extra,
    )


def audit(
    settings: Settings,
    name: str,
    status: Status,
    *,
    client: str | None = "acme",
    minutes: int = 0,
    sha: str | None = None,
    read: int | None = None,
    quarantined: int = 0,
    run_id: str = "run-1",
    reason: str | None = None,
    size: int | None = 100,
    created: dt.date | None = None,
    stages: dict[str, float] | None = None,
) -> AuditRecord:
    """Append one audit row (a SUCCESS row gets consistent counts)."""
    started = T0 + dt.timedelta(minutes=minutes)
    record = AuditRecord(
        client_id=client,
        file_name=name,
        run_id=run_id,
        engine="delta-rs",
        started_at=started,
        status=status,
        file_sha256=sha,
        file_size=size,
        reason=reason,
        finished_at=started + dt.timedelta(seconds=5),
        creation_date=created,
        sequence=None if created is None else 0,  # a bare name: the day's first file
        stage_seconds=stages or {},
    )
    if read is not None:
        record.rows_read, record.rows_quarantined = read, quarantined
        record.rows_valid = read - quarantined
        record.rows_inserted, record.rows_updated = read - quarantined, 0
        record.rows_unchanged = record.rows_stale = 0
    append_audit(DeltaRsEngine(), settings.audit_path, [record])
    return record


def quarantine(settings: Settings, rows: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [
                ("client_id", pa.string()),
                ("first_name", pa.string()),
                ("_reasons", pa.list_(pa.string())),
                ("_source_file", pa.string()),
                ("_creation_date", pa.date32()),
            ]
        ),
    )
    DeltaRsEngine().append(
        settings.table_path("quarantine", "members"), table, partition_by=["client_id"]
    )


class Lake:
    """Settings for a lake under tmp_path, and helpers that write its tables."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.settings = settings_for(tmp_path)
        self.engine = DeltaRsEngine()

    def audit(self, name: str, status: Status, **kwargs: Any) -> AuditRecord:
        return audit(self.settings, name, status, **kwargs)

    def quarantine(self, rows: list[dict[str, Any]]) -> None:
        quarantine(self.settings, rows)


@pytest.fixture()
def lake(tmp_path: Path) -> Lake:
    return Lake(tmp_path)
