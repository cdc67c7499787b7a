"""Apply each column's PII policy (``token``, ``drop``, ``keep``) as DataFrame transforms."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.config.models import ClientConfig
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.tokens import spark_hmac_hex, token_message

__all__ = ["protect", "row_hash", "tokenise", "tokenise_pii_raw"]

RAW_RECORD_DOMAIN = "_record"


def tokenise(value: Column, *, column: str, keys: KeyRing) -> Column:
    """Deterministic keyed token for ``value`` in the domain of ``column``."""
    return spark_hmac_hex(token_message(column, value), keys.token_key)


def protect(df: DataFrame, client: ClientConfig, keys: KeyRing) -> DataFrame:
    """Standardised values -> silver values: tokenise ``token`` columns, remove ``drop`` ones."""
    columns: list[Column] = []
    for name in df.columns:
        spec = next((c for c in client.columns if c.name == name), None)
        if spec is None or spec.pii in (None, "keep"):
            columns.append(F.col(name))
        elif spec.pii == "token":
            columns.append(tokenise(F.col(name).cast("string"), column=name, keys=keys).alias(name))
        # "drop": the column is not selected at all.
    return df.select(*columns)


def tokenise_pii_raw(
    df: DataFrame, client: ClientConfig, keys: KeyRing, *, corrupt: str
) -> DataFrame:
    """For quarantine: every PII column (whatever its silver policy) and the raw text of
    malformed records become tokens, so quarantine holds no plaintext PII; non-PII columns
    stay readable for triage."""
    pii = {c.name for c in client.columns if c.pii is not None}
    replaced = {
        name: tokenise(F.col(name), column=name, keys=keys) for name in pii if name in df.columns
    }
    if corrupt in df.columns:
        replaced[corrupt] = tokenise(F.col(corrupt), column=RAW_RECORD_DOMAIN, keys=keys)
    return df.withColumns(replaced) if replaced else df


def row_hash(columns: Sequence[str], keys: KeyRing) -> Column:
    """Keyed content hash of a row's silver values: equal content gives an equal hash.

    Keyed (not plain SHA-256) so the hash of a row of PII cannot be confirmed by guessing.
    """
    content = F.to_json(F.struct(*[F.col(c) for c in columns]))
    return spark_hmac_hex(token_message("_row", content), keys.token_key)
