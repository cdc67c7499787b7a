"""``lakehouse bench``: the performance benchmark (README, "Performance")."""

from __future__ import annotations

import argparse

from lakehouse.cli._common import Subcommands

__all__ = ["register"]


def _cmd_bench(args: argparse.Namespace) -> int:
    from lakehouse.bench.runner import run_benchmark  # starts Spark: keep other commands fast

    results = run_benchmark(args)
    for key in (
        "rows", "floor_s", "ingest_s", "rows_per_s", "floor_ratio", "replay_ratio",
        "replay_new_versions", "merge_scale_ratio", "memory_ratio", "peak_rss_mb",
    ):  # fmt: skip
        print(f"{key:20} {results[key]}")
    print(f"wrote {args.out / 'results.json'} and charts")
    return 0


def register(sub: Subcommands) -> None:
    from lakehouse.bench.runner import add_arguments

    bench = sub.add_parser(
        "bench",
        help="measure throughput, replay, merge scaling and memory on this machine",
        description="Generate member files and measure the pipeline in one run; writes "
        "<out>/results.json and PNG charts. --quick: small sizes (a smoke test).",
    )
    add_arguments(bench)
    bench.set_defaults(func=_cmd_bench)
