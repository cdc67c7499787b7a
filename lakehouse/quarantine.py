"""Quarantine: invalid rows with their reasons and lineage, and no plaintext PII.

Reasons and non-PII columns stay readable for triage; PII columns and the raw text of
malformed records are AES-GCM encrypted as in bronze (``lakehouse decrypt --table quarantine``
shows them to a key holder and audits it); ``_key_token`` links a row to its member for
erasure.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame

from lakehouse.config.models import ClientConfig
from lakehouse.engine.base import TableEngine
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import protect_raw

__all__ = ["append_quarantine", "quarantine_rows"]


def quarantine_rows(
    raw_invalid: DataFrame, client: ClientConfig, keys: KeyRing, *, corrupt_column: str
) -> DataFrame:
    """Raw values of invalid rows, PII columns and malformed record text encrypted."""
    return protect_raw(raw_invalid, client, keys, corrupt=corrupt_column)


def append_quarantine(
    engine: TableEngine,
    path: Path,
    df: DataFrame,
    *,
    client_id: str,
    file_sha256: str,
    run_id: str,
    rows: int | None = None,
) -> bool:
    """Append once per file content (app id ``lakehouse:quarantine:<sha256>``; the engine
    makes a repeat a no-op). ``rows``: how many rows ``df`` holds, if known (see
    ``append_frame``). Returns True when rows were appended."""
    return engine.append_frame(
        path,
        df,
        partition=("client_id", client_id),
        app_id=f"lakehouse:quarantine:{file_sha256}",
        metadata={"run_id": run_id},
        rows=rows,
    )
