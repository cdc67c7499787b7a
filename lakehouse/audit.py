"""Audit: one row per file per run in ``<lake>/audit/files``; the proof that no row is lost.

For every file that was read: ``rows_read = rows_valid + rows_quarantined`` and
``rows_valid = rows_inserted + rows_updated + rows_unchanged + rows_stale``.
Audit rows hold identifiers, counts and reason codes only, never data values.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakehouse.config.datasets import feed_of
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError

if TYPE_CHECKING:
    from lakehouse.config.models import ClientConfig

__all__ = [
    "AUDIT_SCHEMA",
    "PII_EVENT_SCHEMA",
    "AuditRecord",
    "PiiEvent",
    "Status",
    "append_audit",
    "append_pii_event",
    "delivered_sequences",
    "ingested_files",
    "latest_outcomes",
    "pii_events_path",
    "safe_error",
]


class Status(StrEnum):
    SUCCESS = "SUCCESS"  # read, validated, merged
    DUPLICATE = "DUPLICATE"  # same SHA-256 as a file already ingested: skipped
    REJECTED = "REJECTED"  # not processable (name, client, header): nothing written
    FAILED = "FAILED"  # an error stopped processing; the file is retried on the next run
    HELD = "HELD"  # invalid ratio above threshold, or drift to hold: nothing reached silver


AUDIT_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("file_name", pa.string()),
        ("file_sha256", pa.string()),
        ("file_size", pa.int64()),
        ("creation_date", pa.date32()),
        ("sequence", pa.int32()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_valid", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("rows_inserted", pa.int64()),
        ("rows_updated", pa.int64()),
        ("rows_unchanged", pa.int64()),
        ("rows_stale", pa.int64()),
        ("silver_version", pa.int64()),
        ("run_id", pa.string()),
        ("engine", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("stage_seconds", pa.string()),
        ("error", pa.string()),
        # JSON {kind: count} of PHI redacted in free-text columns (NULL: no free-text column).
        ("phi_redactions", pa.string()),
        # JSON {column: {"null": n, "invalid": n}} of a file that was read: counts only, the
        # baseline of data-quality drift checks (NULL: not read, or no drift: for its client).
        ("column_stats", pa.string()),
        # JSON {"checked": [...], "findings": [{check, column, observed, baseline, tolerance,
        # low, high, action, history}]} (NULL: no drift check applied; DesignDoc, "Drift").
        ("drift", pa.string()),
        # The dataset of the file (members, readings, ...); NULL in rows written before
        # clients had several datasets, and for files no dataset was found for.
        ("dataset", pa.string()),
    ]
)


@dataclass
class AuditRecord:
    client_id: str | None
    file_name: str
    run_id: str
    engine: str
    started_at: dt.datetime
    status: Status = Status.FAILED
    file_sha256: str | None = None
    file_size: int | None = None
    creation_date: dt.date | None = None
    sequence: int | None = None
    reason: str | None = None
    rows_read: int | None = None
    rows_valid: int | None = None
    rows_quarantined: int | None = None
    rows_inserted: int | None = None
    rows_updated: int | None = None
    rows_unchanged: int | None = None
    rows_stale: int | None = None
    silver_version: int | None = None
    finished_at: dt.datetime | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    phi_redactions: dict[str, int] | None = None
    column_stats: dict[str, dict[str, int]] | None = None
    drift: dict[str, Any] | None = None
    dataset: str | None = None

    def as_row(self) -> dict[str, object]:
        row = asdict(self)
        row["status"] = self.status.value
        row["stage_seconds"] = json.dumps(self.stage_seconds, sort_keys=True)
        if self.phi_redactions is not None:
            row["phi_redactions"] = json.dumps(self.phi_redactions, sort_keys=True)
        for name in ("column_stats", "drift"):
            if row[name] is not None:
                row[name] = json.dumps(row[name], sort_keys=True)
        return row

    def conserved(self) -> bool:
        """True when every row read is accounted for (vacuously for files not read)."""
        if self.rows_read is None:
            return True
        parts = (self.rows_inserted, self.rows_updated, self.rows_unchanged, self.rows_stale)
        valid_ok = self.rows_valid is not None and self.rows_quarantined is not None
        split_ok = valid_ok and self.rows_read == (self.rows_valid or 0) + (
            self.rows_quarantined or 0
        )
        merge_ok = any(p is None for p in parts) or sum(p or 0 for p in parts) == self.rows_valid
        return bool(split_ok and merge_ok)


def append_audit(engine: TableEngine, path: Path, records: list[AuditRecord]) -> None:
    if records:
        table = pa.Table.from_pylist([r.as_row() for r in records], schema=AUDIT_SCHEMA)
        engine.append(path, table)


def ingested_files(engine: TableEngine, path: Path) -> dict[str, str]:
    """SHA-256 -> file name of every file that was ingested successfully."""
    if not engine.exists(path):
        return {}
    table = engine.read(path, columns=["file_sha256", "file_name", "status"])
    return {
        sha: name
        for sha, name, status in zip(
            table.column("file_sha256").to_pylist(),
            table.column("file_name").to_pylist(),
            table.column("status").to_pylist(),
            strict=True,
        )
        if status == Status.SUCCESS and sha
    }


def delivered_sequences(
    engine: TableEngine, path: Path, clients: Mapping[str, ClientConfig]
) -> dict[tuple[str, dt.date], set[int]]:
    """(feed, creation date) -> the sequence numbers of that day's audited files, whatever
    their outcome: a file that arrived is not missing (a REJECTED one has its own row and
    alert saying why it must be sent again). ``clients``: the configs by feed."""
    if not engine.exists(path):
        return {}
    names = ["client_id", "creation_date", "sequence", "dataset"]
    table = engine.read(path, columns=[n for n in names if n in _columns(engine, path)])
    days: dict[tuple[str, dt.date], set[int]] = {}
    for row in table.to_pylist():
        if None not in (row["client_id"], row["creation_date"], row["sequence"]):
            feed = feed_of(row["client_id"], row.get("dataset"), clients)
            days.setdefault((feed, row["creation_date"]), set()).add(row["sequence"])
    return days


def _columns(engine: TableEngine, path: Path) -> list[str]:
    schema = engine.schema(path)
    return list(schema.names) if schema is not None else []


def latest_outcomes(engine: TableEngine, path: Path) -> dict[str, dict[str, Any]]:
    """File name -> its latest audit row (client_id, status, file_sha256, finished_at)."""
    if not engine.exists(path):
        return {}
    rows = engine.read(
        path, columns=["file_name", "client_id", "status", "file_sha256", "finished_at"]
    ).to_pylist()
    # Scan order is not commit order: sort by time, unfinished rows first.
    rows.sort(key=lambda r: (r["finished_at"] is not None, r["finished_at"]))
    return {str(r["file_name"]): r for r in rows}


PII_EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("event", pa.string()),  # decrypt | forget | keys_rotate
        ("status", pa.string()),  # SUCCESS | FAILED
        ("client_id", pa.string()),
        ("tables", pa.string()),
        ("columns", pa.string()),
        ("rows", pa.int64()),
        ("key_ids", pa.string()),
        # forget/decrypt by member: a keyed fingerprint of the request, never the value or
        # the member's token (erasure verifies that token is gone from every file).
        ("subject", pa.string()),
        ("reason", pa.string()),
        ("user", pa.string()),
        ("host", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("detail", pa.string()),  # JSON: counts, files removed, verification
        ("error", pa.string()),
    ]
)


@dataclass
class PiiEvent:
    """One use of a PII-revealing or PII-destroying command (``lakehouse/audit/pii_events``)."""

    event: str
    client_id: str | None
    started_at: dt.datetime
    user: str
    host: str
    event_id: str = ""
    status: str = "FAILED"
    tables: str | None = None
    columns: str | None = None
    rows: int | None = None
    key_ids: str | None = None
    subject: str | None = None
    reason: str | None = None
    finished_at: dt.datetime | None = None
    detail: dict[str, object] = field(default_factory=dict)
    error: str | None = None

    def as_row(self) -> dict[str, object]:
        row = asdict(self)
        row["detail"] = json.dumps(self.detail, sort_keys=True, default=str)
        return row


def pii_events_path(lake_root: Path) -> Path:
    return lake_root / "audit" / "pii_events"


def append_pii_event(engine: TableEngine, lake_root: Path, event: PiiEvent) -> None:
    table = pa.Table.from_pylist([event.as_row()], schema=PII_EVENT_SCHEMA)
    engine.append(pii_events_path(lake_root), table)


_QUOTED = re.compile(r"""['"].*""")
# Identifiers only: JVM exception classes (``org.apache.spark.memory.SparkOutOfMemoryError``)
# and Spark error classes (``[UNABLE_TO_ACQUIRE_MEMORY]``). Stack frames do not match.
_JAVA_CAUSE = re.compile(
    r"\b((?:[a-z_][a-z0-9_]*\.)+[A-Z]\w*(?:Exception|Error))\b|\[([A-Z][A-Z0-9_.]+)\]"
)
_MAX_CAUSES = 4


def _causes(lines: list[str]) -> str:
    """Exception and error classes named after the first line (a JVM stack trace's causes)."""
    found: dict[str, None] = {}
    for line in lines:
        for match in _JAVA_CAUSE.finditer(_QUOTED.sub("", line)):
            name = match.group(1) or f"[{match.group(2)}]"
            if not name.startswith("py4j."):
                found[name] = None
    return ", ".join(list(found)[-_MAX_CAUSES:])


def safe_error(exc: BaseException) -> str:
    """An error text fit for the audit and logs: our own messages never carry values;
    foreign ones (Spark, Arrow, delta-rs) may quote data, so quoted parts are withheld.

    A JVM error's first line only names the call (``An error occurred while calling
    o1254.parquet``); the exception and error classes of its trace, identifiers without
    values, are appended so the audit says what went wrong.
    """
    if isinstance(exc, LakehouseError):
        return str(exc)
    lines = str(exc).splitlines()
    text = _QUOTED.sub("'<withheld>'", lines[0] if lines else "")[:500]
    causes = _causes(lines[1:])
    return f"{type(exc).__name__}: {text}" + (f" (caused by {causes})" if causes else "")
