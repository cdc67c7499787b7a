"""``lakehouse release --file NAME``: accept a HELD file and merge it into silver."""

from __future__ import annotations

import argparse

from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.config import load_clients

__all__ = ["register"]


def _cmd_release(args: argparse.Namespace) -> int:
    from lakehouse.ingest.release import release_file
    from lakehouse.pii.key_check import checked_ring

    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    record = release_file(settings, clients, checked_ring(settings, clients.values()), args.file)
    print(
        f"released {record.file_name}: status={record.status} inserted={record.rows_inserted} "
        f"updated={record.rows_updated} unchanged={record.rows_unchanged} "
        f"stale={record.rows_stale}"
    )
    return 0


def register(sub: Subcommands) -> None:
    release = sub.add_parser("release", help="accept a HELD file and merge it into silver")
    settings_args(release)
    release.add_argument("--file", required=True, help="landing file name, as in the audit")
    release.set_defaults(func=_cmd_release)
