"""Erasure (GDPR Art. 17): remove one member from every table and file, then prove it.

``forget`` takes the member's raw key, standardises and tokenises it exactly as the pipeline
does (Spark standardiser, HMAC token), and then:

1. finds the member's rows: silver by its merge key, bronze and quarantine by ``_key_token``,
   plus malformed records whose decrypted raw text contains the key;
2. collects what identifies the member in storage (token, key token, row hash, every
   encrypted value of those rows) to verify against afterwards;
3. deletes the rows, vacuums with ``full=True`` (older versions and ``_change_data`` files
   go; downstream CDF readers must have caught up first) and purges the log history, whose
   statistics and delete predicates quote the removed values;
4. removes the member's records from landing and archived raw files;
5. scans every file under the lake, the archive and checkpoint folders (also when they are
   configured outside the lake) and landing for the collected values and the key; links are
   never followed, so a link in landing is neither rewritten nor read;
6. writes a ``forget`` event to ``audit/pii_events`` with counts and a keyed fingerprint of
   the request (never the key, never the member's token).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError, LockBusyError
from lakehouse.landing.filenames import feed_prefix
from lakehouse.landing.reader import CORRUPT_COLUMN
from lakehouse.pii.crypto import decrypt_value, is_encrypted
from lakehouse.pii.domains import binding, token_domain
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import KEY_TOKEN
from lakehouse.pii.raw_files import contains_token, erase_from_raw_files, raw_files_with
from lakehouse.pii.scan import scan_files
from lakehouse.pii.tokens import hmac_hex
from lakehouse.transform.standardise import standardise_column

__all__ = [
    "ErasureReport",
    "MemberKey",
    "Reference",
    "forget",
    "member_key",
    "member_keys",
    "referencing",
]

log = logging.getLogger(__name__)

_GOLD_LOCK_WAIT_S = 120
ZONES: tuple[Literal["bronze", "quarantine", "silver"], ...] = ("bronze", "quarantine", "silver")
_IDENTIFYING = ("_row_hash", KEY_TOKEN)


@dataclass(frozen=True)
class MemberKey:
    """A member's key as the pipeline stores it. ``repr`` hides the values."""

    client_id: str
    raw: tuple[str, ...] = field(repr=False)
    standardised: tuple[str, ...] = field(repr=False)
    silver_values: tuple[str, ...] = field(repr=False)  # per key column, as silver holds it
    key_token: str = field(repr=False)  # ``_key_token`` of bronze and quarantine
    fingerprint: str = ""  # keyed, different from every stored value: safe for the audit


@dataclass
class ErasureReport:
    client_id: str
    fingerprint: str
    dry_run: bool
    rows: dict[str, int] = field(default_factory=dict)
    files_removed: dict[str, int] = field(default_factory=dict)
    log_files_purged: dict[str, int] = field(default_factory=dict)
    raw_files: dict[str, int] = field(default_factory=dict)  # path -> records removed
    gold_rows: dict[str, int] = field(default_factory=dict)  # gold table -> rows recomputed
    gold_pending: bool = False  # a running gold refresh kept the lock: rerun `lakehouse gold`
    leftovers: list[str] = field(default_factory=list)  # files still holding a value

    @property
    def verified(self) -> bool:
        return not self.leftovers

    def as_detail(self) -> dict[str, object]:
        return {
            "rows": self.rows,
            "files_removed": self.files_removed,
            "log_files_purged": self.log_files_purged,
            "raw_files": self.raw_files,
            "gold_rows": self.gold_rows,
            "gold_pending": self.gold_pending,
            "verified": self.verified,
            "leftovers": self.leftovers,
        }


def member_key(
    spark: SparkSession, client: ClientConfig, keys: KeyRing, raw: Sequence[str]
) -> MemberKey:
    """Standardise and tokenise a raw key exactly as ingestion does.

    Raises:
        LakehouseError: wrong number of key parts, or a part that does not standardise.
    """
    (member,) = member_keys(spark, client, keys, [raw])
    if member is None:
        raise LakehouseError(
            "the key does not standardise to a valid value (nothing can match it)",
            client=client.client_id,
            fix="pass the key as the client's files spell it",
        )
    return member


