"""Rebuild a landing file from its bronze rows, for backfills whose file is not archived.

Bronze keeps every record exactly as read: configured columns as raw strings (NULL for an
unquoted empty field, ``""`` for a quoted empty one), ``_corrupt_record`` with the raw text of
a malformed record, and ``_record_number``. Writing them back in record order in the
client's format (CSV with its delimiter, quote and encoding; JSON lines; XML, see
``render_records``) gives a file the reader parses into the same rows.
Headers the config does not declare were never ingested, so the rebuilt file lacks them.
PII columns and malformed record text are encrypted in bronze; they are decrypted with the
key ring (AAD = column name) while the file is rebuilt, in the lake's staging area, and the
rebuilt file is deleted when the backfill ends.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from lakehouse.backfill.render_records import render_jsonl, render_xml
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError
from lakehouse.landing.reader import CORRUPT_COLUMN, RECORD_COLUMN
from lakehouse.pii.crypto import decrypt_value, is_encrypted
from lakehouse.pii.keys import KeyRing

__all__ = ["rebuild_from_bronze", "render_csv", "render_landing"]


def _quote(value: str, client: ClientConfig) -> str:
    quote, escape = client.file.quote, client.file.escape
    return quote + value.replace(quote, escape + quote) + quote


def _reveal(value: str | None, column: str, keys: KeyRing | None) -> str | None:
    if keys is None or not is_encrypted(value):
        return value
    assert value is not None
    return decrypt_value(value, keys=keys, aad=column)


def render_csv(rows: pa.Table, client: ClientConfig, keys: KeyRing | None = None) -> str:
    """CSV text of bronze ``rows`` (one file's, any order): header, then records in order.

    With ``keys``, encrypted values are decrypted first (bronze encrypts PII columns).
    """
    if keys is not None:  # bound values (gcm2/siv2) need client, column and row: decrypt here
        from lakehouse.pii.access import reveal_table

        rows, keys = reveal_table(rows, client, keys, zone="bronze").table, None
    delimiter = client.file.delimiter
    lines = [delimiter.join(_quote(c.header, client) for c in client.columns)]
    for record in _records(rows, client, keys):
        raw = record.get(CORRUPT_COLUMN)
        if raw is not None:
            lines.append(raw)  # a malformed record goes back exactly as it was read
            continue
        fields = [record[c.name] for c in client.columns]
        lines.append(delimiter.join("" if v is None else _quote(v, client) for v in fields))
    return "\n".join(lines) + "\n"


def _records(
    rows: pa.Table, client: ClientConfig, keys: KeyRing | None
) -> list[dict[str, str | None]]:
    """Configured columns and the corrupt text of ``rows``, in record order, revealed."""
    ordered = rows.sort_by(RECORD_COLUMN)
    names = [c.name for c in client.columns]
    has_corrupt = CORRUPT_COLUMN in ordered.column_names
    selected = ordered.select([*names, *([CORRUPT_COLUMN] if has_corrupt else [])]).to_pylist()
    return [{name: _reveal(value, name, keys) for name, value in row.items()} for row in selected]


def render_landing(rows: pa.Table, client: ClientConfig, keys: KeyRing | None = None) -> str:
    """The landing file text of bronze ``rows`` in the client's format (csv, jsonl, xml)."""
    if client.file.format == "csv":
        return render_csv(rows, client, keys)
    if keys is not None:  # bound values (gcm2/siv2) need client, column and row: decrypt here
        from lakehouse.pii.access import reveal_table

        rows, keys = reveal_table(rows, client, keys, zone="bronze").table, None
    records = _records(rows, client, keys)
    if client.file.format == "jsonl":
        return render_jsonl(records, client, CORRUPT_COLUMN)
    return render_xml(records, client, CORRUPT_COLUMN)


def rebuild_from_bronze(
    engine: TableEngine,
    settings: Settings,
    client: ClientConfig,
    keys: KeyRing,
    *,
    file_name: str,
    file_sha256: str,
    target_dir: Path,
) -> Path:
    """Write ``target_dir/<file_name>`` from the bronze rows of that file content.

    Raises:
        LakehouseError: bronze holds no rows for this file.
    """
    rows = engine.read(
        settings.table_path("bronze", client.dataset),
        partition=("client_id", client.client_id),
        key_filter=("_file_sha256", [file_sha256]),
    )
    if rows.num_rows == 0:
        raise LakehouseError(
            "bronze holds no rows for this file",
            client=client.client_id,
            file=file_name,
            step="backfill",
            fix="backfill it from the archive (--source archive)",
        )
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / file_name
    text = render_landing(rows, client, keys)
    path.write_text(text, encoding=client.file.encoding, newline="")
    return path
