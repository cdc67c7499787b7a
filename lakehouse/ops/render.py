"""Output for people (aligned text tables) and for automation (JSON)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FILE_OUTCOME", "Column", "format_value", "render_table", "to_json"]

_MAX_WIDTH = 48


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    align: str = "<"  # "<" text, ">" numbers
    percent: bool = False  # a ratio shown as a percentage


# A file's outcome and counts, as every per-file table shows them (ingest, backfill, audit).
FILE_OUTCOME = (
    Column("status", "status"),
    Column("rows_read", "read", ">"),
    Column("rows_valid", "valid", ">"),
    Column("rows_quarantined", "quar", ">"),
    Column("rows_inserted", "ins", ">"),
    Column("rows_updated", "upd", ">"),
    Column("rows_unchanged", "same", ">"),
    Column("rows_stale", "stale", ">"),
)


def format_value(value: Any, *, percent: bool = False) -> str:
    """A cell: '-' for missing, UTC times to the second, ratios as percentages."""
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.1%}" if percent else f"{value:.2f}"
    return str(value)


def _cell(text: str) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= _MAX_WIDTH else text[: _MAX_WIDTH - 1] + "…"


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> str:
    """Rows as a text table, columns as wide as their widest cell (capped)."""
    cells = [
        [_cell(format_value(row.get(c.key), percent=c.percent)) for c in columns] for row in rows
    ]
    widths = [max([len(c.label), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.label.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for row in cells:
        parts = [
            text.rjust(w) if c.align == ">" else text.ljust(w)
            for text, c, w in zip(row, columns, widths, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def to_json(data: Any) -> str:
    """Stable JSON (sorted keys, ISO dates) for scripts and monitoring."""
    return json.dumps(data, default=_default, indent=2, sort_keys=True)