def member_keys(
    spark: SparkSession, client: ClientConfig, keys: KeyRing, raws: Sequence[Sequence[str]]
) -> list[MemberKey | None]:
    """``member_key`` for many keys in one Spark job; None for a key that does not
    standardise to a valid value.

    Raises:
        LakehouseError: a key with the wrong number of parts.
    """
    names = list(client.merge_key)
    for raw in raws:
        if len(raw) != len(names):
            raise LakehouseError(
                f"client '{client.client_id}' has a {len(names)}-part key ({', '.join(names)}); "
                f"{len(raw)} value(s) given",
                fix="pass --key once per key column, in merge_key order",
            )
    if not raws:
        return []
    frame = spark.createDataFrame(
        [(i, *raw) for i, raw in enumerate(raws)],
        ", ".join(["`_i` int", *(f"`{n}` string" for n in names)]),
    )
    rows = frame.select(
        "_i",
        *[
            standardise_column(F.col(n), client.column(n), client.phone_region).cast("string")
            for n in names
        ],
    ).collect()
    members: list[MemberKey | None] = [None] * len(raws)
    for row in rows:
        standardised = tuple(row)[1:]
        if any(v is None for v in standardised):
            continue
        tokens = [
            hmac_hex(v, keys.token_key, domain=token_domain(client, n))
            for v, n in zip(standardised, names, strict=True)
        ]
        silver = tuple(
            token if client.column(n).pii == "token" else value
            for token, value, n in zip(tokens, standardised, names, strict=True)
        )
        members[row["_i"]] = MemberKey(
            client_id=client.client_id,
            raw=tuple(raws[row["_i"]]),
            standardised=tuple(str(v) for v in standardised),
            silver_values=silver,
            key_token=".".join(tokens),
            fingerprint=hmac_hex(".".join(tokens), keys.token_key, domain="_erasure"),
        )
    return members


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _contains_key(text: str, member: MemberKey) -> bool:
    return all(contains_token(text, v) for v in member.standardised)


def _locate(
    engine: TableEngine,
    path: Path,
    zone: str,
    client: ClientConfig,
    member: MemberKey,
    keys: KeyRing,
) -> tuple[str, pa.Table]:
    """(SQL predicate, rows) of the member in one table, read before anything is deleted."""
    table = engine.read(path, partition=("client_id", client.client_id))
    partition = f"client_id = {_quote(client.client_id)}"
    if zone == "silver":
        mask = pa.array([True] * table.num_rows, pa.bool_())
        parts = []
        for name, value in zip(client.merge_key, member.silver_values, strict=True):
            mask = pc.and_(mask, pc.equal(table.column(name).cast(pa.string()), value))
            parts.append(f"{name} = {_quote(value)}")
        return " AND ".join([partition, *parts]), table.filter(mask)
    clause = f"{KEY_TOKEN} = {_quote(member.key_token)}"
    return _raw_rows(
        table, partition, client, member, keys, clause, lambda t: t == member.key_token
    )


def _raw_rows(
    table: pa.Table,
    partition: str,
    client: ClientConfig,
    member: MemberKey,
    keys: KeyRing,
    clause: str,
    ours: Callable[[str | None], bool],
) -> tuple[str, pa.Table]:
    """(SQL predicate, rows) of the member in a bronze or quarantine partition: the rows
    whose ``_key_token`` is ``ours`` (``clause`` in SQL), plus malformed records whose
    decrypted raw text holds the member's key (their key field may be misaligned)."""
    tokens = (
        table.column(KEY_TOKEN).to_pylist()
        if KEY_TOKEN in table.column_names
        else [None] * table.num_rows
    )
    clauses = [clause]
    keep: list[bool] = []
    for token, stored, sha, number in zip(
        tokens,
        table.column(CORRUPT_COLUMN).to_pylist(),
        table.column("_file_sha256").to_pylist(),
        table.column("_record_number").to_pylist(),
        strict=True,
    ):
        mine = ours(token)
        malformed = stored is not None and _contains_key(
            decrypt_value(stored, keys=keys, aad=binding(client, CORRUPT_COLUMN), row_key=token)
            if is_encrypted(stored)
            else str(stored),
            member,
        )
        if malformed and not mine:
            clauses.append(f"(_file_sha256 = {_quote(sha)} AND _record_number = {int(number)})")
        keep.append(mine or malformed)
    return f"{partition} AND ({' OR '.join(clauses)})", table.filter(pa.array(keep, pa.bool_()))


