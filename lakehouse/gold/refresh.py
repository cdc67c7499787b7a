"""Keep gold tables current from silver's change feed, exactly once.

For each configured gold table (``settings.gold``), one refresh:

1. **Watermark**: the silver version the table reflects, from the gold table's own commit
   metadata (``gold_source_version``, written in the same commit as the rows) or, when a
   refresh found nothing to change, the checkpoint ``<checkpoints>/gold/<table>.json``
   (written after the commit; the larger of the two counts).
2. **What changed**: silver's change feed from the watermark + 1 to the current version
   names the groups whose rows changed, by the table's own rule (``GoldTable.changed``:
   members_summary's groups are whole clients, readings_hourly's one member's type and hour,
   readings_trend's one member's type). No change: nothing is read and nothing committed. A
   feed that cannot be read (a full vacuum or a purged log, as erasure and retention do), a
   missing gold table, a silver table older than the watermark or ``full=True``: every
   client is recomputed (mode ``full``, with the reason). ``force_clients`` adds whole
   clients.
3. **Recompute** only those groups from silver's current rows, and replace them in **one
   commit** that also records the new watermark (``GoldTable.write``). A recomputation equal
   to what gold holds commits nothing (only the checkpoint moves), so a rerun changes
   nothing.

Each table is a module (``members_summary.py``, ``readings_hourly.py``,
``readings_trend.py``) bound to its ``gold:`` section by ``registry.py``; this module is the
machinery they share: watermark, mode, lock, audit.

A crash before the commit leaves gold and its watermark as they were (the next run reads
the same range again); a crash after it, before the checkpoint, is covered by the commit's
own watermark. Silver may move on while a refresh runs: the rows then reflect a version at
least as new as the recorded one, and the next refresh recomputes those clients again (the
recorded watermark is a lower bound, never ahead of the rows).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa

from lakehouse.config.models import Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import EngineError, LakehouseError
from lakehouse.gold.registry import gold_tables
from lakehouse.gold.table import GoldTable, Scope
from lakehouse.ingest.lock import ClientLock

__all__ = [
    "GOLD_AUDIT_SCHEMA",
    "GoldResult",
    "gold_audit_path",
    "new_run_id",
    "refresh_gold",
    "watermark",
]

log = logging.getLogger(__name__)

WATERMARK_KEY = "gold_source_version"
Mode = Literal["incremental", "full", "current", "no_source"]

GOLD_AUDIT_SCHEMA = pa.schema(
    [
        ("table", pa.string()),
        ("run_id", pa.string()),
        ("mode", pa.string()),
        ("reason", pa.string()),
        ("source_from", pa.int64()),
        ("source_to", pa.int64()),
        ("clients", pa.string()),  # JSON list of the recomputed client ids
        ("rows", pa.int64()),
        ("gold_version", pa.int64()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class GoldResult:
    """What one table's refresh did."""

    table: str
    mode: Mode
    source_to: int | None  # the silver version the table now reflects
    source_from: int | None = None  # first silver version read from the change feed
    clients: tuple[str, ...] = ()  # recomputed
    rows: int = 0  # rows written for them
    gold_version: int | None = None  # None: nothing committed
    reason: str | None = None  # why a full recomputation
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def committed(self) -> bool:
        return self.gold_version is not None

    def as_row(self) -> dict[str, object]:
        row = asdict(self)
        row["clients"] = list(self.clients)
        row["started_at"] = self.started_at.isoformat(timespec="seconds")
        return row


def new_run_id(prefix: str = "gold") -> str:
    """A refresh's run id: ``gold-20261202T101500Z-1a2b3c4d``."""
    return f"{prefix}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def gold_audit_path(settings: Settings) -> Path:
    return settings.lake_root / "audit" / "gold"


def _checkpoint(settings: Settings, table: str) -> Path:
    return settings.checkpoints / "gold" / f"{table}.json"


def watermark(settings: Settings, engine: TableEngine, table: str) -> int | None:
    """The silver version gold ``table`` reflects (None: never refreshed, or no table)."""
    path = settings.gold_path(table)
    if not engine.exists(path):
        return None
    committed = None
    for record in engine.history(path):  # newest first
        if WATERMARK_KEY in record.metadata:
            committed = int(record.metadata[WATERMARK_KEY])
            break
    checkpoint = _checkpoint(settings, table)
    noted = None
    if checkpoint.is_file():
        try:
            noted = int(json.loads(checkpoint.read_text(encoding="utf-8"))[WATERMARK_KEY])
        except (ValueError, KeyError, TypeError):
            log.warning("gold checkpoint unreadable: ignored", extra={"table": table})
    # A purged history (erasure, retention) keeps no commit metadata: the checkpoint remains.
    known = [v for v in (committed, noted) if v is not None]
    return max(known) if known else None


