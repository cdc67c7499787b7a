"""PNG charts of a results.json: throughput and memory against file size, stage breakdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["write_charts"]


def _file_runs(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every whole-file ingest the run measured, labelled by scenario."""
    details = results["details"]
    throughput = details["throughput"]
    runs = [
        (
            "ingest",
            {
                "bytes": throughput["file_bytes"],
                "rows": results["rows"],
                "seconds": results["ingest_s"],
            },
        )
    ]
    for case in (details.get("merge") or {}).get("cases", {}).values():
        runs.append(("merge base load", case["load"]))
    runs.extend(("memory case", run) for run in details.get("memory", []))
    return runs


def write_charts(results: dict[str, Any], out: Path) -> list[Path]:
    """Write throughput.png, memory.png and stages.png into ``out``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    written = []
    runs = _file_runs(results)
    fig, ax = plt.subplots(figsize=(7, 4))
    for label in dict.fromkeys(label for label, _ in runs):
        points = sorted(
            (r["bytes"] / 1e6, r["rows"] / r["seconds"]) for lab, r in runs if lab == label
        )
        ax.plot(*zip(*points, strict=True), marker="o", label=label)
    floor = results["details"]["throughput"]
    ax.scatter(
        [floor["file_bytes"] / 1e6],
        [results["rows"] / results["floor_s"]],
        marker="x",
        color="k",
        label="floor (CSV -> Parquet)",
    )
    ax.axhline(150_000, linestyle=":", color="grey", label="target 150k rows/s")
    ax.set(
        xscale="log",
        xlabel="landing file size (MB)",
        ylabel="rows / s",
        title="End-to-end ingest throughput",
    )
    ax.legend(fontsize=8)
    written.append(_save(fig, out / "throughput.png"))

    memory = results["details"].get("memory", [])
    if memory:
        fig, ax = plt.subplots(figsize=(7, 4))
        sizes = [m["bytes"] / 1e6 for m in memory]
        ax.plot(
            sizes, [m["peak_rss_mb"] for m in memory], marker="o", label="peak RSS, process tree"
        )
        ax.set(
            xscale="log",
            xlabel="landing file size (MB)",
            ylabel="MB",
            ylim=(0, None),
            title="Peak memory of one ingest (driver + JVM + Python workers)",
        )
        ax.legend(fontsize=8)
        written.append(_save(fig, out / "memory.png"))

    stages = results["stages"]
    fig, ax = plt.subplots(figsize=(7, 3))
    names = list(stages)
    ax.barh(names, [stages[n] for n in names])
    ax.invert_yaxis()
    ax.set(xlabel="seconds", title=f"Stages of the {results['rows']:,}-row ingest")
    written.append(_save(fig, out / "stages.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
