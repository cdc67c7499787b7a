"""The report's series: pure functions from audit rows, quarantine reason codes, silver
commits and freshness checks to what each chart and table shows (``lakehouse report``).

Outputs are identifiers, dates, counts, seconds and reason codes, never a value of a file.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from lakehouse.audit import Status
from lakehouse.engine.base import CommitRecord
from lakehouse.ops.freshness import ClientFreshness, DeliveryCheck
from lakehouse.resolutions import REPLAY_REASON

__all__ = [
    "STAGE_ORDER",
    "ActionItem",
    "DayRows",
    "FreshnessCell",
    "RunStages",
    "SilverVersion",
    "action_items",
    "client_summaries",
    "file_reasons",
    "freshness_cells",
    "in_period",
    "late_text",
    "row_reasons",
    "rows_per_day",
    "run_stages",
    "silver_versions",
    "stage_key",
]

# The stages of one file, in the order they run (lakehouse/ingest/file.py); others follow.
STAGE_ORDER = ("read", "bronze", "validate", "quarantine", "silver")
RELEASE_FAILED = "release"  # the audit reason of a failed release (lakehouse/ingest/release.py)
# Operations that may add rows without the engine recording how many (Spark-staged appends).
_ADDS_UNCOUNTED = ("WRITE", "CREATE OR REPLACE TABLE", "STREAMING UPDATE")


@dataclass(frozen=True)
class DayRows:
    """One client's rows of one creation date: valid and quarantined rows of ingested files,
    and the rows of files held back (nothing of them reached silver)."""

    day: dt.date
    valid: int = 0
    quarantined: int = 0
    held: int = 0


@dataclass(frozen=True)
class RunStages:
    """Seconds per stage of one run, summed over its files."""

    run_id: str
    started_at: dt.datetime
    files: int
    seconds: Mapping[str, float]


@dataclass(frozen=True)
class SilverVersion:
    """One commit of the silver table; ``rows`` is the table's row count after it."""

    version: int
    timestamp: dt.datetime | None
    operation: str | None
    inserted: int | None
    updated: int | None
    deleted: int | None
    rows: int | None


@dataclass(frozen=True)
class ActionItem:
    """A file whose latest outcome needs a person (HELD or FAILED), with the command to run."""

    client_id: str | None
    file_name: str
    status: str
    finished_at: dt.datetime | None
    reason: str | None
    error: str | None
    command: str


_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def _when(row: Mapping[str, Any]) -> dt.datetime | None:
    stamp = row.get("finished_at") or row.get("started_at")
    return stamp if isinstance(stamp, dt.datetime) else None


def in_period(
    rows: Iterable[Mapping[str, Any]], *, since: dt.date | None, client_id: str | None
) -> list[dict[str, Any]]:
    """Audit rows of ``client_id`` (all clients: None) processed on or after ``since`` (UTC
    date, as ``lakehouse audit --since``)."""
    kept = []
    for row in rows:
        when = _when(row)
        if client_id is not None and row.get("client_id") != client_id:
            continue
        if since is not None and (when is None or when.astimezone(dt.UTC).date() < since):
            continue
        kept.append(dict(row))
    return kept


def _is_replay(row: Mapping[str, Any]) -> bool:
    return row.get("reason") == REPLAY_REASON and row["status"] == Status.SUCCESS


