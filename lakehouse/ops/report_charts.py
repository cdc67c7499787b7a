"""The report's charts, drawn server-side with matplotlib's SVG backend into inline SVG text.

No pyplot (no global figure state), no fonts embedded (text stays text: ``svg.fonttype`` none),
no mathtext (a ``$`` in a label is just a dollar), no date in the metadata, and ids salted
per chart so several SVGs can share one page.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from lakehouse.ops.report_series import (
    DayRows,
    FreshnessCell,
    RunStages,
    SilverVersion,
    stage_key,
)

__all__ = [
    "FRESHNESS_COLOURS",
    "MAX_RUNS",
    "ROW_COLOURS",
    "empty_chart",
    "freshness_chart",
    "reasons_chart",
    "rows_chart",
    "silver_chart",
    "stages_chart",
    "svg_of",
]

ROW_COLOURS = {"valid": "#2e7d32", "quarantined": "#ef6c00", "held": "#7b1fa2"}
FRESHNESS_COLOURS = {
    "on_time": "#2e7d32",
    "late": "#ef6c00",
    "missing": "#c62828",
    "not_due": "#bdbdbd",
}
_STAGE_COLOURS = {
    "read": "#1565c0",
    "bronze": "#8d6e63",
    "validate": "#2e7d32",
    "quarantine": "#ef6c00",
    "silver": "#6a1b9a",
}
_CHANGE_COLOURS = {"inserted": "#2e7d32", "updated": "#1565c0", "deleted": "#c62828"}
_WIDTH_IN = 10.0
MAX_RUNS = 40  # the stage chart's latest runs: one bar each
_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": ["DejaVu Sans", "Liberation Sans", "sans-serif"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e0e0e0",
    "legend.frameon": False,
    "legend.fontsize": 8,
}


@contextmanager
def _style(chart_id: str) -> Iterator[None]:
    import matplotlib

    rc: dict[Any, Any] = {**_RC, "svg.hashsalt": chart_id, "svg.id": chart_id}
    with matplotlib.rc_context(rc):
        yield


def svg_of(fig: Any, chart_id: str, label: str) -> str:
    """The figure as an ``<svg>`` element (no XML prolog), labelled for screen readers."""
    buffer = io.StringIO()
    with _style(chart_id):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    svg = text[text.index("<svg") :]
    from html import escape

    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)


def _figure(chart_id: str, height: float, rows: int = 1, **kwargs: Any) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    with _style(chart_id):
        fig = Figure(figsize=(_WIDTH_IN, height), layout="constrained")
        axes = fig.subplots(rows, 1, squeeze=False, **kwargs)[:, 0]
    return fig, axes


def _date_axis(ax: Any, first: dt.date, last: dt.date) -> None:
    """Whole days only (a one-day chart must not zoom into hours), a day of margin."""
    import matplotlib.dates as mdates
    from matplotlib.ticker import MaxNLocator

    span = (last - first).days + 1
    if span <= 62:
        locator: Any = mdates.DayLocator(interval=max(1, -(-span // 10)))  # type: ignore[no-untyped-call]
        formatter: Any = mdates.DateFormatter("%b %d")  # type: ignore[no-untyped-call]
    else:
        locator = mdates.AutoDateLocator(minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
        formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    ax.set_xlim(first - dt.timedelta(days=1), last + dt.timedelta(days=1))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))


def empty_chart(chart_id: str, title: str, message: str) -> str:
    """A small chart that says why there is nothing to draw."""
    fig, (ax,) = _figure(chart_id, 1.2)
    with _style(chart_id):
        ax.set_title(title, loc="left")
        ax.text(0.5, 0.4, message, ha="center", va="center", color="#616161")
        ax.set_axis_off()
    return svg_of(fig, chart_id, f"{title}: {message}")


def _per_client(
    chart_id: str,
    title: str,
    series: Mapping[str, Any],
    days: Callable[[Any], Sequence[dt.date]],
    draw: Callable[[Any, Any], None],
    ylabel: str,
    colours: Mapping[str, str],
) -> str:
    """One panel per client on one date range, each drawn by ``draw(ax, data)``; one legend
    (the colours are the same in every panel)."""
    every = [d for data in series.values() for d in days(data)]
    if not every:
        return empty_chart(chart_id, title, "no data in this period")
    fig, axes = _figure(chart_id, 0.4 + 1.9 * len(series), rows=len(series))
    with _style(chart_id):
        for ax, (client, data) in zip(axes, series.items(), strict=True):
            draw(ax, data)
            ax.set_title(client, loc="left", fontweight="bold")
            ax.set_ylabel(ylabel)
            _date_axis(ax, min(every), max(every))
        axes[-1].set_xlabel(f"creation date ({min(every):%Y-%m-%d} to {max(every):%Y-%m-%d})")
        axes[0].legend(handles=_patches(colours), loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return svg_of(fig, chart_id, title)


def _patches(colours: Mapping[str, str]) -> list[Any]:
    """Legend entries; state names read as words (``on_time``), reason codes stay codes."""
    from matplotlib.patches import Patch

    return [
        Patch(color=c, label=n if ":" in n else n.replace("_", " ")) for n, c in colours.items()
    ]


def rows_chart(series: Mapping[str, Sequence[DayRows]], chart_id: str = "chart-rows") -> str:
    """Per client: valid, quarantined and held rows per creation date (stacked bars)."""

    def draw(ax: Any, days: Sequence[DayRows]) -> None:
        x = [d.day for d in days]
        bottom = [0] * len(days)
        for name, colour in ROW_COLOURS.items():
            values = [getattr(d, name) for d in days]
            ax.bar(x, values, width=0.8, bottom=bottom, color=colour, label=name)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]

    title = "Rows per creation date"
    return _per_client(
        chart_id, title, series, lambda ds: [d.day for d in ds], draw, "rows", ROW_COLOURS
    )


def _reason_colours(reasons: Sequence[str]) -> dict[str, str]:
    import matplotlib

    palette = matplotlib.colormaps["tab20"]
    return {r: matplotlib.colors.to_hex(palette(i % palette.N)) for i, r in enumerate(reasons)}


def reasons_chart(
    series: Mapping[str, Mapping[tuple[dt.date, str], int]], chart_id: str = "chart-reasons"
) -> str:
    """Per client: quarantined rows per creation date, stacked by reason code (one colour per
    code across clients)."""
    colours = _reason_colours(sorted({r for counts in series.values() for _, r in counts}))

    def draw(ax: Any, counts: Mapping[tuple[dt.date, str], int]) -> None:
        days = sorted({d for d, _ in counts})
        bottom = [0] * len(days)
        for reason, colour in colours.items():
            values = [counts.get((d, reason), 0) for d in days]
            if any(values):
                ax.bar(days, values, width=0.8, bottom=bottom, color=colour, label=reason)
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]

    title = "Quarantine reason codes per creation date"
    return _per_client(chart_id, title, series, lambda c: [d for d, _ in c], draw, "rows", colours)


def _stage_colours(names: Sequence[str]) -> dict[str, str]:
    import matplotlib

    palette = matplotlib.colormaps["Set2"]
    extra = [matplotlib.colors.to_hex(palette(i)) for i in range(palette.N)]
    others = [n for n in names if n not in _STAGE_COLOURS]
    return {
        **{n: c for n, c in _STAGE_COLOURS.items() if n in names},
        **{n: extra[i % len(extra)] for i, n in enumerate(others)},
    }


def _run_label(run: RunStages) -> str:
    files = "file" if run.files == 1 else "files"
    return f"{run.run_id} ({run.files} {files})"


def stages_chart(runs: Sequence[RunStages], chart_id: str = "chart-stages") -> str:
    """Per run: seconds per stage summed over its files (stacked horizontal bars)."""
    title = "Stage seconds per run"
    if not runs:
        return empty_chart(chart_id, title, "no run in this period")
    shown = runs[-MAX_RUNS:]
    note = "" if len(shown) == len(runs) else f"; the latest {len(shown)} of {len(runs)} runs"
    runs = shown
    names = sorted({n for r in runs for n in r.seconds}, key=stage_key)
    colours = _stage_colours(names)
    fig, (ax,) = _figure(chart_id, 1.0 + 0.32 * len(runs))
    with _style(chart_id):
        rows = range(len(runs))  # positions, not labels: equal labels must not share a bar
        left = [0.0] * len(runs)
        for name in names:
            values = [r.seconds.get(name, 0.0) for r in runs]
            ax.barh(rows, values, left=left, color=colours[name], label=name, height=0.7)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_yticks(rows, [_run_label(r) for r in runs])
        ax.invert_yaxis()
        ax.set_xlabel(f"seconds, all files of the run (oldest run on top{note})")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return svg_of(fig, chart_id, title)


def silver_chart(versions: Sequence[SilverVersion], chart_id: str = "chart-silver") -> str:
    """Silver rows after each version (top) and the rows each version changed (bottom)."""
    title = "Silver table: rows and changes per version"
    if not versions:
        return empty_chart(chart_id, title, "no silver commit in this period")
    fig, (top, bottom) = _figure(chart_id, 4.2, rows=2, sharex=True)
    with _style(chart_id):
        x = [v.version for v in versions]
        sized = [(v.version, v.rows) for v in versions if v.rows is not None]
        if sized:
            top.step(*zip(*sized, strict=True), where="post", color="#37474f", marker="o", ms=3)
        top.set_ylabel("rows")
        top.set_ylim(bottom=0)
        top.set_title("rows in silver after the version", loc="left")
        width = 0.27
        for i, (name, colour) in enumerate(_CHANGE_COLOURS.items()):
            values = [getattr(v, name) or 0 for v in versions]
            offsets = [xi + (i - 1) * width for xi in x]
            bottom.bar(offsets, values, width=width, color=colour, label=name)
        bottom.set_ylabel("rows")
        bottom.set_xlabel("silver version")
        bottom.set_title("rows changed by the version (merge metrics)", loc="left")
        bottom.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        from matplotlib.ticker import MaxNLocator

        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    return svg_of(fig, chart_id, title)


def _gap(cells: Sequence[FreshnessCell]) -> int | None:
    """Days between a client's due days (None: fewer than two)."""
    days = sorted({c.due_date for c in cells})
    return min(((b - a).days for a, b in itertools.pairwise(days)), default=None)


