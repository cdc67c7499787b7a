"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no script.

The Content-Security-Policy forbids every load (``default-src 'none'``) and every script;
only inline styles are allowed, which is all the page and matplotlib's SVG use. Every text
that comes from the lake (file names, run ids, reasons, errors) is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.ops.freshness import ClientFreshness
from lakehouse.ops.render import format_value
from lakehouse.ops.report import ReportData, build_report
from lakehouse.ops.report_charts import (
    FRESHNESS_COLOURS,
    ROW_COLOURS,
    freshness_chart,
    reasons_chart,
    rows_chart,
    silver_chart,
    stages_chart,
)
from lakehouse.ops.report_series import ActionItem, freshness_cells, late_text

__all__ = ["CSP", "render_report", "report_html"]

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; font-src 'none'; "
    "connect-src 'none'; script-src 'none'; object-src 'none'; frame-src 'none'; "
    "base-uri 'none'; form-action 'none'"
)

_CSS = """
:root { --ink: #212121; --muted: #616161; --line: #e0e0e0; --band: #fafafa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: var(--ink);
  margin: 0 auto; padding: 24px 32px 48px; max-width: 1180px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; padding-top: 12px; border-top: 2px solid var(--line); }
p.note, .muted { color: var(--muted); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; font-family: monospace; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td { white-space: nowrap; }
td.file, td.wrap { white-space: normal; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td code { white-space: pre-wrap; overflow-wrap: anywhere; background: #f5f5f5; padding: 1px 4px; }
td.file { overflow-wrap: anywhere; font-family: monospace; }
figure.chart { margin: 8px 0 16px; }
figure.chart svg { width: 100%; height: auto; display: block; }
.badge { display: inline-block; padding: 0 6px; border-radius: 8px; color: #fff; font-size: 12px; }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
"""


def _e(value: Any, *, percent: bool = False) -> str:
    return escape(format_value(value, percent=percent), quote=True)


