"""The schema registry: ``<lake>/schema/registry``, one Delta row per accepted schema version.

Each client and dataset has versions 1, 2, ...; version 1 is the baseline (the columns the
client YAML declared when the first change was approved), every later version is one approved
change: who approved it, when and why, and the whole accepted column list after it
(``columns_json``: names, headers, types and PII policies, never data values). The overlay
next to the client YAML (``lakehouse.evolution.overlay``) is what the loader merges; the
registry is the record behind it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.config.models import ClientConfig, ColumnSpec
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError

__all__ = [
    "REGISTRY_SCHEMA",
    "RegistryEntry",
    "accepted_silver_columns",
    "column_record",
    "record_change",
    "registry_entries",
    "registry_path",
]

REGISTRY_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("dataset", pa.string()),
        ("version", pa.int64()),
        ("change", pa.string()),  # baseline | add | type
        ("column_name", pa.string()),
        ("source", pa.string()),
        ("type", pa.string()),
        ("pii", pa.string()),
        ("approved_by", pa.string()),
        ("approved_at", pa.timestamp("us", tz="UTC")),
        ("reason", pa.string()),
        ("columns_json", pa.string()),
    ]
)


def registry_path(lake_root: Path) -> Path:
    return lake_root / "schema" / "registry"


@dataclass(frozen=True)
class RegistryEntry:
    """One version of a client's accepted schema."""

    client_id: str
    dataset: str
    version: int
    change: str
    column_name: str | None
    source: str | None
    type: str | None
    pii: str | None
    approved_by: str
    approved_at: dt.datetime
    reason: str
    columns: tuple[dict[str, Any], ...]

    def as_row(self) -> dict[str, Any]:
        row = {k: v for k, v in self.__dict__.items() if k != "columns"}
        row["columns_json"] = json.dumps(list(self.columns), sort_keys=True)
        return row


def column_record(spec: ColumnSpec) -> dict[str, Any]:
    """What the registry keeps of a column: its declaration (no data)."""
    return spec.model_dump(mode="json", exclude_defaults=True)


def registry_entries(engine: TableEngine, lake_root: Path, client_id: str) -> list[RegistryEntry]:
    """The client's versions, oldest first ([] when nothing was approved yet)."""
    path = registry_path(lake_root)
    if not engine.exists(path):
        return []
    table = engine.read(path)
    rows = table.filter(pc.equal(table.column("client_id"), client_id)).to_pylist()
    entries = [
        RegistryEntry(
            client_id=r["client_id"],
            dataset=r["dataset"],
            version=int(r["version"]),
            change=r["change"],
            column_name=r["column_name"],
            source=r["source"],
            type=r["type"],
            pii=r["pii"],
            approved_by=r["approved_by"],
            approved_at=r["approved_at"],
            reason=r["reason"],
            columns=tuple(json.loads(r["columns_json"])),
        )
        for r in rows
    ]
    return sorted(entries, key=lambda e: e.version)


def accepted_silver_columns(engine: TableEngine, lake_root: Path, client_id: str) -> set[str]:
    """The silver columns (every policy but ``drop``) of the client's latest registry version;
    empty when the client has no registry version."""
    entries = registry_entries(engine, lake_root, client_id)
    if not entries:
        return set()
    return {str(c["name"]) for c in entries[-1].columns if c.get("pii") != "drop"}


def record_change(
    engine: TableEngine,
    lake_root: Path,
    *,
    before: ClientConfig,
    approved: Sequence[ColumnSpec],
    change: str,
    approved_by: str,
    reason: str,
    now: dt.datetime | None = None,
) -> RegistryEntry:
    """Append the version that accepts ``approved`` columns (a baseline first, if none).

    The append carries an app id of (client, version): two approvals racing for the same
    version cannot both commit it; the loser's append is a no-op and it is told to retry.

    Returns the new version's entry.
    """
    at = now or dt.datetime.now(dt.UTC)
    existing = registry_entries(engine, lake_root, before.client_id)
    entries: list[RegistryEntry] = []
    version = existing[-1].version if existing else 0
    if not existing:
        version = 1
        entries.append(
            RegistryEntry(
                client_id=before.client_id,
                dataset=before.dataset,
                version=version,
                change="baseline",
                column_name=None,
                source=None,
                type=None,
                pii=None,
                approved_by=approved_by,
                approved_at=at,
                reason=f"columns declared in clients/{before.client_id}.yaml",
                columns=tuple(column_record(c) for c in before.columns),
            )
        )
    names = {c.name for c in approved}
    after = [c for c in before.columns if c.name not in names]
    after += list(approved)
    for spec in approved:
        version += 1
        entries.append(
            RegistryEntry(
                client_id=before.client_id,
                dataset=before.dataset,
                version=version,
                change=change,
                column_name=spec.name,
                source=spec.header,
                type=spec.type,
                pii=spec.pii or "none",
                approved_by=approved_by,
                approved_at=at,
                reason=reason,
                columns=tuple(column_record(c) for c in after),
            )
        )
    table = pa.Table.from_pylist([e.as_row() for e in entries], schema=REGISTRY_SCHEMA)
    committed = engine.append(
        registry_path(lake_root),
        table,
        app_id=f"lakehouse:schema:{before.client_id}:{version}",
        metadata={"client_id": before.client_id, "schema_version": str(version)},
    )
    if not committed:
        raise LakehouseError(
            f"schema version {version} was recorded by another approval meanwhile",
            client=before.client_id,
            fix="run `lakehouse schema diff` again and repeat the approval if still needed",
        )
    return entries[-1]