def _identifying_values(rows: pa.Table) -> set[str]:
    """Values in the member's rows that identify them: ciphertexts, tokens, row hashes."""
    values: set[str] = set()
    for name in rows.column_names:
        for value in rows.column(name).to_pylist():
            if isinstance(value, str) and (is_encrypted(value) or name in _IDENTIFYING):
                values.add(value)
    return values


def _forget_consent(
    settings: Settings,
    client: ClientConfig,
    engine: TableEngine,
    member: MemberKey,
    report: ErasureReport,
    *,
    dry_run: bool,
) -> None:
    """The member's consent records go too: they name it by its silver key (a token), and a
    member who is forgotten has nothing left to consent for (the forget event keeps why)."""
    from lakehouse.pii.consent import consent_path, read_consent

    path = consent_path(settings.lake_root)
    if not engine.exists(path):
        return
    silver_key = ".".join(member.silver_values)
    records = read_consent(engine, settings.lake_root, client.client_id)
    rows = int(pc.sum(pc.equal(records.column("member"), silver_key)).as_py() or 0)
    report.rows["consent"] = rows
    if dry_run or rows == 0:
        return
    predicate = f"client_id = {_quote(client.client_id)} AND member = {_quote(silver_key)}"
    engine.delete(path, predicate, metadata={"lakehouse_operation": "forget"})
    report.files_removed["consent"] = len(engine.vacuum_full(path))
    report.log_files_purged["consent"] = engine.purge_history(path)


def _refresh_gold(
    settings: Settings, engine: TableEngine, client: ClientConfig, report: ErasureReport
) -> None:
    """Recompute the client's gold rows without the member, then remove the gold versions
    that counted it (a difference between two versions would tell its plan and age band)."""
    from lakehouse.gold import new_run_id, refresh_gold

    run_id = new_run_id("forget-gold")
    deadline = time.monotonic() + _GOLD_LOCK_WAIT_S
    while True:
        try:
            results = refresh_gold(
                settings, engine, run_id=run_id, force_clients=[client.client_id]
            )
            break
        except LockBusyError:
            # A scheduled refresh is running; it may commit counts read before the delete.
            if time.monotonic() > deadline:
                report.gold_pending = True
                log.warning(
                    "gold not refreshed after erasure: a gold refresh holds the lock; run "
                    "`lakehouse gold --full` when it ends",
                    extra={"client": client.client_id},
                )
                return
            time.sleep(2)
    for result in results:
        path = settings.gold_path(result.table)
        if not engine.exists(path):
            continue
        zone = f"gold/{result.table}"
        report.gold_rows[zone] = result.rows
        report.files_removed[zone] = len(engine.vacuum_full(path))
        report.log_files_purged[zone] = engine.purge_history(path)


def referencing(clients: Mapping[str, ClientConfig], client: ClientConfig) -> list[Reference]:
    """The client's other datasets whose rows name ``client``'s members: a column with
    ``references: <client's dataset>.<its one-column merge key>`` (readings' member_id)."""
    if len(client.merge_key) != 1:
        return []
    target = (client.dataset, client.merge_key[0])
    found = []
    for config in clients.values():
        if config.client_id != client.client_id or config.dataset == client.dataset:
            continue
        for column in config.columns:
            if column.referenced == target:
                found.append(Reference(config, column.name))
    return found


@dataclass(frozen=True)
class Reference:
    """A dataset whose ``column`` holds the member key of another dataset of its client."""

    config: ClientConfig
    column: str

    @property
    def position(self) -> int | None:
        """Where ``column`` is in the dataset's merge key (its part of ``_key_token``)."""
        keys = list(self.config.merge_key)
        return keys.index(self.column) if self.column in keys else None


