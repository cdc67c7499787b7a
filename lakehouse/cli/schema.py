"""``lakehouse schema diff|approve|history``: schema evolution against the registry."""

from __future__ import annotations

import argparse
import getpass
from typing import get_args

from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig, ColumnType, PiiPolicy, Settings
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError
from lakehouse.ops.render import Column, render_table, to_json

__all__ = ["register"]

_DIFF = (
    Column("kind", "change"),
    Column("column", "column"),
    Column("header", "header"),
    Column("declared_type", "declared"),
    Column("inferred_type", "inferred"),
    Column("files", "files", ">"),
    Column("sampled_rows", "rows", ">"),
    Column("detail", "detail"),
)
_HISTORY = (
    Column("version", "version", ">"),
    Column("change", "change"),
    Column("column_name", "column"),
    Column("type", "type"),
    Column("pii", "pii"),
    Column("approved_by", "by"),
    Column("approved_at", "at"),
    Column("reason", "reason"),
)


def _client(settings: Settings, client_id: str) -> ClientConfig:
    clients = load_clients(settings.clients_dir)
    if client_id not in clients:
        raise LakehouseError(
            f"unknown client {client_id!r}",
            fix=f"one of {', '.join(sorted(clients))} (files in {settings.clients_dir})",
        )
    return clients[client_id]


def _cmd_diff(args: argparse.Namespace) -> int:
    from lakehouse.evolution.diff import diff_client

    settings = load_cli_settings(args)
    client = _client(settings, args.client)
    proposals, files = diff_client(
        settings,
        client,
        get_engine(settings),
        sample_rows=args.sample_rows,
        max_files=args.max_files,
    )
    rows = [p.as_row() for p in proposals]
    if args.json:
        print(to_json({"client": client.client_id, "files_read": files, "changes": rows}))
    elif not rows:
        print(f"{client.client_id}: {files} file(s) read, no schema change proposed")
    else:
        print(f"{client.client_id}: {files} file(s) read; headers and counts only, no values")
        print(render_table(rows, _DIFF))
    # Exit 2 when something is proposed, so a scheduled check can alert on it.
    return 2 if rows and args.exit_code else 0


def _cmd_approve(args: argparse.Namespace) -> int:
    from lakehouse.evolution.approve import approve_column, refuse_removal

    settings = load_cli_settings(args)
    client = _client(settings, args.client)
    if args.remove:
        refuse_removal(client, args.column)
    approval = approve_column(
        settings,
        client,
        get_engine(settings),
        column=args.column,
        pii=args.pii,
        column_type=args.type,
        formats=args.format or (),
        reason=args.reason,
        approved_by=args.by or getpass.getuser(),
    )
    spec = approval.column
    print(
        f"approved {client.client_id}.{spec.name} (header {spec.header}, type {spec.type}, "
        f"pii {spec.pii or 'none'}): schema version {approval.entry.version}; wrote "
        f"{approval.overlay}. Held files: `lakehouse release --file NAME`"
    )
    return 0


def _cmd_history(args: argparse.Namespace) -> int:
    from lakehouse.evolution.registry import registry_entries

    settings = load_cli_settings(args)
    entries = registry_entries(get_engine(settings), settings.lake_root, args.client)
    rows = [e.as_row() for e in entries]
    print(to_json(rows) if args.json else render_table(rows, _HISTORY))
    return 0


def register(sub: Subcommands) -> None:
    schema = sub.add_parser("schema", help="schema evolution: diff, approve, history")
    commands = schema.add_subparsers(dest="schema_command", required=True)

    diff = commands.add_parser(
        "diff", help="what landing and HELD files propose against the declared schema"
    )
    settings_args(diff)
    diff.add_argument("--client", required=True)
    diff.add_argument("--sample-rows", type=int, default=200, help="records sampled per file")
    diff.add_argument("--max-files", type=int, default=100, help="newest files read")
    diff.add_argument("--json", action="store_true")
    diff.add_argument("--exit-code", action="store_true", help="exit 2 when a change is proposed")
    diff.set_defaults(func=_cmd_diff)

    approve = commands.add_parser(
        "approve", help="declare a proposed column (registry + clients/<id>.approved.yaml)"
    )
    settings_args(approve)
    approve.add_argument("--client", required=True)
    approve.add_argument("--column", required=True, help="name or header, as schema diff shows")
    approve.add_argument(
        "--pii",
        choices=[*get_args(PiiPolicy), "none"],
        help="the column's PII policy in silver; 'none' once checked that it holds no PII "
        "(required: an unclassified column may hold PII)",
    )
    approve.add_argument("--type", choices=get_args(ColumnType), default="string")
    approve.add_argument(
        "--format", action="append", help="date pattern (date columns), repeatable"
    )
    approve.add_argument("--reason", required=True, help="why (kept in the registry)")
    approve.add_argument("--by", help="who approves (default: the login name)")
    approve.add_argument(
        "--remove", action="store_true", help="remove a configured column (refused: manual path)"
    )
    approve.set_defaults(func=_cmd_approve)

    history = commands.add_parser("history", help="the registry's versions of a client")
    settings_args(history)
    history.add_argument("--client", required=True)
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=_cmd_history)
