"""Data-quality drift: a file's row count and per-column null and invalid shares against the
median of the client's own last successful files (``drift:`` in the client's YAML).

- ``column_stat_columns`` / ``column_stats``: the per-column counts, as aggregate expressions
  that join the validate stage's one totals aggregate (no Spark job of their own), and the
  audit's ``column_stats`` JSON ``{column: {"null": n, "invalid": n}}`` (counts, never values).
- ``evaluate``: pure arithmetic, one file against its history -> ``DriftReport``.
- ``Baselines``: a run's view of every client's history, read from the audit once per run and
  extended by each file the run commits, so a micro-batch of several files of one client sees
  its earlier files in the baseline of later ones.

The baseline of a file is made of the files that precede it in (creation date, sequence)
order, the data's own timeline: a new file is compared with the latest ones, a late file with
its neighbours, and a backfill reaches the decision the first ingest reached.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from lakehouse.audit import AuditRecord, Status
from lakehouse.config.drift import CheckName, DriftAction, DriftSettings
from lakehouse.config.models import ClientConfig
from lakehouse.engine.base import TableEngine
from lakehouse.validation.checks import REASONS
from lakehouse.validation.schema import RAW_SUFFIX

__all__ = [
    "DRIFT_REASON",
    "Band",
    "Baselines",
    "ColumnCounts",
    "DriftReport",
    "FileFigures",
    "Finding",
    "bands",
    "column_stat_columns",
    "column_stats",
    "evaluate",
]

DRIFT_REASON = "dq_drift"
# Bounds are inclusive; this absorbs float noise (0.3 - 0.1 is 0.19999999999999998).
_EPSILON = 1e-9
_NULL, _INVALID = "__null__", "__invalid__"


@dataclass(frozen=True)
class ColumnCounts:
    null: int
    invalid: int


@dataclass(frozen=True)
class FileFigures:
    """What the baseline needs of one file: its place in time and its counts."""

    file_name: str
    creation_date: dt.date
    sequence: int
    rows: int
    columns: Mapping[str, ColumnCounts] | None = None  # None: audited before column stats

    @property
    def order(self) -> tuple[dt.date, int, str]:
        return (self.creation_date, self.sequence, self.file_name)

    def share(self, check: CheckName, column: str) -> float | None:
        counts = (self.columns or {}).get(column)
        if counts is None or self.rows <= 0:
            return None
        return (counts.null if check == "null_share" else counts.invalid) / self.rows


@dataclass(frozen=True)
class Finding:
    """One check of one file outside its tolerance: the figures an operator needs."""

    check: CheckName
    column: str | None
    observed: float
    baseline: float
    tolerance: float
    low: float
    high: float
    action: DriftAction
    history: int  # files in the baseline

    @property
    def key(self) -> str:
        return self.check if self.column is None else f"{self.check}:{self.column}"

    @property
    def reason(self) -> str:
        return f"{DRIFT_REASON}:{self.key}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "observed": self.observed,
            "baseline": self.baseline,
            "tolerance": self.tolerance,
            "low": self.low,
            "high": self.high,
            "action": self.action,
            "history": self.history,
        }


@dataclass(frozen=True)
class DriftReport:
    """The checks that applied to a file (``checked``: their keys) and those it failed."""

    checked: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def holds(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.action == "hold")

    @property
    def hold_reason(self) -> str | None:
        """``dq_drift:<check>[:<column>]`` for each finding whose action is hold."""
        return ";".join(f.reason for f in self.holds) or None

    def as_json(self) -> dict[str, Any]:
        """The audit's ``drift`` column."""
        return {"checked": list(self.checked), "findings": [f.as_dict() for f in self.findings]}


def column_stat_columns(client: ClientConfig) -> list[Column]:
    """Aggregate expressions for every column's null and invalid counts, to add to the
    validate stage's totals (one pass). Null: the raw value is blank, as ``not_null`` sees
    it; invalid: the row has a reason code on that column.

    The codes of a row are matched as one ``|``-joined string (``|<column>:`` cannot occur
    inside a code): cheaper than an ``exists`` lambda per column, which Spark interprets
    (DesignDoc, "Data-quality drift"). Valid rows (no codes) skip it.
    """
    codes = F.concat(F.lit("|"), F.array_join(REASONS, "|"))
    out = []
    for column in client.columns:
        raw = F.col(column.name + RAW_SUFFIX)
        out.append(F.count_if(raw.isNull() | (F.trim(raw) == "")).alias(column.name + _NULL))
        flagged = (F.size(REASONS) > 0) & codes.contains(f"|{column.name}:")
        out.append(F.count_if(flagged).alias(column.name + _INVALID))
    return out