def _note_watermark(settings: Settings, table: str, version: int) -> None:
    path = _checkpoint(settings, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({WATERMARK_KEY: version}), encoding="utf-8")
    partial.replace(path)


def _clients_in(engine: TableEngine, path: Path) -> set[str]:
    if not engine.exists(path):
        return set()
    return {str(v) for v in engine.read(path, columns=["client_id"]).column(0).to_pylist()}


def _refresh_table(
    settings: Settings,
    engine: TableEngine,
    table: GoldTable,
    *,
    run_id: str,
    force_clients: Collection[str],
    full: bool,
) -> GoldResult:
    name = table.name
    started = dt.datetime.now(dt.UTC)
    silver = settings.table_path("silver", table.source)
    gold = settings.gold_path(name)
    current = engine.version(silver)
    if current is None:
        return GoldResult(name, "no_source", None, started_at=started)
    mark = watermark(settings, engine, name)
    reason = None
    source_from = None
    if full:
        reason = "requested (--full)"
    elif mark is None:
        reason = "first build" if not engine.exists(gold) else "no watermark in the gold table"
    elif mark > current:
        reason = f"silver is at version {current}, older than the watermark {mark} (recreated?)"
    scope = Scope()
    if reason is None:
        assert mark is not None
        if mark == current and not force_clients:
            return GoldResult(name, "current", current, started_at=started)
        if mark < current:
            source_from = mark + 1
            try:
                scope = table.changed(engine, silver, mark + 1, current)
            except EngineError:
                reason = (
                    f"change feed of versions {mark + 1}-{current} unavailable (vacuumed or purged)"
                )
    if reason is not None:
        # Clients only gold still holds (all their silver rows gone) are replaced by nothing.
        scope = Scope(clients=frozenset(_clients_in(engine, silver) | _clients_in(engine, gold)))
    scope = scope.with_clients(force_clients)
    mode: Mode = "incremental" if reason is None else "full"
    clients = scope.touched
    if not clients:  # changes without a client (none expected): only the watermark moves
        _note_watermark(settings, name, current)
        return GoldResult(name, mode, current, source_from, reason=reason, started_at=started)
    written = table.write(
        engine,
        silver,
        gold,
        scope,
        source_version=current,
        metadata={
            WATERMARK_KEY: str(current),
            "gold_source": f"silver/{table.source}",
            "gold_mode": mode,
            "run_id": run_id,
        },
    )
    _note_watermark(settings, name, current)
    return GoldResult(
        name,
        mode,
        current,
        source_from,
        clients,
        written.rows,
        written.version,
        reason,
        started_at=started,
    )


def refresh_gold(
    settings: Settings,
    engine: TableEngine,
    *,
    run_id: str,
    tables: Collection[str] | None = None,
    force_clients: Collection[str] = (),
    full: bool = False,
) -> list[GoldResult]:
    """Refresh the configured gold tables (``tables``: only these), each under its own lock,
    and audit every refresh that read anything in ``audit/gold``.

    ``force_clients``: recompute these clients even without changes in the feed (erasure
    calls this right after deleting a member, whose change rows it vacuumed).

    Raises:
        LakehouseError: an unknown or unconfigured table; LockBusyError: another refresh of
            the table is running.
    """
    configured = gold_tables(settings.gold)
    chosen = list(configured if tables is None else tables)
    unknown = [name for name in chosen if name not in configured]
    if unknown:
        raise LakehouseError(
            f"gold table(s) not configured: {', '.join(unknown)}",
            fix="add them under 'gold:' in conf/lakehouse.yaml (README, 'Gold tables'); "
            f"configured: {', '.join(configured) or 'none'}",
        )
    results = []
    for name in chosen:
        with ClientLock(settings.lock_dir, f"gold-{name}", run_id=run_id):
            result = _refresh_table(
                settings,
                engine,
                configured[name],
                run_id=run_id,
                force_clients=force_clients,
                full=full,
            )
        log.info(
            "gold table refreshed" if result.committed else "gold table current",
            extra={
                "table": name,
                "mode": result.mode,
                "source_to": result.source_to,
                "clients": len(result.clients),
                "rows": result.rows,
            },
        )
        if result.mode not in ("current", "no_source"):
            _audit(settings, engine, result, run_id)
        results.append(result)
    return results


def _audit(settings: Settings, engine: TableEngine, result: GoldResult, run_id: str) -> None:
    row = {
        "table": result.table,
        "run_id": run_id,
        "mode": result.mode,
        "reason": result.reason,
        "source_from": result.source_from,
        "source_to": result.source_to,
        "clients": json.dumps(list(result.clients)),
        "rows": result.rows,
        "gold_version": result.gold_version,
        "started_at": result.started_at,
        "finished_at": dt.datetime.now(dt.UTC),
    }
    engine.append(gold_audit_path(settings), pa.Table.from_pylist([row], GOLD_AUDIT_SCHEMA))
