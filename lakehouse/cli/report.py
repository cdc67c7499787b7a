"""``lakehouse report``: one self-contained HTML page of the lake's state (no Spark)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lakehouse.cli._common import (
    Subcommands,
    iso_date,
    load_cli_settings,
    settings_args,
    write_or_print,
)

__all__ = ["register"]


def _cmd_report(args: argparse.Namespace) -> int:
    from lakehouse.config import load_clients
    from lakehouse.engine import get_engine
    from lakehouse.ops.report_html import report_html

    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    html = report_html(
        settings, get_engine(settings), clients, since=args.since, client_id=args.client
    )
    write_or_print(html, args.out)
    return 0


def register(sub: Subcommands) -> None:
    report = sub.add_parser(
        "report", help="one self-contained HTML page: rows, reasons, freshness, runs, silver"
    )
    settings_args(report)
    report.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    report.add_argument("--since", type=iso_date, help="files processed on or after (UTC date)")
    report.add_argument("--client", help="only this client")
    report.set_defaults(func=_cmd_report)