def column_stats(totals: Mapping[str, Any], client: ClientConfig) -> dict[str, dict[str, int]]:
    """The audit's ``column_stats`` from the totals row (``column_stat_columns``' aliases)."""
    return {
        c.name: {
            "null": int(totals[c.name + _NULL] or 0),
            "invalid": int(totals[c.name + _INVALID] or 0),
        }
        for c in client.columns
    }


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Band:
    """What a series' next figure is held to: the baseline median and its allowed range."""

    check: CheckName
    column: str | None
    baseline: float
    low: float
    high: float
    tolerance: float
    action: DriftAction
    history: int  # files in the baseline

    @property
    def key(self) -> str:
        return self.check if self.column is None else f"{self.check}:{self.column}"

    def admits(self, value: float) -> bool:
        """Inclusive bounds, with a slack for float noise (and a ratio's rounding)."""
        return (
            self.low * (1 - _EPSILON) - _EPSILON <= value <= self.high * (1 + _EPSILON) + _EPSILON
        )

    def finding(self, value: float) -> Finding:
        digits = 6 if self.check != "row_count" else 3
        return Finding(
            self.check,
            self.column,
            round(value, digits),
            round(self.baseline, digits),
            self.tolerance,
            round(self.low, digits),
            round(self.high, digits),
            self.action,
            self.history,
        )


@dataclass(frozen=True)
class _Series:
    """One check of one column (or the row count) and how to read it off a file."""

    check: CheckName
    column: str | None
    tolerance: float
    action: DriftAction
    direction: str = "both"

    def value(self, file: FileFigures) -> float | None:
        if self.check == "row_count":
            return float(file.rows)
        assert self.column is not None
        return file.share(self.check, self.column)

    def band(self, history: Sequence[FileFigures], window: int) -> Band | None:
        """The band of the last ``window`` files with a figure (None: none has one)."""
        values = [v for v in (self.value(f) for f in history) if v is not None][-window:]
        if not values:
            return None
        base, tol = _median(values), self.tolerance
        if self.check == "row_count":
            low, high = base * tol, base / tol
        else:
            low = 0.0 if self.direction == "up" else max(0.0, base - tol)
            high = 1.0 if self.direction == "down" else min(1.0, base + tol)
        return Band(self.check, self.column, base, low, high, tol, self.action, len(values))


def _series(settings: DriftSettings, columns: Sequence[str]) -> list[_Series]:
    out = []
    if settings.row_count is not None:
        rows = settings.row_count
        out.append(_Series("row_count", None, rows.tolerance, rows.action))
    for check, share in (
        ("null_share", settings.null_share),
        ("invalid_share", settings.invalid_share),
    ):
        if share is None:
            continue
        name: CheckName = "null_share" if check == "null_share" else "invalid_share"
        for column, rule in share.rules(columns).items():
            out.append(_Series(name, column, rule.tolerance, rule.action, rule.direction))
    return out


def bands(
    settings: DriftSettings, columns: Sequence[str], history: Iterable[FileFigures]
) -> list[tuple[str, DriftAction, Band | None]]:
    """(series key, its action, the band a next file would meet: None until a file has a
    figure), for every series ``settings`` checks; a band of fewer than ``min_history``
    files does not apply yet (``lakehouse drift`` shows it as waiting)."""
    ordered = sorted(history, key=lambda f: f.order)
    out = []
    for series in _series(settings, columns):
        key = series.check if series.column is None else f"{series.check}:{series.column}"
        out.append((key, series.action, series.band(ordered, settings.window)))
    return out


def evaluate(
    settings: DriftSettings,
    columns: Sequence[str],
    history: Iterable[FileFigures],
    observed: FileFigures,
) -> DriftReport | None:
    """``observed`` against the files of ``history`` that precede it (creation date, sequence);
    None when no check applies yet (each needs ``min_history`` files with its figure)."""
    before = sorted(
        (f for f in history if f.file_name != observed.file_name and f.order < observed.order),
        key=lambda f: f.order,
    )
    checked: list[str] = []
    findings: list[Finding] = []
    for series in _series(settings, columns):
        value = series.value(observed)
        band = series.band(before, settings.window) if value is not None else None
        if value is None or band is None or band.history < settings.min_history:
            continue
        checked.append(band.key)
        if not band.admits(value):
            findings.append(band.finding(value))
    if not checked:
        return None
    return DriftReport(tuple(checked), tuple(findings))


