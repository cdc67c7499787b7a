"""``lakehouse freshness``: every client's deliveries against its calendar; exit 1 when late.

Reads the audit table through the engine (no Spark). Identifiers and times only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import uuid
from typing import Any

from lakehouse.alerts import Alert, Alerter, AlertKind
from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.config import load_clients
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError
from lakehouse.ops.freshness import ClientFreshness, client_freshness
from lakehouse.ops.render import Column, render_table, to_json

__all__ = ["register"]

_LISTED_MISSING = 4
_TABLE = (
    Column("client_id", "client"),
    Column("status", "status"),
    Column("calendar", "calendar"),
    Column("last_delivery", "last delivery (UTC)"),
    Column("expected_by", "expected by (UTC)"),
    Column("late_by", "late by", ">"),
    Column("missing", "missing"),
)


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[+HH:MM])"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _span(delta: dt.timedelta | None) -> str | None:
    if delta is None:
        return None
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{hours}h{minutes:02d}m"


def _row(item: ClientFreshness) -> dict[str, Any]:
    missing = list(item.missing[:_LISTED_MISSING])
    if len(item.missing) > _LISTED_MISSING:
        missing.append(f"+{len(item.missing) - _LISTED_MISSING} more")
    return {
        "client_id": item.client_id,
        "status": item.status,
        "calendar": item.calendar,
        "last_delivery": item.last_delivery,
        "expected_by": item.expected_by,
        "late_by": _span(item.late_by),
        "missing": ", ".join(missing) or None,
    }


def _cmd_freshness(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    unknown = sorted(set(args.client or ()) - set(clients))
    if unknown:
        raise LakehouseError(
            f"unknown client(s): {', '.join(unknown)}",
            fix=f"choose from {', '.join(sorted(clients))} or add clients/<id>.yaml",
        )
    chosen = {k: v for k, v in clients.items() if not args.client or k in args.client}
    engine = get_engine(settings)
    # An alert reflects now: an evaluation --as-of another moment only reports.
    alerter = None if args.as_of or args.no_alert else Alerter.from_settings(settings, engine)
    report = client_freshness(settings, engine, chosen, now=args.as_of, days=args.days)
    if alerter is not None:
        _raise_and_resolve(alerter, report)
    if args.json:
        print(to_json([item.as_row() for item in report]))
    else:
        print(render_table([_row(item) for item in report], _TABLE))
    return 1 if any(item.status == "late" for item in report) else 0


def _raise_and_resolve(alerter: Alerter, report: list[ClientFreshness]) -> None:
    """``data_delay`` for each late client (repeats suppressed by the Alerter's window),
    resolved once the client is on time again; delivered before the command exits."""
    run_id = f"freshness-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    for item in report:
        if item.status == "late":
            alerter.emit(
                Alert(
                    AlertKind.DATA_DELAY,
                    item.client_id,
                    file_name="",
                    run_id=run_id,
                    message=f"data delay: expected files have not arrived ({item.calendar})",
                    figures={
                        "missing": len(item.missing),
                        "first_missing": item.missing[0] if item.missing else "",
                        "late_by_minutes": int((item.late_by or dt.timedelta()).total_seconds())
                        // 60,
                        "expected_by": item.expected_by.isoformat() if item.expected_by else "",
                    },
                    next_step="lakehouse freshness --client {client}",
                )
            )
        elif item.status == "on_time" and alerter.is_open(AlertKind.DATA_DELAY, item.client_id, ""):
            alerter.emit(
                Alert(
                    AlertKind.DATA_DELAY,
                    item.client_id,
                    file_name="",
                    run_id=run_id,
                    message="data delay over: every due file has arrived",
                    action="resolve",
                )
            )
    alerter.close()


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "freshness", help="deliveries against each client's calendar (exit 1 when late)"
    )
    settings_args(parser)
    parser.add_argument("--client", action="append", help="only this client (repeatable)")
    parser.add_argument(
        "--days", type=int, default=14, help="due days of the last N days (default 14)"
    )
    parser.add_argument(
        "--as-of", type=_moment, help="evaluate at this time instead of now (ISO 8601; UTC)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--no-alert", action="store_true", help="report only: raise and resolve no data_delay"
    )
    parser.set_defaults(func=_cmd_freshness)
