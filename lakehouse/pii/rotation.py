"""Key rotation: re-encrypt stored values under the active encrypt (and SIV) key.

Procedure (README, "PII protection"): add a new key to the key file, make it
``encrypt_key_id``, move the old id to ``encrypt_old_key_ids``, run ``lakehouse keys rotate``;
when it reports nothing left under old ids, remove the old key.

What changes and what does not:
- GCM values under an old key id are decrypted and encrypted again (new per-batch key,
  new nonces); the plaintext and so the keyed row hash are unchanged.
- SIV values under a SIV key that is no longer ``siv_key_id`` are re-encrypted too
  (deterministically: equal plaintexts stay equal to each other).
- Legacy values (``gcm1:``/``siv1:``, associated data = column name only) are re-encrypted
  in the bound forms (``gcm2:``/``siv2:``: client, dataset, column, and for GCM the row's
  key), whatever their key id: rotation is the upgrade path for stored ciphertexts.
- Tokens (HMAC) are never touched, so merge keys, ``_key_token`` and joins stay stable. The
  token key is *versioned*, not rotated: see ``lakehouse.pii.keys`` and the DesignDoc.

Each client partition is rewritten in one commit per table, only if it holds stale values;
a rerun after an interruption continues where it stopped (values already current are kept).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.landing.reader import CORRUPT_COLUMN
from lakehouse.pii.crypto import reencrypt_many
from lakehouse.pii.domains import binding
from lakehouse.pii.keys import KeyRing

__all__ = ["RotationReport", "encrypted_columns", "rotate_client", "row_keys"]

_KEY_TOKEN = "_key_token"  # lakehouse.pii.policies.KEY_TOKEN (policies imports Spark)

log = logging.getLogger(__name__)

Zone = Literal["bronze", "quarantine", "silver"]
ZONES: tuple[Zone, ...] = ("bronze", "quarantine", "silver")


@dataclass
class RotationReport:
    """Values re-encrypted per ``client/zone`` and the partitions rewritten."""

    values: dict[str, int] = field(default_factory=dict)
    rewritten: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.values.values())


def encrypted_columns(client: ClientConfig, zone: str) -> list[str]:
    """Columns of ``zone`` that hold encrypted values for ``client``."""
    if zone == "silver":
        return [c.name for c in client.columns if c.pii in ("encrypt", "deterministic_encrypt")]
    return [c.name for c in client.columns if c.is_pii] + [CORRUPT_COLUMN]


def row_keys(table: pa.Table, client: ClientConfig, zone: str) -> list[str | None]:
    """Each row's key, as its GCM values are bound to: ``_key_token`` in bronze and
    quarantine, the stored merge key values ('.'-joined) in silver."""
    if zone != "silver":
        if _KEY_TOKEN not in table.column_names:
            return [None] * table.num_rows
        return table.column(_KEY_TOKEN).cast(pa.string()).to_pylist()  # type: ignore[no-any-return]
    parts = [table.column(name).cast(pa.string()).to_pylist() for name in client.merge_key]
    return [
        None if any(p is None for p in row) else ".".join(row) for row in zip(*parts, strict=True)
    ]


def rotate_client(
    settings: Settings,
    client: ClientConfig,
    engine: TableEngine,
    keys: KeyRing,
    *,
    dry_run: bool,
    report: RotationReport,
    zones: Sequence[Zone] = ZONES,
) -> None:
    """Re-encrypt one client's stale values in every table (see module docstring).

    Raises:
        KeyMissingError: an old key id found in the data is not in the ring.
        DecryptionError: a stored value fails authentication (nothing is written then).
    """
    for zone in zones:
        path = settings.table_path(zone, client.dataset)
        if not engine.exists(path):
            continue
        table = engine.read(path, partition=("client_id", client.client_id))
        rows = row_keys(table, client, zone)
        changed = 0
        for name in encrypted_columns(client, zone):
            if name not in table.column_names:
                continue
            index = table.column_names.index(name)
            kind = table.schema.field(index).type
            values, count = reencrypt_many(
                table.column(name).cast(pa.string()).to_pylist(),
                keys=keys,
                aad=binding(client, name),
                row_keys=rows,
            )
            if count:
                table = table.set_column(
                    index, table.schema.field(index), pa.array(values, pa.string()).cast(kind)
                )
                changed += count
        label = f"{client.client_id}/{zone}"
        report.values[label] = changed
        if changed and not dry_run:
            engine.rewrite_partition(
                path,
                table,
                partition=("client_id", client.client_id),
                metadata={
                    "lakehouse_operation": "keys rotate",
                    "encrypt_key_id": keys.encrypt_key_id or "",
                    "siv_key_id": keys.siv_key_id or "",
                },
            )
            report.rewritten.append(label)
        log.info(
            "key rotation" + (" (dry run)" if dry_run else ""),
            extra={"client": client.client_id, "table": zone, "values": changed},
        )
