"""Quarantine resolutions: which quarantined rows were replayed into silver, by whom, why.

The quarantine table is append-only and stays so: a resolution is a row of its own in
``<lake>/audit/quarantine_resolutions`` (partitioned by ``client_id``), keyed by the row's
file content and record number (``file_sha256``, ``record_number``, the same pair that
identifies it in quarantine and bronze). A quarantined row is *open* while no resolution
names it. Resolutions hold identifiers, reason codes and the operator's words, never a value
(nor ``_key_token``: erasure has nothing to find here).

Arrow only (no Spark): ``lakehouse quarantine`` reads it without starting a JVM.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine

__all__ = [
    "MALFORMED",
    "REPLAY_REASON",
    "RESOLUTION_SCHEMA",
    "QuarantinedRow",
    "append_resolutions",
    "quarantined_rows",
    "resolutions_path",
    "resolved_keys",
]

MALFORMED = "_record:malformed"
# The audit reason of a replay's SUCCESS row: its counts are the replayed rows only, so views
# that count a file once by its latest outcome move them from quarantined to valid instead.
REPLAY_REASON = "replay"

RESOLUTION_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("dataset", pa.string()),
        ("file_sha256", pa.string()),
        ("source_file", pa.string()),
        ("record_number", pa.int64()),
        ("status", pa.string()),  # resolved
        ("resolution", pa.string()),  # replayed (into silver after a config fix)
        ("reasons_before", pa.list_(pa.string())),  # the quarantine reasons it had
        ("run_id", pa.string()),  # the replay run: its audit row and silver commit
        ("replay_id", pa.string()),  # content id of the replayed batch (idempotency)
        ("silver_version", pa.int64()),  # None: every row was unchanged or stale
        ("resolved_at", pa.timestamp("us", tz="UTC")),
        ("user", pa.string()),
        ("host", pa.string()),
        ("reason", pa.string()),  # the operator's reason (ticket, sentence)
    ]
)


def resolutions_path(settings: Settings) -> Path:
    return settings.lake_root / "audit" / "quarantine_resolutions"


def resolved_keys(engine: TableEngine, settings: Settings, client_id: str) -> set[tuple[str, int]]:
    """(file_sha256, record_number) of the client's resolved quarantine rows."""
    path = resolutions_path(settings)
    if not engine.exists(path):
        return set()
    table = engine.read(
        path, columns=["file_sha256", "record_number"], partition=("client_id", client_id)
    )
    return {
        (str(sha), int(number))
        for sha, number in zip(
            table.column("file_sha256").to_pylist(),
            table.column("record_number").to_pylist(),
            strict=True,
        )
    }


def append_resolutions(
    engine: TableEngine, settings: Settings, rows: Sequence[dict[str, Any]], *, app_id: str
) -> bool:
    """Append resolution rows once per ``app_id`` (a repeat is a no-op). True if committed."""
    if not rows:
        return False
    table = pa.Table.from_pylist(list(rows), schema=RESOLUTION_SCHEMA)
    return engine.append(
        resolutions_path(settings), table, partition_by=["client_id"], app_id=app_id
    )


@dataclass(frozen=True)
class QuarantinedRow:
    """A quarantined row's identity and reasons (never its values) and whether it is open."""

    source_file: str
    file_sha256: str | None
    record_number: int | None
    creation_date: dt.date | None
    sequence: int | None
    reasons: tuple[str, ...]
    resolved: bool

    @property
    def malformed(self) -> bool:
        return MALFORMED in self.reasons


_IDENTITY = (
    "_source_file",
    "_file_sha256",
    "_record_number",
    "_creation_date",
    "_sequence",
    "_reasons",
)


def quarantined_rows(
    settings: Settings,
    engine: TableEngine,
    client: ClientConfig,
    *,
    files: Collection[str] | None = None,
) -> list[QuarantinedRow]:
    """The client's quarantined rows (optionally from ``files`` only), open or resolved."""
    path = settings.table_path("quarantine", client.dataset)
    if not engine.exists(path):
        return []
    present = set(
        engine.read(
            path,
            partition=("client_id", client.client_id),
            key_filter=("_source_file", []),  # no rows: the schema
        ).column_names
    )
    table = engine.read(
        path,
        columns=[c for c in _IDENTITY if c in present],
        partition=("client_id", client.client_id),
    )
    if files is not None:
        wanted = pa.array(sorted(files), pa.string())
        table = table.filter(pc.is_in(table.column("_source_file").cast(pa.string()), wanted))
    resolved = resolved_keys(engine, settings, client.client_id)
    rows: list[QuarantinedRow] = []
    for record in table.to_pylist():
        sha, number = record.get("_file_sha256"), record.get("_record_number")
        rows.append(
            QuarantinedRow(
                source_file=str(record["_source_file"]),
                file_sha256=sha,
                record_number=number,
                creation_date=record.get("_creation_date"),
                sequence=record.get("_sequence"),
                reasons=tuple(record.get("_reasons") or ()),
                resolved=sha is not None and number is not None and (sha, number) in resolved,
            )
        )
    return rows
