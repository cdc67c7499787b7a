"""``lakehouse bench`` / ``scripts/benchmark.py``: measure everything in one run.

Writes ``<out>/results.json`` (keys: engine, rows, floor_s, ingest_s, rows_per_s, floor_ratio,
replay_ratio, replay_new_versions, merge_scale_ratio, memory_ratio, peak_rss_mb, stages,
small_file_s (median seconds of a demo-sized file, warm), noop_run_s (a run with nothing new,
JVM start included),
plus the details behind each) and the charts (``charts.py``). ``--quick`` runs the same
code on small sizes: a smoke test of the benchmark, whose timings mean nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

__all__ = ["BenchSizes", "add_arguments", "run_benchmark"]

log = logging.getLogger(__name__)

GB = 1_000_000_000


@dataclass(frozen=True)
class BenchSizes:
    rows: int
    repeat: int
    warmup_rows: int
    merge_bases: tuple[int, int]
    merge_changes: int
    memory_bytes: tuple[int, int]

    @classmethod
    def full(cls, rows: int) -> BenchSizes:
        return cls(rows, 3, 20_000, (1_000_000, 10_000_000), 100_000, (GB // 2, 2 * GB))

    @classmethod
    def quick(cls, rows: int) -> BenchSizes:
        return cls(rows, 1, 2_000, (5_000, 50_000), 1_000, (500_000, 2_000_000))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, help="rows of the throughput file (default 1M)")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: checks the benchmark runs (CI)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench"), help="results folder")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--invalid-share", type=float, default=0.05)
    parser.add_argument(
        "--conf",
        type=Path,
        default=Path("conf/lakehouse.yaml"),
        help="settings whose spark section the benchmark uses",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        nargs=2,
        metavar=("SMALL", "LARGE"),
        help="landing file sizes of the memory case (default 500 2000; quick 0.5 2)",
    )
    parser.add_argument("--repeat", type=int, help="throughput runs to take the median of")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["merge", "memory", "small", "noop"]
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator else None


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run every measurement and write results.json and the charts under ``args.out``."""
    from lakehouse.bench.charts import write_charts
    from lakehouse.bench.scenarios import Bench, Workspace, memory_run, noop_run, run_summary
    from lakehouse.spark import build_spark

    sizes = (BenchSizes.quick if args.quick else BenchSizes.full)(
        args.rows or (20_000 if args.quick else 1_000_000)
    )
    if args.memory_mb:
        sizes = replace(sizes, memory_bytes=(args.memory_mb[0] * 10**6, args.memory_mb[1] * 10**6))
    if args.repeat:
        sizes = replace(sizes, repeat=args.repeat)
    conf = args.conf if args.conf and args.conf.exists() else None
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)  # the scratch folder inside it is deleted
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lakehouse-bench-", dir=args.work) as scratch:
        work = Workspace(Path(scratch), conf)
        spark_settings = work.settings("spark")
        engine = spark_settings.engine
        bench = Bench(
            spark=build_spark(spark_settings),
            work=work,
            seed=args.seed,
            invalid_share=args.invalid_share,
        )
        log.info("bench: warm-up")
        warmup_s = bench.warm_up(sizes.warmup_rows)
        log.info("bench: throughput", extra={"rows": sizes.rows})
        throughput = bench.throughput(sizes.rows, sizes.repeat)
        memory, failures = [], {}
        small, noop_s = None, None
        if "small" not in args.skip:
            log.info("bench: small files")
            small = bench.small_files()
            if "noop" not in args.skip:
                log.info("bench: a run with nothing new")
                noop_s = round(noop_run(work, "small"), 2)
        if "memory" not in args.skip:
            for index, target in enumerate(sizes.memory_bytes):
                log.info("bench: memory", extra={"bytes": target})
                try:
                    memory.append(memory_run(work, f"memory-{index}", target, seed=args.seed))
                except Exception as exc:  # noqa: BLE001 - reported in results.json
                    failures[f"memory-{target}"] = f"{type(exc).__name__}: {str(exc)[:500]}"
                    log.error("bench: memory case failed", extra={"bytes": target})
        merge = None
        if "merge" not in args.skip:
            log.info("bench: merge scale", extra={"bases": str(sizes.merge_bases)})
            try:
                merge = bench.merge_scale(sizes.merge_bases, sizes.merge_changes)
            except Exception as exc:  # noqa: BLE001 - reported in results.json, not hidden
                failures["merge"] = f"{type(exc).__name__}: {str(exc)[:500]}"
                log.error("bench: merge scale failed", extra={"error": failures["merge"]})
        bench.spark.stop()
    replay = throughput["replay"]
    ingest_s = throughput["ingest_s"]
    results: dict[str, Any] = {
        "engine": engine,
        "rows": sizes.rows,
        "floor_s": throughput["floor_s"],
        "ingest_s": ingest_s,
        "rows_per_s": round(sizes.rows / ingest_s),
        "floor_ratio": _ratio(ingest_s, throughput["floor_s"]),
        "replay_ratio": _ratio(max(replay["same_checkpoint_s"], replay["redelivered_s"]), ingest_s),
        "replay_new_versions": replay["new_versions"]["silver"],
        "merge_scale_ratio": _ratio(merge["silver_s"][1], merge["silver_s"][0]) if merge else None,
        "memory_ratio": (
            _ratio(memory[1].peak_rss_mb or 0, memory[0].peak_rss_mb or 0)
            if len(memory) == 2
            else None
        ),
        "peak_rss_mb": [m.peak_rss_mb for m in memory],
        "stages": throughput["stages"],
        "small_file_s": small["median_s"] if small else None,
        "noop_run_s": noop_s,
        "details": {
            "mode": "quick" if args.quick else "full",
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "seed": args.seed,
            "invalid_share": args.invalid_share,
            "warmup_s": round(warmup_s, 2),
            "throughput": throughput,
            "merge": merge,
            "small_files": small,
            "memory": [run_summary(m) for m in memory],
            "bench_wall_s": round(time.perf_counter() - started, 1),
            "failures": failures,
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_charts(results, args.out)
    return results
