"""What ``lakehouse report`` shows, gathered from the lake (HTML: ``report_html``).

Reads the audit, the quarantine table's ``client_id``, ``_reasons``, ``_source_file`` and
``_creation_date`` columns, the silver table's history and its ``client_id`` column (to count
rows), and the clients' freshness. No other column of bronze, quarantine or silver is read.
No Spark.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError
from lakehouse.ops.audit_views import read_audit
from lakehouse.ops.freshness import ClientFreshness, freshness_of
from lakehouse.ops.report_series import (
    ActionItem,
    DayRows,
    RunStages,
    SilverVersion,
    action_items,
    client_summaries,
    file_reasons,
    in_period,
    row_reasons,
    rows_per_day,
    run_stages,
    silver_versions,
)

__all__ = ["FRESHNESS_DAYS", "ReportData", "build_report"]

FRESHNESS_DAYS = 28  # without --since: the due days of the last four weeks


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows, for the period (``since``) and clients it covers."""

    lake_root: str
    generated_at: dt.datetime
    since: dt.date | None
    client_id: str | None
    clients: tuple[str, ...]
    summaries: tuple[dict[str, Any], ...]
    rows_per_day: Mapping[str, tuple[DayRows, ...]]
    row_reasons: Mapping[str, Mapping[tuple[dt.date, str], int]]
    file_reasons: tuple[dict[str, Any], ...]
    runs: tuple[RunStages, ...]
    silver: tuple[SilverVersion, ...]
    held: tuple[ActionItem, ...]
    failed: tuple[ActionItem, ...]
    freshness: tuple[ClientFreshness, ...]


def _quarantine_reason_table(
    settings: Settings,
    engine: TableEngine,
    clients: Mapping[str, ClientConfig],
    client_id: str | None,
    files: set[str],
) -> pa.Table:
    """The reason columns of the quarantine rows of ``files``, every dataset of ``clients``
    (one client's partition with ``client_id``)."""
    parts = []
    partition = None if client_id is None else ("client_id", client_id)
    for dataset in sorted({c.dataset for c in clients.values()}):
        path = settings.table_path("quarantine", dataset)
        if not engine.exists(path):
            continue
        columns = ["client_id", "_reasons", "_source_file", "_creation_date"]
        table = engine.read(path, columns=columns, partition=partition)
        wanted = pa.array(sorted(files), pa.string())
        table = table.filter(pc.is_in(table.column("_source_file").cast(pa.string()), wanted))
        parts.append(table.select(["client_id", "_creation_date", "_reasons"]))
    if not parts:
        return pa.table(
            {
                "client_id": pa.array([], pa.string()),
                "_creation_date": pa.array([], pa.date32()),
                "_reasons": pa.array([], pa.list_(pa.string())),
            }
        )
    return pa.concat_tables(parts, promote_options="permissive")


def _silver(
    settings: Settings,
    engine: TableEngine,
    clients: Mapping[str, ClientConfig],
    client_id: str | None,
    files: set[str],
    since: dt.date | None,
) -> tuple[SilverVersion, ...]:
    datasets = sorted({c.dataset for c in clients.values()})
    if client_id is not None:
        datasets = [clients[client_id].dataset]
    versions: list[SilverVersion] = []
    for dataset in datasets[:1]:  # one silver chart: the dataset the clients share
        path = settings.table_path("silver", dataset)
        if not engine.exists(path):
            continue
        partition = None if client_id is None else ("client_id", client_id)
        current = engine.read(path, columns=["client_id"], partition=partition).num_rows
        versions.extend(
            silver_versions(
                engine.history(path),
                current_rows=int(current),
                files=None if client_id is None else files,
            )
        )
    return tuple(
        v for v in versions if since is None or v.timestamp is None or v.timestamp.date() >= since
    )


def _silver_rows(
    settings: Settings, engine: TableEngine, clients: Mapping[str, ClientConfig]
) -> dict[str, int]:
    """Client -> its rows in silver now (the ``client_id`` column only)."""
    counts: dict[str, int] = {}
    for dataset in sorted({c.dataset for c in clients.values()}):
        path = settings.table_path("silver", dataset)
        if engine.exists(path):
            column = engine.read(path, columns=["client_id"]).column("client_id")
            for item in pc.value_counts(column.cast(pa.string())).to_pylist():
                counts[str(item["values"])] = counts.get(str(item["values"]), 0) + item["counts"]
    return counts


def _window(since: dt.date | None, now: dt.datetime) -> int:
    """Freshness over the period's days (at least one), or the last four weeks."""
    if since is None:
        return FRESHNESS_DAYS
    return max(1, (now.astimezone(dt.UTC).date() - since).days + 1)


def build_report(
    settings: Settings,
    engine: TableEngine,
    clients: Mapping[str, ClientConfig],
    *,
    since: dt.date | None = None,
    client_id: str | None = None,
    now: dt.datetime | None = None,
) -> ReportData:
    """Everything the report shows, for one client or all, processed since a date or ever.

    Raises:
        LakehouseError: ``client_id`` is not a configured client.
    """
    if client_id is not None and client_id not in clients:
        raise LakehouseError(
            f"unknown client '{client_id}'",
            client=client_id,
            fix=f"choose from {', '.join(sorted(clients))}",
        )
    now = now or dt.datetime.now(dt.UTC)
    every = read_audit(settings, engine)
    rows = in_period(every, since=since, client_id=client_id)
    files = {str(r["file_name"]) for r in rows}
    ids = (
        [client_id]
        if client_id
        else sorted(
            {c.client_id for c in clients.values()}  # per client, every dataset of it
            | {str(r["client_id"]) for r in rows if r["client_id"]}
        )
    )
    silver = _silver_rows(settings, engine, clients)
    summaries = client_summaries(
        rows, ids, {c: silver.get(c, 0) if c in clients else None for c in ids}
    )
    held, failed = action_items(rows)
    chosen = {c: clients[c] for c in ids if c in clients}
    return ReportData(
        lake_root=str(settings.lake_root),
        generated_at=now,
        since=since,
        client_id=client_id,
        clients=tuple(ids),
        summaries=tuple(summaries),
        rows_per_day=rows_per_day(rows),
        row_reasons=row_reasons(
            _quarantine_reason_table(settings, engine, clients, client_id, files)
        ),
        file_reasons=tuple(file_reasons(rows)),
        runs=run_stages(rows),
        silver=_silver(settings, engine, clients, client_id, files, since),
        held=tuple(held),
        failed=tuple(failed),
        freshness=tuple(
            freshness_of(
                c,
                chosen[c].delivery,
                [r for r in every if r["client_id"] == c],
                now=now,
                days=_window(since, now),
            )
            for c in sorted(chosen)
        ),
    )
