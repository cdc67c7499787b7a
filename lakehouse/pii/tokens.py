"""Keyed HMAC-SHA256 tokens computed by Spark itself (no Python UDF on the hot path).

Spark has no ``hmac`` function, so it is composed from ``sha2`` per RFC 2104:
``H((K ^ opad) || H((K ^ ipad) || m))``. Matches Python's ``hmac`` byte for byte (tested).
The keyed pads appear in plans as binary literals; ``spark.sql.redaction.string.regex``
(set in ``lakehouse.spark``) hides them.
"""

from __future__ import annotations

import hashlib
import hmac

from pyspark.sql import Column
from pyspark.sql import functions as F

__all__ = ["hmac_hex", "spark_hmac_hex", "token_message"]

_BLOCK = 64  # SHA-256 block size in bytes


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def spark_hmac_hex(message: Column, key: bytes) -> Column:
    """HMAC-SHA256 of a string column (UTF-8) as 64 lower-case hex chars; NULL stays NULL."""
    inner_pad, outer_pad = _pads(key)
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), message.cast("binary")), 256))
    # Named, so an un-aliased column is not named after its SQL text (which spells the pads).
    return F.sha2(F.concat(F.lit(outer_pad), inner), 256).alias("hmac_sha256")


def token_message(domain: str, value: Column) -> Column:
    """Domain-separated message: equal values in different domains give different tokens."""
    return F.concat(F.lit(domain + "\x1f"), value)


def hmac_hex(value: str, key: bytes, *, domain: str) -> str:
    """Python twin of ``spark_hmac_hex(token_message(domain, value))`` (CLI look-ups, tests)."""
    message = f"{domain}\x1f{value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
