"""Reversible encryption of single values: AES-256-GCM (``encrypt``) and AES-SIV
(``deterministic_encrypt``), with the key id carried in the value and the column name as
associated data (a value copied to another column does not decrypt).

Stored forms (ASCII, so they fit string columns)::

    gcm1:<key id>:<base64(salt16 | nonce12 | ciphertext | tag16)>
    siv1:<key id>:<base64(siv16 | ciphertext)>

GCM keys are never used directly: each batch of values derives its own AES key with
HKDF-SHA256 from the ring key and a random 16-byte salt stored in the value. Random 96-bit
nonces are safe for about 2^32 messages per AES key (NIST SP 800-38D); per-batch keys keep
every key far below that however many values a ring key protects over its lifetime.
The SIV key is derived once per ring key (HKDF, fixed info), so equal plaintexts in the same
column give equal ciphertexts: joinable, and as revealing as that implies (equality only).

Functions here work on Python values and lists; ``lakehouse.pii.udfs`` runs them per Arrow
batch on the executors.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Sequence
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lakehouse.errors import LakehouseError
from lakehouse.pii.keys import KeyRing

__all__ = [
    "GCM_PREFIX",
    "SIV_PREFIX",
    "DecryptionError",
    "decrypt_many",
    "decrypt_value",
    "gcm_encrypt_many",
    "is_encrypted",
    "key_id_of",
    "siv_encrypt_many",
]

GCM_PREFIX = "gcm1"
SIV_PREFIX = "siv1"
_SALT, _NONCE, _TAG = 16, 12, 16
_GCM_INFO = b"lakehouse:aes-256-gcm:v1"
_SIV_INFO = b"lakehouse:aes-256-siv:v1"


class DecryptionError(LakehouseError):
    """A stored value cannot be decrypted: wrong column, tampered, or not an encrypted value."""


def _hkdf(key: bytes, *, salt: bytes | None, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


@lru_cache(maxsize=4096)
def _gcm_subkey(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(_hkdf(key, salt=salt, info=_GCM_INFO, length=32))


@lru_cache(maxsize=64)
def _siv(key: bytes) -> AESSIV:
    return AESSIV(_hkdf(key, salt=None, info=_SIV_INFO, length=64))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def gcm_encrypt_many(
    values: Sequence[str | None], *, key_id: str, key: bytes, aad: str
) -> list[str | None]:
    """Encrypt a batch of values (NULL stays NULL) under one fresh per-batch AES key."""
    salt = os.urandom(_SALT)
    aes = AESGCM(_hkdf(key, salt=salt, info=_GCM_INFO, length=32))
    associated = aad.encode("utf-8")
    prefix = f"{GCM_PREFIX}:{key_id}:"
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
            continue
        nonce = os.urandom(_NONCE)
        sealed = aes.encrypt(nonce, value.encode("utf-8"), associated)
        out.append(prefix + _b64(salt + nonce + sealed))
    return out


def siv_encrypt_many(
    values: Sequence[str | None], *, key_id: str, key: bytes, aad: str
) -> list[str | None]:
    """Deterministic encryption: equal (value, column) pairs give equal outputs."""
    siv = _siv(key)
    associated = [aad.encode("utf-8")]
    prefix = f"{SIV_PREFIX}:{key_id}:"
    return [
        None if value is None else prefix + _b64(siv.encrypt(value.encode("utf-8"), associated))
        for value in values
    ]


def _split(stored: str) -> tuple[str, str, bytes]:
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] not in (GCM_PREFIX, SIV_PREFIX):
        raise DecryptionError("value is not in an encrypted form (gcm1:/siv1:)")
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("encrypted value is not valid base64") from exc
    return parts[0], parts[1], blob


def is_encrypted(value: object) -> bool:
    """True when ``value`` has the shape of a value this module produced."""
    return isinstance(value, str) and value.startswith((GCM_PREFIX + ":", SIV_PREFIX + ":"))


def key_id_of(stored: str) -> str:
    """The key id inside an encrypted value."""
    return _split(stored)[1]


def decrypt_value(stored: str, *, keys: KeyRing, aad: str) -> str:
    """Plaintext of one stored value of column ``aad``.

    Raises:
        DecryptionError: not an encrypted value, wrong column, or tampered.
        KeyMissingError: its key id is not in the ring for that purpose.
    """
    kind, key_id, blob = _split(stored)
    associated = aad.encode("utf-8")
    try:
        if kind == GCM_PREFIX:
            key = keys.decryption_key(key_id, "encrypt")
            if len(blob) < _SALT + _NONCE + _TAG:
                raise DecryptionError("encrypted value is truncated")
            salt, nonce, sealed = blob[:_SALT], blob[_SALT : _SALT + _NONCE], blob[_SALT + _NONCE :]
            plain = _gcm_subkey(key, salt).decrypt(nonce, sealed, associated)
        else:
            key = keys.decryption_key(key_id, "siv")
            plain = _siv(key).decrypt(blob, [associated])
    except InvalidTag as exc:
        raise DecryptionError(
            f"authentication failed for a value of column '{aad}' (key '{key_id}'): wrong "
            "column, wrong key, or the value was altered"
        ) from exc
    return plain.decode("utf-8")


def decrypt_many(values: Sequence[str | None], *, keys: KeyRing, aad: str) -> list[str | None]:
    """Decrypt a batch (NULL stays NULL; plain values that are not encrypted raise)."""
    return [None if v is None else decrypt_value(v, keys=keys, aad=aad) for v in values]


def reencrypt_many(
    values: Sequence[str | None], *, keys: KeyRing, aad: str
) -> tuple[list[str | None], int]:
    """Re-encrypt values whose key is not the active one of their kind; (values, changed).

    GCM values move to the active encrypt key, SIV values to the active SIV key (which
    changes them, consistently for equal plaintexts). Values already current are kept as is.
    """
    enc_id, enc_key = keys.active("encrypt")
    siv_id: str | None = keys.siv_key_id
    out: list[str | None] = list(values)
    stale: dict[str, list[int]] = {GCM_PREFIX: [], SIV_PREFIX: []}
    for index, value in enumerate(values):
        if value is None or not is_encrypted(value):
            continue
        kind, key_id, _ = _split(value)
        if (kind == GCM_PREFIX and key_id != enc_id) or (kind == SIV_PREFIX and key_id != siv_id):
            stale[kind].append(index)
    encoders: dict[str, Callable[[list[str | None]], list[str | None]]] = {
        GCM_PREFIX: lambda plain: gcm_encrypt_many(plain, key_id=enc_id, key=enc_key, aad=aad),
    }
    if stale[SIV_PREFIX]:
        siv_key_id, siv_key = keys.active("siv")
        encoders[SIV_PREFIX] = lambda plain: siv_encrypt_many(
            plain, key_id=siv_key_id, key=siv_key, aad=aad
        )
    for kind, indexes in stale.items():
        if not indexes:
            continue
        plain = [decrypt_value(str(values[i]), keys=keys, aad=aad) for i in indexes]
        for index, value in zip(indexes, encoders[kind](list(plain)), strict=True):
            out[index] = value
    return out, sum(len(i) for i in stale.values())
