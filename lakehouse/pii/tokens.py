"""Keyed HMAC-SHA256 tokens, computed per Arrow batch on the executors.

The key is never a literal in a Spark plan: it travels inside the pickled closure of a
vectorised Arrow UDF (as the encryption keys do, ``lakehouse.pii.udfs``), so plans, the
name of an unaliased column, analysis errors (which PySpark 4 also prints to stderr) and the
event log show the function's name only. Composing HMAC from ``sha2`` with ``lit(key ^ pad)``
(the former design) put the pads, which reveal the key, into every one of those.

``hmac_hex`` is the Python twin for the driver (CLI look-ups, erasure, tests); both are the
standard ``hmac`` module, so they agree byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import cast

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

__all__ = ["hmac_hex", "spark_hmac_hex", "token_message"]

_SEPARATOR = "\x1f"


def _hmac_batch(key: bytes) -> Callable[[pa.Array], pa.Array]:
    def hmac_sha256(values: pa.Array) -> pa.Array:
        # Keyed once per batch, copied per value (HMAC objects cannot be pickled).
        base = hmac.new(key, digestmod=hashlib.sha256)
        out: list[str | None] = []
        for value in values.cast(pa.string()).to_pylist():
            if value is None:
                out.append(None)
                continue
            mac = base.copy()
            mac.update(value.encode("utf-8"))
            out.append(mac.hexdigest())
        return pa.array(out, pa.string())

    return hmac_sha256


def spark_hmac_hex(message: Column, key: bytes) -> Column:
    """HMAC-SHA256 of a string column (UTF-8) as 64 lower-case hex chars; NULL stays NULL."""
    udf = cast(
        Callable[[Column], Column],
        F.arrow_udf(_hmac_batch(key), T.StringType()),  # type: ignore[attr-defined]
    )
    # Named, so an un-aliased column has a stable name (it shows no key either way).
    return udf(message.cast("string")).alias("hmac_sha256")


def token_message(domain: str, value: Column) -> Column:
    """Domain-separated message: equal values in different domains give different tokens."""
    return F.concat(F.lit(domain + _SEPARATOR), value.cast("string"))


def hmac_hex(value: str, key: bytes, *, domain: str) -> str:
    """Python twin of ``spark_hmac_hex(token_message(domain, value))`` (CLI look-ups, tests)."""
    message = f"{domain}{_SEPARATOR}{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
