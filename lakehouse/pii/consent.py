"""Consent records and the decision they give, per member and purpose.

Records live in ``<lake>/consent/events`` (append-only, partitioned by client): the member
as silver keys it (its merge key token(s), never a raw value), the purpose, ``granted`` or
``withdrawn``, when it takes effect, who recorded it and why. A member's consent for a
purpose is, in order: the latest record in effect (by ``effective_at``, then
``recorded_at``), else the client's consent column in silver (``purposes`` listed there are
granted), else the client's ``default``. Exports for a purpose keep only members with
consent (``consented``); withdrawing a purpose listed in ``erase_on_withdrawal`` also erases
the member (the CLI runs ``forget`` for it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.config.consent import ConsentSettings
from lakehouse.config.models import ClientConfig
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError

__all__ = [
    "CONSENT_SCHEMA",
    "ConsentDecision",
    "ConsentRecord",
    "append_consent",
    "consent_path",
    "consented",
    "decisions",
    "read_consent",
    "settings_of",
]

ConsentStatus = Literal["granted", "withdrawn"]
Basis = Literal["record", "column", "default"]

CONSENT_SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("member", pa.string()),  # silver's key: merge key values '.'-joined (tokens)
        ("purpose", pa.string()),
        ("status", pa.string()),
        ("effective_at", pa.timestamp("us", tz="UTC")),
        ("recorded_at", pa.timestamp("us", tz="UTC")),
        ("event_id", pa.string()),
        ("source", pa.string()),  # record | import
        ("reason", pa.string()),
        ("user", pa.string()),
    ]
)


@dataclass(frozen=True)
class ConsentRecord:
    client_id: str
    member: str = field(repr=False)
    purpose: str
    status: ConsentStatus
    effective_at: dt.datetime
    recorded_at: dt.datetime
    event_id: str
    source: Literal["record", "import"]
    reason: str
    user: str


@dataclass(frozen=True)
class ConsentDecision:
    """Which members may be used for a purpose, and on what basis (counts only in repr)."""

    purpose: str
    granted: frozenset[str] = field(repr=False)
    denied: frozenset[str] = field(repr=False)
    basis: Mapping[str, Mapping[Basis, int]]  # "granted"/"denied" -> basis -> members


def consent_path(lake_root: Path) -> Path:
    return lake_root / "consent" / "events"


def settings_of(client: ClientConfig) -> ConsentSettings:
    """Raises: LakehouseError: the client declares no consent purposes."""
    if client.consent is None:
        raise LakehouseError(
            "the client declares no consent purposes",
            client=client.client_id,
            fix=f"add a 'consent:' section to clients/{client.client_id}.yaml (README, 'Consent')",
        )
    return client.consent


def append_consent(engine: TableEngine, lake_root: Path, records: Iterable[ConsentRecord]) -> int:
    rows = [
        {
            "client_id": r.client_id,
            "member": r.member,
            "purpose": r.purpose,
            "status": r.status,
            "effective_at": r.effective_at,
            "recorded_at": r.recorded_at,
            "event_id": r.event_id,
            "source": r.source,
            "reason": r.reason,
            "user": r.user,
        }
        for r in records
    ]
    if rows:
        table = pa.Table.from_pylist(rows, schema=CONSENT_SCHEMA)
        engine.append(consent_path(lake_root), table, partition_by=["client_id"])
    return len(rows)


def read_consent(engine: TableEngine, lake_root: Path, client_id: str) -> pa.Table:
    path = consent_path(lake_root)
    if not engine.exists(path):
        return CONSENT_SCHEMA.empty_table()
    return engine.read(path, partition=("client_id", client_id))


def _latest_records(events: pa.Table, purpose: str, now: dt.datetime) -> dict[str, ConsentStatus]:
    rows = [
        r
        for r in events.select(
            ["member", "purpose", "status", "effective_at", "recorded_at"]
        ).to_pylist()
        if r["purpose"] == purpose and r["effective_at"] <= now
    ]
    rows.sort(key=lambda r: (r["effective_at"], r["recorded_at"]))
    return {str(r["member"]): r["status"] for r in rows}  # later rows win


def silver_members(silver: pa.Table, client: ClientConfig) -> pa.ChunkedArray:
    """Each silver row's key as consent records name it (merge key values '.'-joined)."""
    parts = [pc.cast(silver.column(name), pa.string()) for name in client.merge_key]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, ".")


def decisions(
    silver: pa.Table,
    client: ClientConfig,
    purpose: str,
    events: pa.Table,
    *,
    now: dt.datetime | None = None,
) -> ConsentDecision:
    """Every silver member's consent for ``purpose`` (see the module docstring).

    Raises:
        LakehouseError: no consent settings, or an undeclared purpose.
    """
    settings = settings_of(client)
    try:
        settings.check_purpose(purpose)
    except ValueError as exc:
        raise LakehouseError(str(exc), client=client.client_id) from None
    records = _latest_records(events, purpose, now or dt.datetime.now(dt.UTC))
    members = silver_members(silver, client).to_pylist()
    column = (
        silver.column(settings.column).to_pylist()
        if settings.column and settings.column in silver.column_names
        else [None] * len(members)
    )
    granted: set[str] = set()
    denied: set[str] = set()
    basis: dict[str, dict[Basis, int]] = {"granted": {}, "denied": {}}
    for member, listed in zip(members, column, strict=True):
        if member is None:
            continue
        why: Basis
        if member in records:
            ok, why = records[member] == "granted", "record"
        elif listed is not None:
            granted_here = {p.strip() for p in str(listed).split(settings.separator)}
            ok, why = purpose in granted_here, "column"
        else:
            ok, why = settings.default == "grant", "default"
        (granted if ok else denied).add(member)
        side = basis["granted" if ok else "denied"]
        side[why] = side.get(why, 0) + 1
    return ConsentDecision(purpose, frozenset(granted), frozenset(denied), basis)


def consented(
    silver: pa.Table,
    client: ClientConfig,
    purpose: str,
    events: pa.Table,
    *,
    now: dt.datetime | None = None,
) -> tuple[pa.Table, ConsentDecision]:
    """``silver`` without the rows of members who have no consent for ``purpose``."""
    decision = decisions(silver, client, purpose, events, now=now)
    keep = pc.is_in(silver_members(silver, client), pa.array(sorted(decision.granted), pa.string()))
    return silver.filter(pc.fill_null(keep, False)), decision