def _table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str, str]],
    *,
    table_id: str,
    empty: str,
    cell: Callable[[str, Any], str | None] | None = None,
) -> str:
    """``columns``: (key, label, class); a class ``n`` right-aligns numbers, ``pct`` shows a
    ratio as a percentage."""
    if not rows:
        return f'<p class="empty" id="{table_id}">{escape(empty)}</p>'
    head = "".join(f'<th class="{c}">{escape(label)}</th>' for _, label, c in columns)
    body = []
    for row in rows:
        cells = []
        for key, _, css in columns:
            value = row.get(key)
            text = cell(key, value) if cell else None
            if text is None:
                text = _e(value, percent="pct" in css)
            cells.append(f'<td class="{css}">{text}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _period(data: ReportData) -> str:
    if data.since is None:
        return "all audited files"
    return f"files processed on or after {data.since.isoformat()} (UTC)"


def _header(data: ReportData) -> str:
    meta = [
        ("lake", data.lake_root),
        ("generated", format_value(data.generated_at) + " UTC"),
        ("period", _period(data)),
        ("clients", data.client_id or (", ".join(data.clients) or "none")),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in meta)
    return f'<header><h1>Lakehouse report</h1><dl class="meta">{items}</dl></header>'


_SUMMARY = (
    ("client_id", "client", ""),
    ("freshness", "freshness", ""),
    ("files", "files", "n"),
    ("files_ingested", "ingested", "n"),
    ("files_held", "held", "n"),
    ("files_failed", "failed", "n"),
    ("files_rejected", "rejected", "n"),
    ("files_duplicate", "duplicate", "n"),
    ("rows_read", "rows read", "n"),
    ("rows_quarantined", "quarantined", "n"),
    ("quarantine_rate", "quar. rate", "n pct"),
    ("silver_rows", "silver rows now", "n"),
    ("last_success_at", "last success (UTC)", ""),
)


def _summary(data: ReportData) -> str:
    fresh = {f.client_id: f for f in data.freshness}
    rows = []
    for summary in data.summaries:
        status = fresh.get(summary["client_id"])
        rows.append({**summary, "freshness": _freshness_text(status) if status else None})
    return "<h2 id='summary'>Clients</h2>" + _table(
        rows, _SUMMARY, table_id="summary-table", empty="no client configured or audited"
    )


def _freshness_text(status: ClientFreshness) -> str:
    if status.status == "late" and status.late_by is not None:
        return f"late {late_text(status.late_by)}"
    return str(status.status).replace("_", " ")


_FRESHNESS = (
    ("client_id", "client", ""),
    ("calendar", "calendar", "wrap"),
    ("status", "status", ""),
    ("last_delivery", "last delivery (UTC)", ""),
    ("expected_by", "late since / next deadline (UTC)", ""),
    ("missing", "missing files (creation date_N)", "wrap"),
)


def _freshness_table(freshness: Sequence[ClientFreshness]) -> str:
    rows = [
        {
            "client_id": f.client_id,
            "calendar": f.calendar,
            "status": _freshness_text(f),
            "last_delivery": f.last_delivery,
            "expected_by": f.expected_by,
            "missing": ", ".join(f.missing) or None,
        }
        for f in freshness
    ]
    return _table(rows, _FRESHNESS, table_id="freshness-table", empty="no client selected")


def _legend(colours: Mapping[str, str]) -> str:
    return " ".join(
        f'<span class="badge" style="background:{c}">{escape(n.replace("_", " "))}</span>'
        for n, c in colours.items()
    )


def _chart(chart_id: str, svg: str) -> str:
    return f'<figure class="chart" data-chart="{chart_id}">{svg}</figure>'


def _command_cell(key: str, value: Any) -> str | None:
    if key == "command":
        return f"<code>{escape(str(value))}</code>"
    return None


_ACTION = (
    ("client_id", "client", ""),
    ("file_name", "file", "file"),
    ("finished_at", "last outcome (UTC)", ""),
    ("reason", "reason", "wrap"),
    ("command", "what to run", "wrap"),
)


def _actions(items: Sequence[ActionItem]) -> list[dict[str, Any]]:
    return [
        {
            "client_id": i.client_id,
            "file_name": i.file_name,
            "finished_at": i.finished_at,
            "reason": i.reason,
            "error": i.error,
            "command": i.command,
        }
        for i in items
    ]


_FILE_REASONS = (
    ("day", "processed (UTC)", ""),
    ("client_id", "client", ""),
    ("status", "status", ""),
    ("code", "reason code", ""),
    ("files", "files", "n"),
)


def render_report(data: ReportData) -> str:
    """The whole page."""
    held = _table(
        _actions(data.held),
        _ACTION,
        table_id="held-table",
        empty="no file is held",
        cell=_command_cell,
    )
    failed = _table(
        _actions(data.failed),
        (*_ACTION[:4], ("error", "error (redacted)", "wrap"), _ACTION[4]),
        table_id="failed-table",
        empty="no file's last attempt failed",
        cell=_command_cell,
    )
    sections = [
        _header(data),
        _summary(data),
        "<h2 id='rows'>Rows per day</h2>",
        f"<p class='note'>{_legend(ROW_COLOURS)} rows of each file by its latest outcome "
        "(ingested: valid and quarantined; held: every row read, none in silver).</p>",
        _chart("chart-rows", rows_chart(data.rows_per_day)),
        "<h2 id='freshness'>Freshness</h2>",
        f"<p class='note'>{_legend(FRESHNESS_COLOURS)} each due delivery of the client's "
        "calendar against its deadline (grace included).</p>",
        _chart("chart-freshness", freshness_chart(freshness_cells(data.freshness))),
        _freshness_table(data.freshness),
        "<h2 id='reasons'>Quarantine reasons</h2>",
        "<p class='note'>Reason codes (<code>column:code</code>) of quarantined rows, counted "
        "from the quarantine table's reason column; no other column is read.</p>",
        _chart("chart-reasons", reasons_chart(data.row_reasons)),
        "<p class='note'>File-level reason codes from the audit:</p>",
        _table(
            data.file_reasons,
            _FILE_REASONS,
            table_id="file-reasons-table",
            empty="no file-level reason in this period",
        ),
        "<h2 id='stages'>Stage seconds per run</h2>",
        _chart("chart-stages", stages_chart(data.runs)),
        "<h2 id='silver'>Silver versions</h2>",
        _chart("chart-silver", silver_chart(data.silver)),
        "<h2 id='held'>Held files</h2>",
        "<p class='note'>Too many invalid rows: bronze and quarantine were written, nothing "
        "reached silver. Check the quarantine reasons, then release the file.</p>",
        held,
        "<h2 id='failed'>Failed files</h2>",
        "<p class='note'>An error stopped the file; fix the cause, then run the command.</p>",
        failed,
        "<footer>Identifiers, counts and reason codes only: no value of any bronze, "
        "quarantine or silver column is in this page. Self-contained: no script, no network "
        "load (Content-Security-Policy <code>default-src 'none'</code>).</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Lakehouse report {escape(format_value(data.generated_at))} UTC</title>"
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n"
    )


def report_html(
    settings: Settings,
    engine: TableEngine,
    clients: Mapping[str, ClientConfig],
    *,
    since: dt.date | None = None,
    client_id: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """The report of the lake as one HTML page (``build_report``, then ``render_report``).

    Raises:
        LakehouseError: ``client_id`` is not a configured client.
    """
    data = build_report(settings, engine, clients, since=since, client_id=client_id, now=now)
    return render_report(data)
