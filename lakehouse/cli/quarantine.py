"""``lakehouse quarantine``: reasons with open and resolved counts (no values, no Spark), and
``lakehouse quarantine replay``: re-validate open rows after a config fix, merge the rows that
now pass into silver, mark them resolved (``lakehouse.ingest.replay``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.config import load_clients
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError
from lakehouse.ops import Column, dataset_of, quarantine_reasons, render_table, to_json

__all__ = ["register"]

_QUARANTINE = (
    Column("reason", "reason"),
    Column("rows", "rows", ">"),
    Column("open", "open", ">"),
    Column("resolved", "resolved", ">"),
    Column("share_of_quarantined", "share", ">", percent=True),
    Column("files", "files", ">"),
    Column("latest_file", "latest file"),
)


def _cmd_quarantine(args: argparse.Namespace) -> int:
    if not args.list_client:
        raise LakehouseError(
            "which client?", fix="pass --client ID (or `lakehouse quarantine replay --help`)"
        )
    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    client_id = args.list_client
    dataset_of(clients, client_id)  # unknown client -> error naming the choices
    rows = quarantine_reasons(
        settings, get_engine(settings), clients[client_id], files=args.list_files
    )
    if args.list_json:
        print(to_json(rows))
    else:
        total = sum(r["rows"] for r in rows)
        opened = sum(r["open"] for r in rows)
        print(
            f"quarantine reasons for {client_id} ({total} reason occurrence(s): "
            f"{opened} open, {total - opened} resolved):"
        )
        print(render_table(rows, _QUARANTINE))
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from lakehouse.alerts import Alerter
    from lakehouse.cli.pii import client_of, user_name
    from lakehouse.ingest.job import build_job, new_run_id
    from lakehouse.ingest.replay import replay_quarantine
    from lakehouse.ingest.run_alerts import alerting_run
    from lakehouse.pii.export import check_reason
    from lakehouse.pii.key_check import checked_ring

    if args.list_client or args.list_files or args.list_json:
        raise LakehouseError(
            "--client, --file and --json before 'replay' belong to the listing",
            fix="put them after 'replay': lakehouse quarantine replay --client ID ...",
        )
    args.reason = check_reason(args.reason)  # before Spark starts: a ticket or a sentence
    settings = load_cli_settings(args)
    client = client_of(settings, args.client)
    keys = checked_ring(settings, [client])
    keys.require({"token", "encrypt"})  # decrypting quarantine needs the encrypt key ring
    alerter = Alerter.from_settings(settings, get_engine(settings))
    run_id = f"replay-{new_run_id()}"
    with alerting_run(alerter, mode="replay", client_id=client.client_id, run_id=run_id):
        # Only this client's keys are needed (not those of every client's policies).
        job = build_job(
            settings,
            {client.client_id: client},
            keys,
            run_id=run_id,
            alerter=alerter,
            mode="replay",
        )
        report = replay_quarantine(
            job,
            client.client_id,
            reason=args.reason,
            user=user_name(),
            file=args.file,
            reason_code=args.reason_code,
            dry_run=args.dry_run,
        )
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True, default=str))
    else:
        _print_report(report.as_dict())
    return 0


def _print_report(report: dict[str, Any]) -> None:
    dry = report["dry_run"]
    for f in report["files"]:
        merge = (
            f"inserted={f['inserted']} updated={f['updated']} unchanged={f['unchanged']} "
            f"stale={f['stale']}"
        )
        print(
            f"{f['file']}: {f['revalidated']} re-validated, {f['now_passing']} now pass "
            f"({'would be ' if dry else ''}{merge}), {f['still_failing']} still fail"
        )
        for code, count in f["still_failing_reasons"].items():
            print(f"    still failing: {code} ({count} row(s)); they stay open")
        if f["malformed_left_open"]:
            print(
                f"    {f['malformed_left_open']} malformed record(s) (_record:malformed) left "
                "open: a config change cannot replay them; ask the client to resend the file"
            )
        if not dry and f["run_id"]:
            recovered = f" (completed an earlier attempt: {', '.join(f['recovered'])})"
            print(
                f"    resolved {f['resolved']} row(s); run {f['run_id']}, silver version "
                f"{f['silver_version'] if f['silver_version'] is not None else '-'}"
                + (recovered if f["recovered"] else "")
            )
    for name, why in report["skipped"].items():
        print(f"{name}: skipped, {why}")
    total = sum(f["resolved"] for f in report["files"])
    verb = "dry run, nothing written" if dry else f"{total} row(s) resolved"
    print(
        f"{report['client_id']}: {verb}; decryption recorded in audit/pii_events",
        file=sys.stderr,
    )


def register(sub: Subcommands) -> None:
    quarantine = sub.add_parser(
        "quarantine", help="quarantine reasons with open/resolved counts (no values); replay"
    )
    settings_args(quarantine)
    # The listing's own names: a replay's --client/--file/--json must not mix with them.
    quarantine.add_argument("--client", dest="list_client", help="required for the listing")
    quarantine.add_argument(
        "--file",
        dest="list_files",
        action="append",
        help="only rows from this landing file (repeatable)",
    )
    quarantine.add_argument(
        "--json", dest="list_json", action="store_true", help="machine-readable output"
    )
    quarantine.set_defaults(func=_cmd_quarantine)
    verbs = quarantine.add_subparsers(dest="verb")
    replay = verbs.add_parser(
        "replay",
        help="after a config fix: re-validate open rows, merge those that now pass (audited)",
        description=(
            "Re-validate the client's open quarantined rows with the current config; rows that "
            "now pass are merged into silver with their file's creation date and sequence "
            "(an older file never overwrites newer data) and marked resolved. Malformed "
            "records and rows that still fail stay open. Idempotent; decryption is recorded "
            "in audit/pii_events."
        ),
    )
    settings_args(replay)
    for action in replay._actions:
        if action.option_strings and action.dest != "help":
            # Given before `replay` (`quarantine --lake-root X replay ...`), a settings flag
            # must not be reset by this parser's default: only a flag given here overrides.
            action.default = argparse.SUPPRESS
    replay.add_argument("--client", required=True)
    replay.add_argument("--file", help="only rows from this landing file")
    replay.add_argument(
        "--reason-code", help="only rows quarantined for this code: column:code or code"
    )
    replay.add_argument(
        "--reason", required=True, help="why: a ticket (INC-1234) or a sentence; recorded"
    )
    replay.add_argument(
        "--dry-run", action="store_true", help="re-validate and predict, write nothing"
    )
    replay.add_argument("--json", action="store_true", help="machine-readable output")
    replay.set_defaults(func=_cmd_replay)
