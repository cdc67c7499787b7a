"""``lakehouse backfill``: re-process a client's files for a creation-date range.

Also behind ``spark-submit jobs/backfill.py`` and ``scripts/run_pipeline.sh --backfill``.
``--dry-run`` lists the files and writes nothing (and starts no Spark).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from lakehouse.backfill import BackfillPlan, plan_backfill
from lakehouse.cli._common import Subcommands, iso_date, load_cli_settings, settings_args
from lakehouse.config import load_clients
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError
from lakehouse.ops.render import FILE_OUTCOME, Column, render_table, to_json

__all__ = ["register"]

_PLAN_COLUMNS = (
    Column("file_name", "file"),
    Column("creation_date", "created"),
    Column("sequence", "seq", ">"),
    Column("size", "bytes", ">"),
    Column("sha256", "sha256"),
    Column("last_status", "last status"),
    Column("action", "action"),
)
_RESULT_COLUMNS = (
    Column("file_name", "file"),
    *FILE_OUTCOME,
    Column("reason", "reason"),
    Column("error", "error"),
)


def _window(args: argparse.Namespace) -> tuple[dt.date, dt.date]:
    if args.last_days is not None:
        if args.last_days < 1:
            raise LakehouseError("--last-days must be at least 1", step="backfill")
        if args.start or args.end:
            raise LakehouseError("use --last-days or --from/--to, not both", step="backfill")
        today = dt.datetime.now(dt.UTC).date()
        return today - dt.timedelta(days=args.last_days - 1), today
    if args.start is None or args.end is None:
        raise LakehouseError(
            "a backfill needs a creation-date range",
            step="backfill",
            fix="pass --from YYYY-MM-DD --to YYYY-MM-DD, or --last-days N",
        )
    return args.start, args.end


def _cmd_backfill(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    start, end = _window(args)
    plan = plan_backfill(
        settings,
        clients,
        get_engine(settings),
        client_id=args.client,
        start=start,
        end=end,
        source=args.source,
    )
    header = (
        f"backfill {plan.client_id} {start}..{end} from {plan.source}: {len(plan.files)} file(s)"
    )
    if args.dry_run:
        if args.json:
            print(to_json({**_plan_info(plan), "dry_run": True}))
        else:
            print(f"{header} (dry run: nothing is written)")
            print(render_table([f.as_row() for f in plan.files], _PLAN_COLUMNS))
        return 0
    from lakehouse.ingest.backfill import run_backfill  # starts Spark: only for real runs
    from lakehouse.pii.key_check import checked_ring

    keys = checked_ring(settings, [clients[plan.client_id]])
    started = time.perf_counter()
    result = run_backfill(settings, clients, keys, plan)
    rows = [r.as_row() for r in result.records]
    if args.json:
        print(
            to_json(
                {**_plan_info(plan), "dry_run": False, "run_id": result.run_id, "records": rows}
            )
        )
    else:
        print(f"{header}, run {result.run_id} in {time.perf_counter() - started:.1f}s")
        print(render_table(rows, _RESULT_COLUMNS))
    result.raise_for_failures()
    return 0


def _plan_info(plan: BackfillPlan) -> dict[str, object]:
    return {
        "client_id": plan.client_id,
        "from": plan.start,
        "to": plan.end,
        "source": plan.source,
        "files": [f.as_row() for f in plan.files],
        "ignored": [{"file_name": name, "reason": reason} for name, reason in plan.skipped],
    }


def register(sub: Subcommands) -> None:
    backfill = sub.add_parser(
        "backfill",
        help="re-process a client's files for a creation-date range (idempotent)",
        description="Re-process a client's files whose creation date is in a range, in "
        "(creation date, sequence) order, from the archive of landing files or from bronze. "
        "Idempotent: a second identical backfill commits nothing to bronze, quarantine or "
        "silver; late files never overwrite newer silver rows.",
    )
    settings_args(backfill)
    backfill.add_argument("--client", required=True, help="client id")
    backfill.add_argument("--from", dest="start", type=iso_date, help="first creation date")
    backfill.add_argument("--to", dest="end", type=iso_date, help="last creation date")
    backfill.add_argument(
        "--last-days", type=int, help="rolling window: files created in the last N days (UTC)"
    )
    backfill.add_argument("--source", choices=["archive", "bronze"], default="archive")
    backfill.add_argument("--dry-run", action="store_true", help="list the files; write nothing")
    backfill.add_argument("--json", action="store_true", help="machine-readable output")
    backfill.set_defaults(func=_cmd_backfill)
