"""Keep gold tables current from silver's change feed, exactly once.

For each configured gold table (``settings.gold``), one refresh:

1. **Watermark**: the silver version the table reflects, from the gold table's own commit
   metadata (``gold_source_version``, written in the same commit as the rows) or, when a
   refresh found nothing to change, the checkpoint ``<checkpoints>/gold/<table>.json``
   (written after the commit; the larger of the two counts).
2. **What changed**: silver's change feed from the watermark + 1 to the current version
   names the clients whose rows changed (``client_id`` only is read). No change: nothing is
   read and nothing committed. A feed that cannot be read (a full vacuum or a purged log, as
   erasure and retention do), a missing gold table, a silver table older than the watermark
   or ``full=True``: every client is recomputed (mode ``full``, with the reason).
3. **Recompute** only those clients' groups from silver's current rows, and replace them in
   **one commit** that also records the new watermark. A recomputation equal to what gold
   holds commits nothing (only the checkpoint moves), so a rerun changes nothing.

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
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow as pa

from lakehouse.config.gold import MembersSummarySpec
from lakehouse.config.models import Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import EngineError, LakehouseError
from lakehouse.gold.members_summary import SUMMARY_SCHEMA, summarise_members
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


def _changed_clients(
    engine: TableEngine, silver: Path, start: int, end: int
) -> tuple[set[str] | None, str | None]:
    """Clients with change rows in versions ``start``..``end``; (None, reason) when the feed
    of that range cannot be read."""
    try:
        changes = engine.read_cdf(
            silver, starting_version=start, ending_version=end, columns=["client_id"]
        )
    except EngineError:
        return None, f"change feed of versions {start}-{end} unavailable (vacuumed or purged)"
    return {str(v) for v in changes.column("client_id").to_pylist() if v is not None}, None


def _silver_rows(
    engine: TableEngine, silver: Path, clients: Sequence[str], spec: MembersSummarySpec
) -> pl.DataFrame:
    columns = ["client_id", spec.plan_column, spec.birth_column, "_creation_date"]
    parts = []
    for client in clients:
        try:
            parts.append(engine.read(silver, columns=columns, partition=("client_id", client)))
        except (KeyError, ValueError, pa.ArrowInvalid) as exc:
            raise LakehouseError(
                f"silver/{spec.source} has no column for gold.members_summary "
                f"({type(exc).__name__})",
                fix=f"set gold.members_summary.plan_column / birth_column in conf/lakehouse.yaml "
                f"to columns of silver/{spec.source} (now {spec.plan_column}, "
                f"{spec.birth_column})",
            ) from None
    if not parts:
        return pl.DataFrame()
    frame = pl.from_arrow(pa.concat_tables(parts, promote_options="default"))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _same_rows(engine: TableEngine, gold: Path, clients: Sequence[str], new: pl.DataFrame) -> bool:
    """True when gold already holds exactly ``new`` for ``clients`` (watermark aside)."""
    if not engine.exists(gold):
        return False
    stored = pl.from_arrow(engine.read(gold, key_filter=("client_id", list(clients))))
    assert isinstance(stored, pl.DataFrame)
    keys = [name for name in SUMMARY_SCHEMA.names if name != "source_version"]
    if stored.height != new.height:
        return False
    order = ["client_id", "plan_code", "age_band"]
    left = stored.select(keys).cast({"k": pl.Int32}).sort(order)
    right = new.select(keys).sort(order)
    return left.equals(right)


def _refresh_members_summary(
    settings: Settings,
    engine: TableEngine,
    spec: MembersSummarySpec,
    *,
    run_id: str,
    force_clients: Collection[str],
    full: bool,
) -> GoldResult:
    table = "members_summary"
    started = dt.datetime.now(dt.UTC)
    silver = settings.table_path("silver", spec.source)
    gold = settings.gold_path(table)
    current = engine.version(silver)
    if current is None:
        return GoldResult(table, "no_source", None, started_at=started)
    mark = watermark(settings, engine, table)
    reason = None
    source_from = None
    if full:
        reason = "requested (--full)"
    elif mark is None:
        reason = "first build" if not engine.exists(gold) else "no watermark in the gold table"
    elif mark > current:
        reason = f"silver is at version {current}, older than the watermark {mark} (recreated?)"
    clients: set[str] | None
    if reason is None:
        assert mark is not None
        if mark == current and not force_clients:
            return GoldResult(table, "current", current, started_at=started)
        clients = set()
        if mark < current:
            source_from = mark + 1
            clients, reason = _changed_clients(engine, silver, mark + 1, current)
    if reason is not None:
        # Clients only gold still holds (all their silver rows gone) are replaced by nothing.
        clients = _clients_in(engine, silver) | _clients_in(engine, gold)
    assert clients is not None
    chosen = sorted(clients | set(force_clients))
    mode: Mode = "incremental" if reason is None else "full"
    if not chosen:  # changes without a client (none expected): only the watermark moves
        _note_watermark(settings, table, current)
        return GoldResult(table, mode, current, source_from, reason=reason, started_at=started)
    rows = summarise_members(
        _silver_rows(engine, silver, chosen, spec), spec, source_version=current
    )
    if _same_rows(engine, gold, chosen, rows):
        _note_watermark(settings, table, current)
        return GoldResult(
            table, mode, current, source_from, tuple(chosen), 0, reason=reason, started_at=started
        )
    version = engine.replace_partitions(
        gold,
        rows.to_arrow().cast(SUMMARY_SCHEMA),
        column="client_id",
        values=chosen,
        metadata={
            WATERMARK_KEY: str(current),
            "gold_source": f"silver/{spec.source}",
            "gold_mode": mode,
            "run_id": run_id,
        },
    )
    _note_watermark(settings, table, current)
    return GoldResult(
        table,
        mode,
        current,
        source_from,
        tuple(chosen),
        rows.height,
        version,
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
    configured = settings.gold.tables
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
            spec = settings.gold.members_summary
            assert spec is not None and name == "members_summary"
            result = _refresh_members_summary(
                settings, engine, spec, run_id=run_id, force_clients=force_clients, full=full
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
