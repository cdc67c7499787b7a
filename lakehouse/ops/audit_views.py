"""Views over the audit table: per-client status and filtered audit rows. No Spark."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from lakehouse.audit import Status
from lakehouse.config.datasets import feed_of
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError
from lakehouse.resolutions import REPLAY_REASON

__all__ = ["audit_rows", "client_status", "read_audit"]


def _when(row: Mapping[str, Any]) -> dt.datetime:
    stamp = row.get("finished_at") or row.get("started_at")
    return stamp if isinstance(stamp, dt.datetime) else dt.datetime.min.replace(tzinfo=dt.UTC)


def read_audit(settings: Settings, engine: TableEngine) -> list[dict[str, Any]]:
    """Every audit row, oldest first (empty when nothing was ever ingested)."""
    if not engine.exists(settings.audit_path):
        return []
    rows = engine.read(settings.audit_path).to_pylist()
    for row in rows:
        row["stage_seconds"] = json.loads(row["stage_seconds"]) if row["stage_seconds"] else {}
    return sorted(rows, key=_when)


def _silver_rows(
    settings: Settings, engine: TableEngine, client: ClientConfig | None
) -> int | None:
    if client is None:
        return None
    path = settings.table_path("silver", client.dataset)
    if not engine.exists(path):
        return 0
    rows = engine.read(path, columns=["client_id"], partition=("client_id", client.client_id))
    return int(rows.num_rows)


def client_status(
    settings: Settings, engine: TableEngine, clients: Mapping[str, ClientConfig]
) -> list[dict[str, Any]]:
    """One row per client (configured, or seen in the audit): last file, last success,
    ingested files and rows (each file counted once, backfills included), quarantine rate,
    files over the client's ``max_invalid_ratio``, files whose last attempt failed."""
    rows = read_audit(settings, engine)
    # One row per feed (a client's dataset), and per unconfigured client of the audit.
    feeds = {feed_of(r["client_id"], r.get("dataset"), clients) for r in rows if r["client_id"]}
    ids = sorted(set(clients) | feeds)
    status: list[dict[str, Any]] = []
    for feed in ids:
        mine = [
            r
            for r in rows
            if r["client_id"] and feed_of(r["client_id"], r.get("dataset"), clients) == feed
        ]
        last_by_file: dict[str, dict[str, Any]] = {}
        success_by_file: dict[str, dict[str, Any]] = {}
        replayed: dict[str, int] = {}  # rows a quarantine replay moved to silver since then
        for row in mine:  # oldest first: later rows win
            if row["reason"] == REPLAY_REASON and row["status"] == Status.SUCCESS:
                name = row["file_name"]
                replayed[name] = replayed.get(name, 0) + (row["rows_valid"] or 0)
                continue
            last_by_file[row["file_name"]] = row
            if row["status"] == Status.SUCCESS:
                success_by_file[row["file_name"]] = row
                replayed.pop(row["file_name"], None)
        ingested = list(success_by_file.values())
        read = sum(r["rows_read"] or 0 for r in ingested)
        quarantined = sum(r["rows_quarantined"] or 0 for r in ingested)
        quarantined -= sum(n for name, n in replayed.items() if name in success_by_file)
        client = clients.get(feed)
        client_id = client.client_id if client is not None else feed
        limit = client.thresholds.max_invalid_ratio if client else None
        last = mine[-1] if mine else None
        last_success = max(ingested, key=_when) if ingested else None
        status.append(
            {
                "client_id": client_id,
                "dataset": client.dataset if client is not None else None,
                "configured": client is not None,
                "files_ingested": len(ingested),
                "last_file": last and last["file_name"],
                "last_status": last and last["status"],
                "last_at": last and _when(last),
                "last_success_file": last_success and last_success["file_name"],
                "last_success_at": last_success and _when(last_success),
                "rows_read": read,
                "rows_quarantined": quarantined,
                "quarantine_rate": quarantined / read if read else None,
                "files_over_threshold": sum(
                    1
                    for r in ingested
                    if limit is not None
                    and r["rows_read"]
                    and (r["rows_quarantined"] or 0) / r["rows_read"] > limit
                ),
                "files_held": sum(1 for r in last_by_file.values() if r["status"] == Status.HELD),
                "files_failing": sum(
                    1 for r in last_by_file.values() if r["status"] == Status.FAILED
                ),
                "silver_rows": _silver_rows(settings, engine, client),
            }
        )
    return status


def audit_rows(
    settings: Settings,
    engine: TableEngine,
    *,
    client_id: str | None = None,
    since: dt.date | None = None,
    status: str | None = None,
    run_id: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Audit rows, oldest first; ``since`` compares the UTC date the file was processed;
    ``run_id`` matches a prefix (``backfill-`` lists every backfill); ``limit`` keeps the
    newest."""
    if status is not None and status not in Status.__members__:
        raise LakehouseError(
            f"unknown status '{status}'", fix=f"use one of {', '.join(Status.__members__)}"
        )
    rows = [
        r
        for r in read_audit(settings, engine)
        if (client_id is None or r["client_id"] == client_id)
        and (status is None or r["status"] == status)
        and (run_id is None or str(r["run_id"]).startswith(run_id))
        and (since is None or _when(r).astimezone(dt.UTC).date() >= since)
    ]
    return rows[-limit:] if limit else rows
