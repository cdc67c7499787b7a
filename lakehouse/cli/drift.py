"""``lakehouse drift``: the baseline each client's next file will meet, per drift check.

Reads the audit table through the engine (no Spark); counts and shares only. Use it to see
what a check holds files to before tightening or widening a tolerance.
"""

from __future__ import annotations

import argparse
from typing import Any

from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.config import load_clients
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError
from lakehouse.ops.render import Column, render_table, to_json

__all__ = ["register"]

_TABLE = (
    Column("client_id", "client"),
    Column("check", "check"),
    Column("action", "action"),
    Column("files", "files", ">"),
    Column("baseline", "baseline", ">"),
    Column("allowed", "allowed"),
    Column("status", "status"),
)


def _number(value: float, check: str) -> str:
    return f"{value:g}" if check == "row_count" else f"{value:.1%}"


def _cmd_drift(args: argparse.Namespace) -> int:
    from lakehouse.validation.drift import Baselines, bands  # imports pyspark (not the JVM)

    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    if args.client is not None and args.client not in clients:
        raise LakehouseError(
            f"unknown client '{args.client}'",
            fix=f"choose from {', '.join(sorted(clients))} or add clients/<id>.yaml",
        )
    chosen = [c for c in clients.values() if args.client in (None, c.client_id) and c.drift]
    if args.client is not None and not chosen:
        raise LakehouseError(
            f"client '{args.client}' has no drift checks",
            client=args.client,
            fix=f"add a drift: section to clients/{args.client}.yaml (README, "
            "'Data-quality drift')",
        )
    baselines = Baselines(get_engine(settings), settings.audit_path)
    rows: list[dict[str, Any]] = []
    for client in sorted(chosen, key=lambda c: c.client_id):
        assert client.drift is not None
        names = [c.name for c in client.columns]
        history = baselines.history(client)
        for key, action, band in bands(client.drift, names, history):
            check = key.split(":", 1)[0]
            files = band.history if band is not None else 0
            waiting = files < client.drift.min_history
            rows.append(
                {
                    "client_id": client.client_id,
                    "check": key,
                    "action": action,
                    "files": files,
                    "baseline": _number(band.baseline, check) if band is not None else None,
                    "allowed": (
                        f"{_number(band.low, check)}..{_number(band.high, check)}"
                        if band is not None
                        else None
                    ),
                    "status": (
                        f"waiting: {files} of {client.drift.min_history} files"
                        if waiting
                        else "applies"
                    ),
                }
            )
    if args.json:
        print(to_json(rows))
    else:
        print(render_table(rows, _TABLE))
    return 0


def register(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "drift", help="the baseline each client's next file meets, per data-quality drift check"
    )
    settings_args(parser)
    parser.add_argument("--client", help="only this client")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=_cmd_drift)
