"""``lakehouse keys status|rotate``, ``lakehouse decrypt`` and ``lakehouse forget``.

Every command that reveals or destroys PII writes one row to ``<lake>/audit/pii_events``
(who, why, what, how many; never values), also when it fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pwd
import socket
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from lakehouse.audit import PiiEvent, append_pii_event, safe_error
from lakehouse.cli._common import Subcommands, iso_date, load_cli_settings, settings_args
from lakehouse.config import load_clients
from lakehouse.config.datasets import feeds_of
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.errors import LakehouseError
from lakehouse.pii.keys import KeyRing, Purpose

if TYPE_CHECKING:
    from lakehouse.engine.base import TableEngine
    from lakehouse.pii.erasure import ErasureReport, MemberKey
    from lakehouse.pii.retention import RetentionReport

__all__ = ["client_of", "erase_member", "key_ring", "raw_key_of", "register", "user_name"]


def user_name() -> str:
    """The account running the command, from the process's uid: ``USER``/``LOGNAME`` are
    set by the caller and could name anyone."""
    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid:{uid}"


# Events already appended by ``_record_now`` (before plaintext is shown), by event id.
_RECORDED: set[str] = set()


def _record_now(settings: Settings, engine: TableEngine, record: PiiEvent) -> None:
    """Append the event before anything is revealed: no audit row, no plaintext."""
    record.status = "SUCCESS"
    record.finished_at = dt.datetime.now(dt.UTC)
    append_pii_event(engine, settings.lake_root, record)
    _RECORDED.add(record.event_id)


@contextmanager
def _audited(
    settings: Settings, engine: TableEngine, event: str, client: str | None, reason: str | None
) -> Iterator[PiiEvent]:
    """Yield the event to fill; append it (SUCCESS, or FAILED with a safe error) at exit.

    An event appended early by ``_record_now`` is not appended again, unless the command
    then failed: a second row with the same event id says FAILED and why.
    """
    record = PiiEvent(
        event=event,
        client_id=client,
        started_at=dt.datetime.now(dt.UTC),
        user=user_name(),
        host=socket.gethostname(),
        event_id=uuid.uuid4().hex,
        reason=reason,
    )
    failed = False
    try:
        yield record
        record.status = "SUCCESS"
    except BaseException as exc:
        failed = True
        record.status = "FAILED"
        record.error = safe_error(exc)
        raise
    finally:
        if failed or record.event_id not in _RECORDED:
            record.finished_at = dt.datetime.now(dt.UTC)
            append_pii_event(engine, settings.lake_root, record)
        _RECORDED.discard(record.event_id)


@contextmanager
def _dataset_locks(
    settings: Settings, client: ClientConfig, run_id: str, also: Sequence[str] = ()
) -> Iterator[None]:
    """The lock of every feed (client and dataset) writing ``client``'s dataset or one of
    ``also``. A full vacuum (erasure, retention) removes every file the table does not
    reference, including files another client's run has written but not committed yet: all
    of them must be idle."""
    from lakehouse.ingest.lock import ClientLock

    datasets = {client.dataset, *also}
    sharing = {f for f, v in load_clients(settings.clients_dir).items() if v.dataset in datasets}
    with ExitStack() as locks:
        for feed in sorted(sharing | {client.feed}):
            locks.enter_context(ClientLock(settings.lock_dir, feed, run_id=run_id))
        yield


def client_of(settings: Settings, client_id: str) -> ClientConfig:
    clients = load_clients(settings.clients_dir)
    if client_id not in clients:
        raise LakehouseError(
            f"unknown client '{client_id}'", fix=f"choose from {', '.join(sorted(clients))}"
        )
    return clients[client_id]


def key_ring(purposes: set[Purpose]) -> KeyRing:
    keys = KeyRing.from_environment()
    keys.require(purposes)
    return keys


def _engine(settings: Settings) -> TableEngine:
    from lakehouse.engine import get_engine

    return get_engine(settings)


def _cmd_keys_status(args: argparse.Namespace) -> int:
    keys = KeyRing.from_environment()
    print(f"token    {keys.token_key_id}")
    print(f"encrypt  {keys.encrypt_key_id or '-  (missing: set LAKEHOUSE_ENCRYPT_KEY)'}")
    old = ", ".join(sorted(keys.encrypt_old_key_ids)) or "-"
    print(f"         old (decrypt only): {old}")
    print(f"siv      {keys.siv_key_id or '-  (set LAKEHOUSE_SIV_KEY if a client needs it)'}")
    return 0


def _cmd_keys_rotate(args: argparse.Namespace) -> int:
    from lakehouse.ingest.lock import ClientLock
    from lakehouse.pii.rotation import RotationReport, rotate_client

    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    # Every dataset of the chosen clients (readings too): one lock and event per feed.
    chosen = feeds_of(args.client, clients) if args.client else sorted(clients)
    keys = key_ring({"token", "encrypt"})
    engine = _engine(settings)
    report = RotationReport()
    for client_id in chosen:
        client = client_of(settings, client_id)
        with (
            _audited(settings, engine, "keys_rotate", client.client_id, args.reason) as event,
            ClientLock(settings.lock_dir, client_id, run_id=f"keys-rotate-{event.event_id}"),
        ):
            rotate_client(settings, client, engine, keys, dry_run=args.dry_run, report=report)
            event.rows = sum(v for k, v in report.values.items() if k.startswith(client_id + "/"))
            event.key_ids = f"encrypt={keys.encrypt_key_id},siv={keys.siv_key_id or '-'}"
            event.tables = ",".join(k for k in report.values if k.startswith(client_id + "/"))
            event.detail = {"dry_run": args.dry_run, "values": report.values}
    for label, count in sorted(report.values.items()):
        verb = "would re-encrypt" if args.dry_run else "re-encrypted"
        print(f"{label:<28} {verb} {count} value(s)")
    print(f"active encrypt key: {keys.encrypt_key_id}; total {report.total}")
    return 0


def raw_key_of(args: argparse.Namespace, *, required: bool) -> list[str] | None:
    """The member's raw key: from stdin with ``--key-stdin`` (one part per line, merge_key
    order), else from ``--key`` (visible to other local users in ``ps`` and shell history)."""
    if args.key_stdin and args.key:
        raise LakehouseError("give the member's key with --key or --key-stdin, not both")
    if args.key_stdin:
        parts = [line.strip("\r\n") for line in sys.stdin.read().splitlines()]
        parts = [p for p in parts if p.strip()]
        if not parts:
            raise LakehouseError(
                "--key-stdin read no key from standard input",
                fix="pipe the key in, one part per line: `printf '%s\\n' \"$KEY\" | lakehouse ...`",
            )
        return parts
    if args.key:
        print(
            "note: a key passed with --key is visible to other local users (ps, shell history); "
            "prefer --key-stdin",
            file=sys.stderr,
        )
        return list(args.key)
    if required:
        raise LakehouseError(
            "forget needs the member's raw key", fix="pass --key-stdin (or --key RAW_KEY)"
        )
    return None


def _member(settings: Settings, client: ClientConfig, keys: KeyRing, raw: list[str]) -> MemberKey:
    from lakehouse.pii.erasure import member_key
    from lakehouse.spark import build_spark

    return member_key(build_spark(settings), client, keys, raw)


def _cmd_decrypt(args: argparse.Namespace) -> int:
    from lakehouse.pii.access import reveal
    from lakehouse.pii.export import check_reason, create_export, write_csv

    args.reason = check_reason(args.reason)
    settings = load_cli_settings(args)
    client = client_of(settings, args.client)
    keys = key_ring({"token", "encrypt"})
    engine = _engine(settings)
    zone = cast(Literal["bronze", "quarantine", "silver"], args.table)
    raw_key = raw_key_of(args, required=False)
    with _audited(settings, engine, "decrypt", client.client_id, args.reason) as event:
        member = _member(settings, client, keys, raw_key) if raw_key else None
        event.subject = member.fingerprint if member else None
        revealed = reveal(
            settings,
            client,
            engine,
            keys,
            zone=zone,
            source_file=args.file,
            key_token=member.key_token if member and zone != "silver" else None,
            silver_key=member.silver_values if member and zone == "silver" else None,
            limit=args.limit,
        )
        event.tables = zone
        event.columns = ",".join(revealed.columns)
        event.rows = revealed.table.num_rows
        event.key_ids = ",".join(revealed.key_ids)
        event.detail = {"file": args.file, "limit": args.limit, "output": str(args.output)}
        handle = create_export(args.output) if args.output is not None else None
        try:
            _record_now(settings, engine, event)  # the use is on record before it happens
            write_csv(revealed.table.to_pylist(), revealed.table.column_names, handle)
        finally:
            if handle is not None:
                handle.close()
    print(
        f"decrypted {revealed.table.num_rows} row(s), columns {event.columns or '-'}; "
        "use recorded in audit/pii_events",
        file=sys.stderr,
    )
    return 0


def _cmd_forget(args: argparse.Namespace) -> int:
    from lakehouse.pii.policies import needed_purposes

    if not args.dry_run and not args.yes:
        raise LakehouseError(
            "forget deletes the member everywhere and removes table history (time travel, "
            "change data feed) it was part of",
            fix="make sure downstream CDF readers have caught up, then rerun with --yes "
            "(or --dry-run to see what would be removed)",
        )
    raw_key = raw_key_of(args, required=True)
    assert raw_key is not None
    settings = load_cli_settings(args)
    client = client_of(settings, args.client)
    keys = key_ring(needed_purposes([client]))
    report = erase_member(settings, client, keys, raw_key, args.reason, dry_run=args.dry_run)
    _print_forget(report, args.dry_run)
    return 0


def erase_member(
    settings: Settings,
    client: ClientConfig,
    keys: KeyRing,
    raw_key: list[str],
    reason: str | None,
    *,
    dry_run: bool = False,
) -> ErasureReport:
    """``forget`` one member under every lock of the dataset, audited as a ``forget`` event
    (also what a consent withdrawal that erases runs).

    Raises:
        LakehouseError: the erasure could not be verified (the event says which files).
    """
    from lakehouse.pii.erasure import forget, referencing
    from lakehouse.spark import build_spark

    engine = _engine(settings)
    # Readings (and any dataset with `references:` to the member key) lose the member too.
    related = referencing(load_clients(settings.clients_dir), client)
    with (
        _audited(settings, engine, "forget", client.client_id, reason) as event,
        _dataset_locks(
            settings,
            client,
            f"forget-{event.event_id}",
            also=[r.config.dataset for r in related],
        ),
    ):
        report = forget(
            build_spark(settings),
            settings,
            client,
            engine,
            keys,
            raw_key,
            dry_run=dry_run,
            related=related,
        )
        event.subject = report.fingerprint
        event.tables = ",".join(sorted(report.rows))
        event.rows = sum(report.rows.values())
        event.detail = {"dry_run": dry_run, **report.as_detail()}
        if not report.verified:
            raise LakehouseError(
                f"erasure not verified: {len(report.leftovers)} file(s) still hold the member",
                client=client.client_id,
                fix="see detail.leftovers of this event in audit/pii_events",
            )
    return report


def _print_forget(report: ErasureReport, dry_run: bool) -> None:
    verb = "would delete" if dry_run else "deleted"
    for zone, rows in sorted(report.rows.items()):
        extra = "" if dry_run else f", {report.files_removed.get(zone, 0)} file(s) vacuumed"
        print(f"{zone:<11} {verb} {rows} row(s){extra}")
    for zone, rows in sorted(report.gold_rows.items()):
        print(
            f"{zone:<11} recomputed without the member ({rows} row(s)), "
            f"{report.files_removed.get(zone, 0)} file(s) vacuumed"
        )
    for path, records in sorted(report.raw_files.items()):
        print(f"raw file    {path}: {records} record(s) {'to remove' if dry_run else 'removed'}")
    if not dry_run:
        print(
            f"verified: no file under the lake holds the member (request {report.fingerprint[:16]})"
        )


def _cmd_retention(args: argparse.Namespace) -> int:
    from lakehouse.pii.retention import apply_retention

    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    # A client named is each of its datasets with a retention period (its default one
    # whatever: it says so when it has none).
    named = {client_of(settings, c).client_id for c in args.client or ()}
    chosen = [
        c
        for feed, c in sorted(clients.items())
        if (c.client_id in named and (feed == c.client_id or c.retention.configured))
        or (not named and c.retention.configured)
    ]
    if not chosen:
        raise LakehouseError(
            "no client has a retention period", fix="add 'retention:' to a client file"
        )
    engine = _engine(settings)
    today = args.as_of or dt.datetime.now(dt.UTC).date()
    unverified = []
    for client in chosen:
        with (
            _audited(settings, engine, "retention", client.client_id, args.reason) as event,
            _dataset_locks(settings, client, f"retention-{event.event_id}"),
        ):
            siblings = [f for f, c in clients.items() if c.client_id == client.client_id]
            report = apply_retention(
                settings, engine, client, today=today, dry_run=args.dry_run, siblings=siblings
            )
            event.tables = ",".join(sorted(report.cutoffs))
            event.rows = sum(report.rows.values())
            event.detail = report.as_detail()
        _print_retention(report, client.dataset)
        if not report.verified:
            unverified.append(client.client_id)
    if unverified:
        raise LakehouseError(
            f"retention not verified for {', '.join(unverified)}: expired rows still in files",
            fix="see detail.leftovers of the retention events in audit/pii_events",
        )
    return 0


def _print_retention(report: RetentionReport, dataset: str) -> None:
    verb = "would delete" if report.dry_run else "deleted"
    print(f"{report.client_id} {dataset} (as of {report.today.isoformat()}):")
    for layer, cutoff in report.cutoffs.items():
        if layer == "archive":
            count = f"{report.archive_files} archived file(s)"
        else:
            count = f"{report.rows.get(layer, 0)} row(s)"
            if not report.dry_run:
                count += f", {report.files_removed.get(layer, 0)} file(s) vacuumed"
        print(f"  {layer:<11} created before {cutoff}: {verb} {count}")
    if not report.dry_run:
        print("  verified: no data file of the client holds an expired row")


def _add(
    sub: Subcommands, name: str, help_text: str, func: Callable[..., int]
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text)
    settings_args(parser)
    parser.set_defaults(func=func)
    return parser


def register(sub: Subcommands) -> None:
    keys = sub.add_parser("keys", help="key ring: status, rotation")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    _add(keys_sub, "status", "show which key id serves each purpose (never keys)", _cmd_keys_status)
    rotate = _add(
        keys_sub, "rotate", "re-encrypt stored values under the active keys", _cmd_keys_rotate
    )
    rotate.add_argument("--client", action="append", help="only this client (repeatable)")
    rotate.add_argument("--dry-run", action="store_true", help="count, change nothing")
    rotate.add_argument("--reason", help="ticket or justification, recorded in the audit")

    decrypt = _add(sub, "decrypt", "show encrypted values to a key holder (audited)", _cmd_decrypt)
    decrypt.add_argument("--client", required=True)
    decrypt.add_argument("--table", required=True, choices=["bronze", "quarantine", "silver"])
    decrypt.add_argument("--file", help="only rows from this landing file")
    decrypt.add_argument("--key", action="append", help="only this member (raw key)")
    decrypt.add_argument(
        "--key-stdin", action="store_true", help="read the member's raw key from stdin"
    )
    decrypt.add_argument("--limit", type=int, default=100, help="at most N rows (default 100)")
    decrypt.add_argument(
        "--reason",
        required=True,
        help="why: a ticket (INC-1234) or a sentence; recorded in the audit",
    )
    decrypt.add_argument(
        "--output", type=Path, help="new CSV file (created 0600, never overwritten); default stdout"
    )

    forget = _add(sub, "forget", "erase one member everywhere and verify it", _cmd_forget)
    forget.add_argument("--client", required=True)
    forget.add_argument(
        "--key", action="append", help="the member's raw key (visible in ps: prefer --key-stdin)"
    )
    forget.add_argument(
        "--key-stdin",
        action="store_true",
        help="read the member's raw key from stdin, one part per line in merge_key order",
    )
    forget.add_argument("--dry-run", action="store_true", help="show what would be removed")
    forget.add_argument("--yes", action="store_true", help="confirm: history is removed too")
    forget.add_argument("--reason", help="request id, recorded in the audit")

    retention = _add(
        sub, "retention", "delete and purge data older than each client's periods", _cmd_retention
    )
    retention.add_argument("--client", action="append", help="only this client (repeatable)")
    retention.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    retention.add_argument("--as-of", type=iso_date, help="today's date for the cutoffs (UTC)")
    retention.add_argument("--reason", help="ticket or policy id, recorded in the audit")
