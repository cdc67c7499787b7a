"""Spark columns that run ``lakehouse.pii.crypto`` and ``lakehouse.pii.phi`` per Arrow batch
on the executors (``arrow_udf``): no per-row driver loop, no pandas conversion.

Keys travel inside the pickled UDF closures, never as literals, so they cannot appear in
plans or ``explain()`` output (tested). Encrypted values are bound to where they belong
(``lakehouse.pii.domains``): GCM to client, dataset, column and the row's key column.
Every returned column must be aliased by the caller: an unaliased UDF column is named after
its call, which shows column names only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.memo import built_once
from lakehouse.pii.crypto import decrypt_many, gcm_encrypt_many, siv_encrypt_many
from lakehouse.pii.domains import Binding
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.phi import KINDS, Redactor

__all__ = [
    "REDACTION_TYPE",
    "decrypt_column",
    "encrypt_column",
    "redact_column",
    "siv_column",
]

REDACTION_TYPE = T.StructType(
    [T.StructField("text", T.StringType())]
    + [T.StructField(kind, T.IntegerType(), nullable=False) for kind in KINDS]
)


def _arrow_udf(function: Callable[..., pa.Array], return_type: T.DataType) -> Callable[..., Column]:
    """``F.arrow_udf`` with types (PySpark's stubs do not declare it yet)."""
    made = F.arrow_udf(function, return_type)  # type: ignore[attr-defined]
    return cast(Callable[..., Column], made)


def _row_key(row_key: Column | None) -> Column:
    return F.lit(None).cast("string") if row_key is None else row_key.cast("string")


def _strings(values: pa.Array) -> list[str | None]:
    return values.cast(pa.string()).to_pylist()  # type: ignore[no-any-return]


def encrypt_column(
    value: Column, *, binding: Binding, row_key: Column | None, keys: KeyRing
) -> Column:
    """AES-GCM of a string column with the active encrypt key, bound to ``binding`` and each
    row's ``row_key`` (``_key_token`` in bronze/quarantine, the merge key in silver).

    Raises:
        KeyMissingError: no encrypt key (when the column is built, before any job runs).
    """
    key_id, key = keys.active("encrypt")

    def gcm_encrypt(values: pa.Array, rows: pa.Array) -> pa.Array:
        return pa.array(
            gcm_encrypt_many(
                _strings(values), key_id=key_id, key=key, aad=binding, row_keys=_strings(rows)
            ),
            pa.string(),
        )

    made = built_once(
        keys.spark_functions,
        ("gcm", key_id, binding),
        lambda: _arrow_udf(gcm_encrypt, T.StringType()),
    )
    return made(value.cast("string"), _row_key(row_key))


def siv_column(value: Column, *, binding: Binding, keys: KeyRing) -> Column:
    """AES-SIV (deterministic) of a string column with the active SIV key, bound to
    ``binding`` (client or shared domain, dataset, column; not the row: equal values stay
    equal)."""
    key_id, key = keys.active("siv")

    def siv_encrypt(values: pa.Array) -> pa.Array:
        return pa.array(
            siv_encrypt_many(_strings(values), key_id=key_id, key=key, aad=binding), pa.string()
        )

    made = built_once(
        keys.spark_functions,
        ("siv", key_id, binding),
        lambda: _arrow_udf(siv_encrypt, T.StringType()),
    )
    return made(value.cast("string"))


def decrypt_column(
    value: Column, *, binding: Binding, row_key: Column | None, keys: KeyRing
) -> Column:
    """Plaintext of an encrypted column (GCM or SIV, bound or legacy, any key the ring holds)."""

    def decrypt(values: pa.Array, rows: pa.Array) -> pa.Array:
        return pa.array(
            decrypt_many(_strings(values), keys=keys, aad=binding, row_keys=_strings(rows)),
            pa.string(),
        )

    made = built_once(
        keys.spark_functions, ("decrypt", binding), lambda: _arrow_udf(decrypt, T.StringType())
    )
    return made(value, _row_key(row_key))


def redact_column(value: Column, *, mrn_patterns: Sequence[str]) -> Column:
    """Struct of the redacted text and one finding count per kind (``REDACTION_TYPE``)."""
    redactor = Redactor(tuple(mrn_patterns))

    def redact_phi(values: pa.Array) -> pa.Array:
        texts, counts = redactor.redact_many(_strings(values))
        arrays = [pa.array(texts, pa.string())] + [
            pa.array(counts[kind], pa.int32()) for kind in KINDS
        ]
        return pa.StructArray.from_arrays(arrays, names=["text", *KINDS])

    return _arrow_udf(redact_phi, REDACTION_TYPE)(value.cast("string"))
