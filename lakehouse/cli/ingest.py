"""``lakehouse ingest`` and ``demo-data``."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from lakehouse.audit import AuditRecord
from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.ops.render import FILE_OUTCOME, Column, render_table, to_json
from lakehouse.pii.keys import KEY_FILE_ENV, TOKEN_KEY_ENV, create_dev_key_file

__all__ = ["register"]

DEV_KEY_FILE = Path(".lakehouse/dev-keys.json")
_SUMMARY = (
    Column("file_name", "file"),
    *FILE_OUTCOME,
    Column("seconds", "secs", ">"),
    Column("outcome", "reason"),
)


def _print_summary(title: str, records: Sequence[AuditRecord]) -> None:
    rows = []
    for record in records:
        finished = record.finished_at or record.started_at
        rows.append(
            {
                **record.as_row(),
                "seconds": round((finished - record.started_at).total_seconds(), 1),
                "outcome": record.reason or record.error or "",
            }
        )
    print(f"\n{title}")
    if rows:
        print(render_table(rows, _SUMMARY))


def _ensure_demo_key() -> None:
    if not os.environ.get(TOKEN_KEY_ENV) and not os.environ.get(KEY_FILE_ENV):
        os.environ[KEY_FILE_ENV] = str(create_dev_key_file(DEV_KEY_FILE))
        print(f"demo: using the local DEVELOPMENT key file {DEV_KEY_FILE} (never for real data)")


def _cmd_ingest(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    if not args.demo:
        _ingest_and_report(settings, clients, args, None)
        return 0
    from lakehouse.demo import build_demo

    _ensure_demo_key()
    demo = build_demo(clients)
    for wave in (1, 2):
        demo.write(settings.landing_dir, waves=[wave])
        _ingest_and_report(settings, clients, args, f"demo wave {wave}:")
    if settings.gold.tables:
        _refresh_demo_gold(settings)
    return 0


def _refresh_demo_gold(settings: Settings) -> None:
    """The demo's gold tables, as the scheduled `lakehouse gold` job keeps them."""
    from lakehouse.engine import get_engine
    from lakehouse.gold import new_run_id, refresh_gold

    started = time.perf_counter()
    results = refresh_gold(settings, get_engine(settings), run_id=new_run_id("demo-gold"))
    done = ", ".join(
        f"{r.table} ({r.mode}, {r.rows} rows from silver version {r.source_to})" for r in results
    )
    print(f"\ndemo gold: {done} in {time.perf_counter() - started:.1f}s")


def _ingest_and_report(
    settings: Settings,
    clients: dict[str, ClientConfig],
    args: argparse.Namespace,
    label: str | None,
) -> None:
    """One run over landing; prints its per-file summary, then raises if a file failed."""
    from lakehouse.ingest.stream import run_ingest  # imports pyspark: keep other commands fast
    from lakehouse.pii.key_check import checked_ring

    chosen = [c for c in clients.values() if not args.client or c.client_id in args.client]
    keys = checked_ring(settings, chosen)  # a changed token key stops here, before Spark
    started = time.perf_counter()
    result = run_ingest(settings, clients, keys, only=args.client or ())
    title = (
        f"{label or f'run {result.run_id}:'} {len(result.records)} new file(s) in "
        f"{time.perf_counter() - started:.1f}s"
    )
    if args.demo:
        title += f" (tables under {settings.lake_root})"
    if args.json:
        print(to_json([r.as_row() for r in result.records]))
    else:
        _print_summary(title, result.records)
    for stream, why in result.skipped.items():
        print(f"skipped {stream}: {why}", file=sys.stderr)
    result.raise_for_failures()


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from lakehouse.demo import build_demo

    settings = load_cli_settings(args)
    demo = build_demo(load_clients(settings.clients_dir), seed=args.seed)
    waves = args.wave or (1, 2)
    paths = demo.write(settings.landing_dir, waves=waves)
    datasets = Counter(f.dataset for f in demo.files if f.wave in waves)
    kinds = ", ".join(f"{count} {dataset}" for dataset, count in sorted(datasets.items()))
    print(f"{len(paths)} demo file(s) in {settings.landing_dir} ({kinds})")
    return 0


def register(sub: Subcommands) -> None:
    ingest = sub.add_parser("ingest", help="ingest new landing files into the lake")
    settings_args(ingest)
    ingest.add_argument("--client", action="append", help="only this client (repeatable)")
    ingest.add_argument(
        "--trigger",
        choices=["available_now", "processing_time"],
        help="available_now: drain landing and stop (default); processing_time: keep running",
    )
    ingest.add_argument(
        "--processing-time", help="interval in processing_time mode, e.g. '30 seconds'"
    )
    ingest.add_argument(
        "--demo",
        action="store_true",
        help="generate the bundled demo files (members and readings, two waves) and ingest them",
    )
    ingest.add_argument("--json", action="store_true", help="print audit rows as JSON")
    ingest.set_defaults(func=_cmd_ingest)

    demo = sub.add_parser(
        "demo-data", help="write the seeded demo landing files (members and readings)"
    )
    settings_args(demo)
    demo.add_argument("--wave", type=int, action="append", choices=[1, 2])
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=_cmd_demo_data)
