"""Views over the Delta tables: quarantine reasons, table history, silver changes (CDF).

Only identifiers, counts and reason codes come out; never values of PII columns. No Spark.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import CommitRecord, TableEngine
from lakehouse.errors import LakehouseError
from lakehouse.resolutions import quarantined_rows

__all__ = [
    "TABLES",
    "TableName",
    "dataset_of",
    "quarantine_reasons",
    "silver_changes",
    "table_history",
    "table_path",
]

TableName = Literal["silver", "bronze", "quarantine", "audit"]
TABLES: tuple[TableName, ...] = ("silver", "bronze", "quarantine", "audit")


def dataset_of(clients: Mapping[str, ClientConfig], client_id: str | None = None) -> str:
    """The dataset of ``client_id`` (its default one), or the one dataset all clients share
    (the clients' default datasets when some have more, e.g. members beside readings)."""
    if client_id is not None:
        if client_id not in clients:
            raise LakehouseError(
                f"unknown client '{client_id}'",
                client=client_id,
                fix=f"choose from {', '.join(sorted(clients))}",
            )
        return clients[client_id].dataset
    datasets = sorted({c.dataset for c in clients.values()})
    if len(datasets) != 1:
        datasets = sorted({c.dataset for f, c in clients.items() if f == c.client_id}) or datasets
    if len(datasets) != 1:
        raise LakehouseError(
            f"clients write {len(datasets)} datasets ({', '.join(datasets)})",
            fix="name one with --dataset",
        )
    return datasets[0]


def table_path(settings: Settings, table: TableName, dataset: str) -> Path:
    return settings.audit_path if table == "audit" else settings.table_path(table, dataset)


def quarantine_reasons(
    settings: Settings,
    engine: TableEngine,
    client: ClientConfig,
    *,
    files: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Reason codes (``column:code``) with the rows and files they occur in, most rows first;
    ``files`` limits it to rows from those landing files.

    ``rows`` = ``open`` + ``resolved``: a row replayed into silver after a config fix
    (``lakehouse quarantine replay``) is resolved, and stays in quarantine with its reasons.
    A row with two reasons counts under both. Values are never read.
    """
    records = quarantined_rows(settings, engine, client, files=files)
    rows: Counter[str] = Counter()
    resolved: Counter[str] = Counter()
    seen_in: dict[str, set[str]] = {}
    latest: dict[str, tuple[dt.date, str]] = {}
    for record in records:
        for reason in record.reasons:
            rows[reason] += 1
            resolved[reason] += int(record.resolved)
            seen_in.setdefault(reason, set()).add(record.source_file)
            seen = (record.creation_date or dt.date.min, record.source_file)
            if reason not in latest or seen > latest[reason]:
                latest[reason] = seen
    total = len(records)
    return [
        {
            "reason": reason,
            "column": reason.split(":", 1)[0],
            "code": reason.split(":", 1)[-1],
            "rows": count,
            "open": count - resolved[reason],
            "resolved": resolved[reason],
            "share_of_quarantined": count / total if total else None,
            "files": len(seen_in[reason]),
            "latest_file": latest[reason][1],
        }
        for reason, count in sorted(rows.items(), key=lambda item: (-item[1], item[0]))
    ]


def _counts(commit: CommitRecord) -> dict[str, int | None]:
    return {"inserted": commit.inserted, "updated": commit.updated, "deleted": commit.deleted}


def _metrics_text(commit: CommitRecord) -> str:
    """``inserted=2 updated=1 deleted=0``: the counts the engine recorded for the commit."""
    return " ".join(f"{name}={n}" for name, n in _counts(commit).items() if n is not None)


def table_history(
    settings: Settings,
    engine: TableEngine,
    table: TableName,
    dataset: str,
    *,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Commits of one table, newest first: version, time, operation, run id, app id, row
    counts (None when the engine recorded none)."""
    commits = engine.history(table_path(settings, table, dataset), limit=limit)
    return [
        {
            "table": table,
            "version": commit.version,
            "timestamp": commit.timestamp,
            "operation": commit.operation,
            "run_id": commit.metadata.get("run_id"),
            "source_file": commit.metadata.get("source_file"),
            "app_id": commit.app_id,
            "metrics": _metrics_text(commit),
            **_counts(commit),
        }
        for commit in sorted(commits, key=lambda c: c.version, reverse=True)
    ]


def _plain_strings(table: pa.Table) -> pa.Table:
    """delta-rs returns string_view columns, which some pyarrow kernels (take) lack."""
    schema = pa.schema(
        [
            field.with_type(pa.string()) if pa.types.is_string_view(field.type) else field
            for field in table.schema
        ]
    )
    return table.cast(schema)


def silver_changes(
    settings: Settings,
    engine: TableEngine,
    client: ClientConfig,
    *,
    starting_version: int,
    ending_version: int | None = None,
    sample: int = 10,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Change Data Feed of the client's silver rows between two versions.

    Returns (counts per version and change type, a sample of changed rows). The sample has
    the tokenised key, the non-PII columns and lineage only: columns with a PII policy other
    than ``token`` are left out.
    """
    path = settings.table_path("silver", client.dataset)
    if not engine.exists(path):
        return [], []
    cdf = _plain_strings(
        engine.read_cdf(path, starting_version=starting_version, ending_version=ending_version)
    )
    cdf = cdf.filter(pc.equal(cdf.column("client_id"), client.client_id))
    counts = Counter(
        zip(
            cdf.column("_commit_version").to_pylist(),
            cdf.column("_change_type").to_pylist(),
            strict=True,
        )
    )
    summary = [
        {"version": version, "change_type": kind, "rows": n}
        for (version, kind), n in sorted(counts.items())
    ]
    shown = [
        c.name for c in client.columns if c.pii in (None, "token") and c.name in cdf.column_names
    ]
    lineage = [c for c in ("_source_file", "_creation_date", "_sequence") if c in cdf.column_names]
    columns = ["_commit_version", "_change_type", *shown, *lineage]
    changed = cdf.filter(
        pc.is_in(cdf.column("_change_type"), pa.array(["insert", "update_postimage"]))
    )
    return summary, changed.select(columns).slice(0, sample).to_pylist()
