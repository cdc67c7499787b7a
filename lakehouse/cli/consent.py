"""``lakehouse consent record|import|status``: members' consent per purpose.

Records name members by their silver key (tokens), never by a raw value; ``status`` prints
counts only. Withdrawing a purpose the client lists in ``erase_on_withdrawal`` records the
withdrawal, then erases the member exactly as ``lakehouse forget`` does (``--yes`` needed).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Literal

from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.cli.pii import client_of, erase_member, key_ring, raw_key_of, user_name
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.errors import LakehouseError
from lakehouse.ops.render import Column, render_table, to_json
from lakehouse.pii.keys import KeyRing

__all__ = ["register"]

_STATUS = (
    Column("purpose", "purpose"),
    Column("granted", "granted", ">"),
    Column("denied", "denied", ">"),
    Column("by_record", "by record", ">"),
    Column("by_column", "by column", ">"),
    Column("by_default", "by default", ">"),
)
_STATUSES = ("granted", "withdrawn")


def _purpose(client: ClientConfig, purpose: str) -> str:
    from lakehouse.pii.consent import settings_of

    try:
        return settings_of(client).check_purpose(purpose)
    except ValueError as exc:
        raise LakehouseError(str(exc), client=client.client_id) from None


def _keys(client: ClientConfig) -> KeyRing:
    from lakehouse.pii.policies import needed_purposes

    return key_ring(needed_purposes([client]))


def _require_yes(client: ClientConfig, purposes: set[str], yes: bool) -> None:
    from lakehouse.pii.consent import settings_of

    erasing = sorted(purposes & set(settings_of(client).erase_on_withdrawal))
    if erasing and not yes:
        raise LakehouseError(
            f"withdrawing {', '.join(erasing)} erases the member everywhere (client setting "
            "erase_on_withdrawal), table history included",
            client=client.client_id,
            fix="make sure downstream CDF readers have caught up, then rerun with --yes",
        )


def _record(
    settings: Settings,
    client: ClientConfig,
    keys: KeyRing,
    entries: list[tuple[list[str], str, Literal["granted", "withdrawn"], dt.datetime]],
    *,
    reason: str,
    source: Literal["record", "import"],
) -> tuple[int, int]:
    """Append the entries' records, then erase members whose withdrawal says so.
    Returns (records, members erased).

    Raises:
        LakehouseError: a key that does not standardise (by line, never by value).
    """
    from lakehouse.engine import get_engine
    from lakehouse.pii.consent import ConsentRecord, append_consent, settings_of
    from lakehouse.pii.erasure import member_keys
    from lakehouse.spark import build_spark

    members = member_keys(build_spark(settings), client, keys, [raw for raw, *_ in entries])
    bad = [i + 1 for i, member in enumerate(members) if member is None]
    if bad:
        raise LakehouseError(
            f"{len(bad)} key(s) do not standardise to a valid value (entries "
            f"{', '.join(map(str, bad[:10]))}); nothing was recorded",
            client=client.client_id,
            fix="give keys as the client's files spell them",
        )
    now = dt.datetime.now(dt.UTC)
    event_id = uuid.uuid4().hex
    records = [
        ConsentRecord(
            client_id=client.client_id,
            member=".".join(member.silver_values),
            purpose=purpose,
            status=status,
            effective_at=effective,
            recorded_at=now,
            event_id=event_id,
            source=source,
            reason=reason,
            user=user_name(),
        )
        for member, (_, purpose, status, effective) in zip(members, entries, strict=True)
        if member is not None
    ]
    written = append_consent(get_engine(settings), settings.lake_root, records)
    erase = set(settings_of(client).erase_on_withdrawal)
    erased = 0
    for raw, purpose, status, effective in entries:
        if status == "withdrawn" and purpose in erase and effective <= now:
            erase_member(settings, client, keys, raw, f"consent withdrawn: {purpose}; {reason}")
            erased += 1
    return written, erased


def _effective(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise LakehouseError(f"'{text}' is not a date or time (ISO 8601)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _cmd_record(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    client = client_of(settings, args.client)
    purpose = _purpose(client, args.purpose)
    status: Literal["granted", "withdrawn"] = "granted" if args.grant else "withdrawn"
    if status == "withdrawn":
        _require_yes(client, {purpose}, args.yes)
    raw_key = raw_key_of(args, required=True)
    assert raw_key is not None
    entries = [(raw_key, purpose, status, _effective(args.effective))]
    _, erased = _record(
        settings, client, _keys(client), entries, reason=args.reason, source="record"
    )
    print(f"recorded: {purpose} {status} for 1 member of {client.client_id}")
    if erased:
        print("erased: the member is removed everywhere (see audit/pii_events, forget)")
    return 0


def _read_list(path: Path, client: ClientConfig) -> list[tuple[list[str], str, str, str | None]]:
    """(key parts, purpose, status, effective) per data line; headers: the merge key's
    source headers (or names), ``purpose``, ``status``, optional ``effective``."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    headers = reader.fieldnames or []
    key_headers = []
    for name in client.merge_key:
        column = client.column(name)
        header = column.header if column.header in headers else name
        if header not in headers:
            raise LakehouseError(
                f"consent list has no '{column.header}' column (the merge key)",
                client=client.client_id,
                file=path.name,
                fix=f"header: {', '.join(client.column(n).header for n in client.merge_key)}"
                ",purpose,status[,effective]",
            )
        key_headers.append(header)
    rows = []
    for row in reader:
        rows.append(
            (
                [row[h] or "" for h in key_headers],
                (row.get("purpose") or "").strip(),
                (row.get("status") or "").strip().lower(),
                (row.get("effective") or "").strip() or None,
            )
        )
    return rows