def _latest_by_file(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """File name -> its latest audit row (rows come oldest first, as ``read_audit`` gives);
    a quarantine replay's row is not an outcome of the file (see ``_replayed``)."""
    latest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if not _is_replay(row):
            latest[str(row["file_name"])] = row
    return latest


def _replayed(rows: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """File name -> rows quarantine replays moved to silver since the file's latest outcome."""
    replayed: Counter[str] = Counter()
    for row in rows:
        name = str(row["file_name"])
        if _is_replay(row):
            replayed[name] += row.get("rows_valid") or 0
        elif row["status"] in (Status.SUCCESS, Status.HELD):
            replayed.pop(name, None)
    return replayed


def rows_per_day(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[DayRows, ...]]:
    """Client -> rows per creation date, each file counted once by its latest SUCCESS or HELD
    outcome (a backfill's row replaces the first ingest's, a release replaces the hold; a
    quarantine replay's row moves its rows from quarantined to valid)."""
    rows = list(rows)
    replayed = _replayed(rows)
    counted: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        if (
            not _is_replay(row)
            and row["status"] in (Status.SUCCESS, Status.HELD)
            and row.get("creation_date")
        ):
            counted[str(row["file_name"])] = row
    days: dict[str, dict[dt.date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for name, row in counted.items():
        cell = days[str(row["client_id"])][row["creation_date"]]
        if row["status"] == Status.HELD:
            cell[2] += row.get("rows_read") or 0
        else:
            cell[0] += (row.get("rows_valid") or 0) + replayed[name]
            cell[1] += (row.get("rows_quarantined") or 0) - replayed[name]
    return {
        client: tuple(DayRows(day, *cells[day]) for day in sorted(cells))
        for client, cells in sorted(days.items())
    }


def row_reasons(quarantine: pa.Table) -> dict[str, dict[tuple[dt.date, str], int]]:
    """Client -> (creation date, reason code) -> quarantined rows with that code, from the
    quarantine table's ``client_id``, ``_creation_date`` and ``_reasons`` columns only (a row
    with two reasons counts under both)."""
    found: dict[str, Counter[tuple[dt.date, str]]] = defaultdict(Counter)
    columns = [quarantine.column(n).to_pylist() for n in ("client_id", "_creation_date")]
    for client, day, reasons in zip(
        *columns, quarantine.column("_reasons").to_pylist(), strict=True
    ):
        for reason in reasons or []:
            found[str(client)][(day, str(reason))] += 1
    return {client: dict(counts) for client, counts in sorted(found.items())}


def _codes(reason: str | None) -> list[str]:
    """``a;sequence_gap:missing=1,2;duplicate_of:x.csv`` -> the codes, without their detail
    (a detail may name another file)."""
    return [part.split(":", 1)[0] for part in (reason or "").split(";") if part]


def file_reasons(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """File-level reason codes of the audit (rejections, duplicates, sequence gaps, holds)
    per processing date, client and status, with the number of files."""
    counts: Counter[tuple[dt.date, str, str, str]] = Counter()
    for row in rows:
        when = _when(row)
        for code in _codes(row.get("reason")):
            day = when.astimezone(dt.UTC).date() if when else dt.date.min
            counts[(day, str(row.get("client_id") or "-"), str(row["status"]), code)] += 1
    return [
        {"day": day, "client_id": client, "status": status, "code": code, "files": n}
        for (day, client, status, code), n in sorted(counts.items())
    ]


def stage_key(name: str) -> tuple[int, str]:
    """Sort key: the pipeline's stages in order, then any other by name."""
    return (STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER), name)


def run_stages(rows: Iterable[Mapping[str, Any]]) -> tuple[RunStages, ...]:
    """Per run (oldest first): seconds per stage summed over the files it processed."""
    seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    started: dict[str, dt.datetime] = {}
    files: Counter[str] = Counter()
    for row in rows:
        stages = row.get("stage_seconds") or {}
        run_id, when = str(row["run_id"]), row.get("started_at")
        if not stages or not isinstance(when, dt.datetime):
            continue
        files[run_id] += 1
        started[run_id] = min(started.get(run_id, when), when)
        for name, value in stages.items():
            seconds[run_id][str(name)] += float(value)
    return tuple(
        RunStages(
            run_id,
            started[run_id],
            files[run_id],
            {n: seconds[run_id][n] for n in sorted(seconds[run_id], key=stage_key)},
        )
        for run_id in sorted(started, key=lambda r: (started[r], r))
    )


def silver_versions(
    commits: Sequence[CommitRecord], *, current_rows: int | None, files: set[str] | None = None
) -> tuple[SilverVersion, ...]:
    """Silver commits, oldest first, with the row count after each: counted back from
    ``current_rows`` (the table now) by each later commit's inserted minus deleted rows, so
    the newest is exact even when older history was purged. ``files`` keeps the commits of
    those landing files only (one client's)."""
    ordered = sorted(commits, key=lambda c: c.version)
    if files is not None:
        ordered = [c for c in ordered if c.metadata.get("source_file") in files]
    sizes: list[int | None] = []
    size = current_rows
    for commit in reversed(ordered):
        sizes.append(size)
        if size is None:
            continue
        if commit.inserted is None and commit.operation in _ADDS_UNCOUNTED:
            size = None  # rows were added but not counted: older sizes are unknown
        else:
            size = size - (commit.inserted or 0) + (commit.deleted or 0)
    sizes.reverse()
    return tuple(
        SilverVersion(c.version, c.timestamp, c.operation, c.inserted, c.updated, c.deleted, rows)
        for c, rows in zip(ordered, sizes, strict=True)
    )


def _command(row: Mapping[str, Any]) -> str:
    """The command README gives for a file in this state."""
    name = shlex.quote(str(row["file_name"]))
    client = row.get("client_id")
    if row["status"] == Status.HELD or row.get("reason") == RELEASE_FAILED:
        return f"lakehouse release --file {name}"
    if str(row.get("run_id") or "").startswith("backfill-") and client and row.get("creation_date"):
        day = row["creation_date"].isoformat()
        return (
            f"./scripts/run_pipeline.sh --backfill --client {shlex.quote(client)} "
            f"--from {day} --to {day}"
        )
    return "./scripts/run_pipeline.sh" + (f" --client {shlex.quote(client)}" if client else "")


def action_items(rows: Iterable[Mapping[str, Any]]) -> tuple[list[ActionItem], list[ActionItem]]:
    """(HELD files, FAILED files) by each file's latest outcome, newest first."""
    held: list[ActionItem] = []
    failed: list[ActionItem] = []
    latest = sorted(_latest_by_file(rows).values(), key=lambda r: _when(r) or _NEVER, reverse=True)
    for row in latest:
        if row["status"] not in (Status.HELD, Status.FAILED):
            continue
        item = ActionItem(
            client_id=row.get("client_id"),
            file_name=str(row["file_name"]),
            status=str(row["status"]),
            finished_at=_when(row),
            reason=row.get("reason"),
            error=row.get("error"),
            command=_command(row),
        )
        (held if row["status"] == Status.HELD else failed).append(item)
    return held, failed


def client_summaries(
    rows: Iterable[Mapping[str, Any]],
    client_ids: Sequence[str],
    silver_rows: Mapping[str, int | None],
) -> tuple[dict[str, Any], ...]:
    """Per client, over the period's rows: files by latest outcome, rows read and quarantined
    by ingested files (each file once), the quarantine rate, and silver's rows now."""
    rows = list(rows)
    latest, replayed = _latest_by_file(rows), _replayed(rows)
    out = []
    for client in client_ids:
        mine = [r for r in latest.values() if r.get("client_id") == client]
        ingested = [r for r in mine if r["status"] == Status.SUCCESS]
        read = sum(r.get("rows_read") or 0 for r in ingested)
        quarantined = sum(
            (r.get("rows_quarantined") or 0) - replayed[str(r["file_name"])] for r in ingested
        )
        by_status = Counter(str(r["status"]) for r in mine)
        last = max((w for r in ingested if (w := _when(r))), default=None)
        out.append(
            {
                "client_id": client,
                "files": len(mine),
                "files_ingested": by_status[Status.SUCCESS],
                "files_held": by_status[Status.HELD],
                "files_failed": by_status[Status.FAILED],
                "files_rejected": by_status[Status.REJECTED],
                "files_duplicate": by_status[Status.DUPLICATE],
                "rows_read": read,
                "rows_quarantined": quarantined,
                "quarantine_rate": quarantined / read if read else None,
                "last_success_at": last,
                "silver_rows": silver_rows.get(client),
            }
        )
    return tuple(out)


FreshnessState = Literal["on_time", "late", "missing", "not_due"]


@dataclass(frozen=True)
class FreshnessCell:
    """One due delivery of a client's calendar as the freshness chart shows it."""

    due_date: dt.date
    deadline: dt.datetime
    state: FreshnessState
    label: str  # "on time", "+5.0 h", "1/2 missing", "due"


def late_text(delta: dt.timedelta) -> str:
    """``+5.0 h`` up to two days, then ``+3.5 d``."""
    hours = delta.total_seconds() / 3600
    return f"+{hours:.1f} h" if hours < 48 else f"+{hours / 24:.1f} d"


def _cell(check: DeliveryCheck) -> FreshnessCell:
    if check.delivered >= check.expected:
        if check.late_by is None:
            return FreshnessCell(check.due_date, check.deadline, "on_time", "on time")
        return FreshnessCell(check.due_date, check.deadline, "late", late_text(check.late_by))
    if check.late_by is None:  # its deadline is still ahead
        return FreshnessCell(check.due_date, check.deadline, "not_due", "due")
    missing = check.expected - check.delivered
    label = "missing" if check.expected == 1 else f"{missing}/{check.expected} missing"
    return FreshnessCell(check.due_date, check.deadline, "missing", label)


def freshness_cells(
    freshness: Iterable[ClientFreshness],
) -> dict[str, tuple[FreshnessCell, ...]]:
    """Client -> each due delivery of the window: on time, late by how much (its last file
    came after the deadline), missing (deadline passed, files absent) or not yet due.
    Clients without a calendar have no cells."""
    return {
        f.client_id: tuple(_cell(c) for c in f.checks)
        for f in freshness
        if f.status != "no_calendar"
    }
