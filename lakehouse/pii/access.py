"""Authorised access to encrypted values: ``lakehouse decrypt`` reads rows of one client's
table and returns them with their encrypted columns in plaintext.

The command around it needs the key ring (no key, no plaintext) and writes every use to
``audit/pii_events`` (who, why, which table, columns, rows and key ids; never values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError
from lakehouse.pii.crypto import decrypt_many, is_encrypted, key_id_of
from lakehouse.pii.domains import binding
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import KEY_TOKEN
from lakehouse.pii.rotation import encrypted_columns, row_keys

__all__ = ["Revealed", "reveal", "reveal_table"]

Zone = Literal["bronze", "quarantine", "silver"]


@dataclass(frozen=True)
class Revealed:
    table: pa.Table
    columns: list[str]  # columns that were decrypted
    key_ids: list[str]  # key ids the values were encrypted with


def reveal(
    settings: Settings,
    client: ClientConfig,
    engine: TableEngine,
    keys: KeyRing,
    *,
    zone: Zone,
    source_file: str | None = None,
    key_token: str | None = None,
    silver_key: Sequence[str] | None = None,
    limit: int | None = None,
) -> Revealed:
    """Rows of ``client`` in ``zone`` (optionally one file's or one member's), decrypted.

    Args:
        key_token: bronze/quarantine member filter (``_key_token``).
        silver_key: silver member filter (merge key values as silver stores them).

    Raises:
        LakehouseError: the table does not exist.
        KeyMissingError / DecryptionError: a value cannot be decrypted with this ring.
    """
    path = settings.table_path(zone, client.dataset)
    if not engine.exists(path):
        raise LakehouseError(
            f"table {zone}/{client.dataset} does not exist", client=client.client_id
        )
    table = engine.read(
        path,
        partition=("client_id", client.client_id),
        key_filter=("_source_file", [source_file]) if source_file else None,
    )
    if key_token is not None and KEY_TOKEN in table.column_names:
        table = table.filter(pc.equal(table.column(KEY_TOKEN).cast(pa.string()), key_token))
    if silver_key is not None:
        for name, value in zip(client.merge_key, silver_key, strict=True):
            table = table.filter(pc.equal(table.column(name).cast(pa.string()), value))
    if limit is not None:
        table = table.slice(0, limit)
    return reveal_table(table, client, keys, zone=zone)


def reveal_table(table: pa.Table, client: ClientConfig, keys: KeyRing, *, zone: Zone) -> Revealed:
    """Decrypt the encrypted columns of rows read from ``zone`` (values not encrypted, e.g.
    written before encryption was on, pass through). For driver-side use on bounded row sets,
    such as one file's bronze rows rebuilt into a landing file for a backfill."""
    columns = [c for c in encrypted_columns(client, zone) if c in table.column_names]
    key_ids: set[str] = set()
    rows = row_keys(table, client, zone)
    for name in columns:
        values = table.column(name).cast(pa.string()).to_pylist()
        key_ids |= {key_id_of(v) for v in values if is_encrypted(v)}
        plain = decrypt_many(
            [v if is_encrypted(v) else None for v in values],
            keys=keys,
            aad=binding(client, name),
            row_keys=rows,
        )
        merged = [p if is_encrypted(v) else v for v, p in zip(values, plain, strict=True)]
        index = table.column_names.index(name)
        table = table.set_column(index, name, pa.array(merged, pa.string()))
    return Revealed(table=table, columns=columns, key_ids=sorted(key_ids))