def _cmd_import(args: argparse.Namespace) -> int:
    from lakehouse.pii.consent import settings_of

    settings = load_cli_settings(args)
    client = client_of(settings, args.client)
    rows = _read_list(args.file, client)
    entries: list[tuple[list[str], str, Literal["granted", "withdrawn"], dt.datetime]] = []
    for line, (raw, purpose, status, effective) in enumerate(rows, start=2):
        if status not in _STATUSES:
            raise LakehouseError(
                f"line {line}: status must be granted or withdrawn; nothing was recorded",
                client=client.client_id,
                file=args.file.name,
            )
        # A consent list holds raw keys: a shifted row must not echo a cell into the error.
        declared = settings_of(client).purposes
        if purpose not in declared:
            raise LakehouseError(
                f"line {line}: not a declared purpose ({', '.join(declared)}); nothing was "
                "recorded",
                client=client.client_id,
                file=args.file.name,
            )
        try:
            moment = _effective(effective)
        except LakehouseError:
            raise LakehouseError(
                f"line {line}: effective is not a date or time (ISO 8601); nothing was recorded",
                client=client.client_id,
                file=args.file.name,
            ) from None
        entries.append((raw, purpose, "granted" if status == "granted" else "withdrawn", moment))
    withdrawn = {p for _, p, s, _ in entries if s == "withdrawn"}
    _require_yes(client, withdrawn, args.yes)
    written, erased = _record(
        settings, client, _keys(client), entries, reason=args.reason, source="import"
    )
    print(f"recorded {written} consent record(s) for {client.client_id}; erased {erased} member(s)")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from lakehouse.engine import get_engine
    from lakehouse.pii.consent import decisions, read_consent, settings_of

    settings = load_cli_settings(args)
    client = client_of(settings, args.client)
    purposes = [_purpose(client, args.purpose)] if args.purpose else settings_of(client).purposes
    engine = get_engine(settings)
    path = settings.table_path("silver", client.dataset)
    if not engine.exists(path):
        raise LakehouseError("no silver table yet", client=client.client_id)
    silver = engine.read(path, partition=("client_id", client.client_id))
    events = read_consent(engine, settings.lake_root, client.client_id)
    rows = []
    for purpose in purposes:
        decision = decisions(silver, client, purpose, events)
        counts = {
            basis: sum(side.get(basis, 0) for side in decision.basis.values())
            for basis in ("record", "column", "default")
        }
        rows.append(
            {
                "purpose": purpose,
                "granted": len(decision.granted),
                "denied": len(decision.denied),
                "by_record": counts["record"],
                "by_column": counts["column"],
                "by_default": counts["default"],
            }
        )
    print(to_json(rows) if args.json else render_table(rows, _STATUS))
    return 0


def _key_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", action="append", help="the member's raw key (prefer stdin)")
    parser.add_argument(
        "--key-stdin", action="store_true", help="read the raw key from stdin, one part a line"
    )


def register(sub: Subcommands) -> None:
    consent = sub.add_parser("consent", help="members' consent per purpose")
    verbs = consent.add_subparsers(dest="consent_command", required=True)

    record = verbs.add_parser("record", help="grant or withdraw one member's consent")
    settings_args(record)
    record.add_argument("--client", required=True)
    record.add_argument("--purpose", required=True)
    choice = record.add_mutually_exclusive_group(required=True)
    choice.add_argument("--grant", action="store_true")
    choice.add_argument("--withdraw", action="store_true")
    _key_args(record)
    record.add_argument("--effective", help="when it takes effect (ISO 8601; default now)")
    record.add_argument("--reason", required=True, help="request id, recorded with it")
    record.add_argument("--yes", action="store_true", help="confirm an erasing withdrawal")
    record.set_defaults(func=_cmd_record)

    bulk = verbs.add_parser("import", help="record a consent list (CSV)")
    settings_args(bulk)
    bulk.add_argument("--client", required=True)
    bulk.add_argument("--file", type=Path, required=True, help="key column(s),purpose,status")
    bulk.add_argument("--reason", required=True, help="request or batch id")
    bulk.add_argument("--yes", action="store_true", help="confirm erasing withdrawals")
    bulk.set_defaults(func=_cmd_import)

    status = verbs.add_parser("status", help="members with and without consent (counts)")
    settings_args(status)
    status.add_argument("--client", required=True)
    status.add_argument("--purpose")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_cmd_status)
