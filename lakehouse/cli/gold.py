"""``lakehouse gold [--table NAME] [--full] [--json]``: bring the gold tables up to date with
silver's change feed (no Spark: the engine reads the feed and the changed clients' rows)."""

from __future__ import annotations

import argparse

from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.engine import get_engine
from lakehouse.gold import new_run_id, refresh_gold
from lakehouse.ops.render import Column, render_table, to_json

__all__ = ["register"]

_TABLE = (
    Column("table", "table"),
    Column("mode", "mode"),
    Column("source_from", "from version", ">"),
    Column("source_to", "silver version", ">"),
    Column("clients", "clients recomputed"),
    Column("rows", "rows", ">"),
    Column("gold_version", "gold version", ">"),
    Column("reason", "why full"),
)


def _cmd_gold(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    results = refresh_gold(
        settings, get_engine(settings), run_id=new_run_id(), tables=args.table, full=args.full
    )
    if args.json:
        print(to_json([result.as_row() for result in results]))
    elif results:
        shown = [{**r.as_row(), "clients": ", ".join(r.clients) or None} for r in results]
        print(render_table(shown, _TABLE))
    else:
        print("no gold table configured (README, 'Gold tables')")
    return 0


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "gold", help="refresh gold tables from silver's change feed (exactly once)"
    )
    settings_args(parser)
    parser.add_argument("--table", action="append", help="only this gold table (repeatable)")
    parser.add_argument(
        "--full", action="store_true", help="recompute every client instead of the changed ones"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=_cmd_gold)
