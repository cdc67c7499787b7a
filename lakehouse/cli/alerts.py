"""``lakehouse alerts``: the alert ledger (identifiers only); ``alerts test --sink NAME``."""

from __future__ import annotations

import argparse
import sys

from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.engine import get_engine
from lakehouse.errors import ConfigError
from lakehouse.ops.render import Column, render_table, to_json

__all__ = ["register"]

_COLUMNS = (
    Column("raised_at", "raised (UTC)"),
    Column("kind", "kind"),
    Column("action", "action"),
    Column("severity", "severity"),
    Column("client_id", "client"),
    Column("subject", "file / subject"),
    Column("sink", "sink"),
    Column("status", "status"),
    Column("attempts", "tries", ">"),
    Column("error", "error"),
    Column("reason", "reason"),
)


def _cmd_alerts(args: argparse.Namespace) -> int:
    from lakehouse.alerts.ledger import ledger_path, ledger_view

    settings = load_cli_settings(args)
    rows = ledger_view(get_engine(settings), ledger_path(settings.lake_root), open_only=args.open)
    if args.json:
        print(to_json(rows))
    elif not rows:
        print("no open alerts" if args.open else "no alerts in the ledger yet")
    else:
        print(render_table(rows, _COLUMNS))
    return 0


def _cmd_test(args: argparse.Namespace) -> int:
    from lakehouse.alerts import Alert, Alerter, AlertKind
    from lakehouse.ingest.job import new_run_id

    settings = load_cli_settings(args)
    alerter = Alerter.from_settings(settings, get_engine(settings))
    if args.sink not in alerter.sink_names:
        raise ConfigError(
            f"no alert sink named '{args.sink}'",
            path=str(args.conf),
            key="alerts.sinks",
            expected=", ".join(alerter.sink_names),
            found=repr(args.sink),
        )
    run_id = f"alerts-test-{new_run_id()}"
    alert = Alert(AlertKind.TEST, None, "", run_id, "test alert from `lakehouse alerts test`")
    alerter.emit(alert, only=[args.sink, "log"])
    # Resolve at once: a pager sink must not keep a test incident open.
    alerter.emit(
        Alert(AlertKind.TEST, None, "", run_id, "test alert resolved", action="resolve"),
        only=[args.sink, "log"],
    )
    summary = alerter.close()
    if summary.pending:
        print(f"test alert NOT delivered to {args.sink}: see `lakehouse alerts`", file=sys.stderr)
        return 1
    print(f"test alert delivered to {args.sink} (and resolved), run {run_id}")
    return 0


def register(sub: Subcommands) -> None:
    alerts = sub.add_parser("alerts", help="the alert ledger: what was sent where, what is open")
    settings_args(alerts)
    alerts.add_argument("--open", action="store_true", help="only conditions still open")
    alerts.add_argument("--json", action="store_true", help="machine-readable output")
    alerts.set_defaults(func=_cmd_alerts)
    verbs = alerts.add_subparsers(dest="action")
    test = verbs.add_parser("test", help="send a test alert (and its resolve) to one sink")
    settings_args(test)
    test.add_argument("--sink", required=True, help="sink name from conf/lakehouse.yaml")
    test.set_defaults(func=_cmd_test)