def freshness_chart(
    series: Mapping[str, Sequence[FreshnessCell]], chart_id: str = "chart-freshness"
) -> str:
    """One row per client, one cell per due delivery: on time, late by how much, missing,
    or not yet due, against the calendar's deadline (grace included)."""
    title = "Freshness per due delivery"
    cells = [c for row in series.values() for c in row]
    if not cells:
        return empty_chart(chart_id, title, "no due delivery in this period")
    fig, (ax,) = _figure(chart_id, 0.9 + 0.55 * len(series))
    labelled = len({c.due_date for c in cells}) <= 16
    with _style(chart_id):
        clients = list(series)
        gaps = [g for g in map(_gap, series.values()) if g is not None]
        # Most of the gap between due days: a weekly calendar's cell is wider than a daily's.
        default = 0.85 * max(gaps, default=1)
        ends: list[dt.datetime] = []
        for y, client in enumerate(clients):
            gap = _gap(series[client])
            width = default if gap is None else 0.85 * gap
            for cell in series[client]:
                # A cell starts on its due date and covers most of the time to the next.
                left = dt.datetime.combine(cell.due_date, dt.time())
                centre = left + dt.timedelta(days=width / 2)
                colour = FRESHNESS_COLOURS[cell.state]
                ax.barh(y, width, left=left, height=0.7, color=colour, edgecolor="white")
                ends += [left, left + dt.timedelta(days=width)]
                if labelled:
                    ink = "#212121" if cell.state == "not_due" else "white"
                    ax.text(
                        centre, y, cell.label, ha="center", va="center", fontsize=7.5, color=ink
                    )
        ax.set_yticks(range(len(clients)), clients)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        _date_axis(ax, min(c.due_date for c in cells), max(c.due_date for c in cells))
        ax.set_xlim(min(ends) - dt.timedelta(days=1), max(ends) + dt.timedelta(days=0.5))
        first, last = min(c.due_date for c in cells), max(c.due_date for c in cells)
        ax.set_xlabel(f"due date ({first:%Y-%m-%d} to {last:%Y-%m-%d}; a cell starts on it)")
        ax.legend(handles=_patches(FRESHNESS_COLOURS), loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return svg_of(fig, chart_id, title)