def _figures(row: Mapping[str, Any]) -> FileFigures | None:
    """A SUCCESS audit row as history (None: not usable: no date or count)."""
    if row.get("creation_date") is None or row.get("rows_read") is None:
        return None
    stats = row.get("column_stats")
    parsed = json.loads(stats) if isinstance(stats, str) else stats
    columns = (
        {
            str(name): ColumnCounts(int(c.get("null", 0)), int(c.get("invalid", 0)))
            for name, c in parsed.items()
        }
        if isinstance(parsed, dict)
        else None
    )
    return FileFigures(
        file_name=str(row["file_name"]),
        creation_date=row["creation_date"],
        sequence=int(row.get("sequence") or 0),
        rows=int(row["rows_read"]),
        columns=columns,
    )


_HISTORY_COLUMNS = (
    "client_id",
    "file_name",
    "status",
    "creation_date",
    "sequence",
    "rows_read",
    "finished_at",
)


@dataclass
class Baselines:
    """Every client's drift history for one run: the audit read once (on the first file of a
    client with ``drift:``), then each file the run commits added (``observe``).

    History: per file name, its latest audit row if that row is SUCCESS (a file released or
    backfilled counts once, with its latest figures; a HELD file does not count).
    """

    engine: TableEngine | None
    audit_path: Path | None
    # (client, dataset) -> file name -> figures; dataset None: rows from before datasets were
    # audited, which belong to the client's default dataset.
    _files: dict[tuple[str, str | None], dict[str, FileFigures]] | None = field(
        default=None, repr=False
    )
    # Client streams may process and commit from several threads.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def history(self, client: ClientConfig) -> list[FileFigures]:
        """The files of ``client``'s dataset (its own feed: members' files are not readings')."""
        with self._lock:
            if self._files is None:
                self._files = _read_history(self.engine, self.audit_path)
            found = dict(self._files.get((client.client_id, client.dataset), {}))
            if client.feed == client.client_id:
                for name, figures in self._files.get((client.client_id, None), {}).items():
                    found.setdefault(name, figures)
            return list(found.values())

    def observe(self, records: Iterable[AuditRecord]) -> None:
        """Add (or drop) the files of committed audit rows; no-op until the audit is read."""
        with self._lock:
            if self._files is not None:  # else read later, with these rows in it
                self._observe(self._files, records)

    @staticmethod
    def _observe(
        clients: dict[tuple[str, str | None], dict[str, FileFigures]],
        records: Iterable[AuditRecord],
    ) -> None:
        for record in records:
            if record.client_id is None:
                continue
            files = clients.setdefault((record.client_id, record.dataset), {})
            figures = _figures(_record_row(record)) if record.status == Status.SUCCESS else None
            if figures is not None:
                files[record.file_name] = figures
            elif record.status in (Status.HELD, Status.SUCCESS):
                files.pop(record.file_name, None)


def _record_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "file_name": record.file_name,
        "creation_date": record.creation_date,
        "sequence": record.sequence,
        "rows_read": record.rows_read,
        "column_stats": record.column_stats,
    }


def _read_history(
    engine: TableEngine | None, path: Path | None
) -> dict[tuple[str, str | None], dict[str, FileFigures]]:
    if engine is None or path is None or not engine.exists(path):
        return {}
    table = engine.read(path)  # small; an audit written before column_stats lacks it
    names = [c for c in (*_HISTORY_COLUMNS, "column_stats", "dataset") if c in table.column_names]
    rows = table.select(names).to_pylist()
    # Scan order is not commit order: the latest row of a file decides.
    rows.sort(key=lambda r: (r["finished_at"] is not None, r["finished_at"]))
    latest: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for row in rows:
        if row["client_id"] is not None and row["status"] in (Status.SUCCESS, Status.HELD):
            key = (str(row["client_id"]), row.get("dataset"), str(row["file_name"]))
            latest[key] = row
    files: dict[tuple[str, str | None], dict[str, FileFigures]] = {}
    for (client_id, dataset, name), row in latest.items():
        figures = _figures(row) if row["status"] == Status.SUCCESS else None
        if figures is not None:
            files.setdefault((client_id, dataset), {})[name] = figures
    return files