def _locate_referencing(
    engine: TableEngine,
    path: Path,
    zone: str,
    reference: Reference,
    member: MemberKey,
    keys: KeyRing,
) -> tuple[str, pa.Table]:
    """(SQL predicate, rows) of the member in a referencing dataset's table: silver by the
    column's value (the member's token: the same token domain), bronze and quarantine by
    the member's part of ``_key_token`` (its first part: the reference must lead the merge
    key there) and malformed records by their decrypted raw text."""
    client = reference.config
    table = engine.read(path, partition=("client_id", client.client_id))
    partition = f"client_id = {_quote(client.client_id)}"
    value = member.silver_values[0]
    if zone == "silver":
        mask = pc.equal(table.column(reference.column).cast(pa.string()), value)
        predicate = f"{partition} AND {reference.column} = {_quote(value)}"
        return predicate, table.filter(mask)
    if reference.position != 0:
        raise LakehouseError(
            f"dataset {client.dataset} keys its raw rows by {', '.join(client.merge_key)}: "
            f"erasure finds a member there only when {reference.column} comes first",
            client=client.client_id,
            fix=f"put {reference.column} first in the dataset's merge_key",
        )
    prefix = member.key_token + "."
    clause = f"{KEY_TOKEN} LIKE {_quote(prefix + '%')}"
    return _raw_rows(
        table,
        partition,
        client,
        member,
        keys,
        clause,
        lambda t: t is not None and t.startswith(prefix),
    )


def _erase_rows(
    engine: TableEngine,
    path: Path,
    zone: str,
    predicate: str,
    rows: pa.Table,
    report: ErasureReport,
    *,
    dry_run: bool,
) -> None:
    report.rows[zone] = rows.num_rows
    if dry_run or rows.num_rows == 0:
        return
    engine.delete(path, predicate, metadata={"lakehouse_operation": "forget"})
    report.files_removed[zone] = len(engine.vacuum_full(path))
    report.log_files_purged[zone] = engine.purge_history(path)


def forget(
    spark: SparkSession,
    settings: Settings,
    client: ClientConfig,
    engine: TableEngine,
    keys: KeyRing,
    raw_key: Sequence[str],
    *,
    dry_run: bool = False,
    related: Sequence[Reference] = (),
) -> ErasureReport:
    """Remove the member with ``raw_key`` everywhere and verify it (see module docstring).

    ``related``: the client's datasets that name the member (``referencing``): their rows
    of the member go too (zones ``bronze/readings``, ...), and their raw files' records.
    The caller holds the locks of every dataset touched and writes the audit event.
    """
    member = member_key(spark, client, keys, raw_key)
    report = ErasureReport(client.client_id, member.fingerprint, dry_run)
    needles = {member.key_token, *member.silver_values}
    for zone in ZONES:
        path = settings.table_path(zone, client.dataset)
        if not engine.exists(path):
            continue
        predicate, rows = _locate(engine, path, zone, client, member, keys)
        needles |= _identifying_values(rows)
        _erase_rows(engine, path, zone, predicate, rows, report, dry_run=dry_run)
    for reference in related:
        for zone in ZONES:
            path = settings.table_path(zone, reference.config.dataset)
            if not engine.exists(path):
                continue
            predicate, rows = _locate_referencing(engine, path, zone, reference, member, keys)
            needles |= _identifying_values(rows)
            name = f"{zone}/{reference.config.dataset}"
            _erase_rows(engine, path, name, predicate, rows, report, dry_run=dry_run)
    if not dry_run and any(report.rows.get(z) for z in report.rows if z.startswith("silver")):
        _refresh_gold(settings, engine, client, report)
    _forget_consent(settings, client, engine, member, report, dry_run=dry_run)
    raw_roots = [settings.landing_dir, settings.archive_root]
    holders = raw_files_with(raw_roots, member.standardised)
    by_feed = {reference.config.feed: reference for reference in related}
    for path in holders:
        found = by_feed.get(feed_prefix(path.name, by_feed) or "")
        config, columns = (found.config, [found.column]) if found else (client, None)
        for erased in erase_from_raw_files(
            [path], config, member.standardised, dry_run=dry_run, key_columns=columns
        ):
            report.raw_files[str(erased.path)] = erased.records_removed
    if not dry_run:
        plaintext = set(member.standardised)
        # The archive and the checkpoints may live outside the lake (archive_dir,
        # checkpoint_dir): they hold raw records and stream state, so they are proved too.
        stored = [settings.lake_root, settings.archive_root, settings.checkpoints]
        findings = scan_files(stored, needles | plaintext)
        findings += scan_files([settings.landing_dir], plaintext)
        report.leftovers = sorted({str(f.path) for f in findings})
    log.info(
        "member erased" if not dry_run else "erasure planned (dry run)",
        extra={
            "client": client.client_id,
            "subject": member.fingerprint[:16],
            "rows": sum(report.rows.values()),
            "raw_files": len(report.raw_files),
            "verified": report.verified,
        },
    )
    return report
