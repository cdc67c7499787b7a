"""Reversible encryption of single values: AES-256-GCM (``encrypt``) and AES-SIV
(``deterministic_encrypt``), with the key id carried in the value and where the value
belongs as associated data (``lakehouse.pii.domains.Binding``): client, dataset, column and,
for GCM, the row's key. A value copied to another column, client or row does not decrypt.

Stored forms (ASCII, so they fit string columns)::

    gcm2:<key id>:<base64(salt16 | nonce12 | ciphertext | tag16)>  (client, dataset, column, row)
    siv2:<key id>:<base64(siv16 | ciphertext)>     (client or shared domain, dataset, column)
    gcm1: / siv1:                                  legacy: associated data = column name only

Legacy values still decrypt (with the column name); ``lakehouse keys rotate`` re-encrypts
them in the bound forms.

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
from collections.abc import Sequence
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lakehouse.errors import DecryptionError
from lakehouse.pii.domains import Binding
from lakehouse.pii.keys import KeyRing

Aad = str | Binding  # a bare column name: legacy forms only

__all__ = [
    "GCM_PREFIX",
    "SIV_PREFIX",
    "decrypt_many",
    "decrypt_value",
    "gcm_encrypt_many",
    "is_encrypted",
    "key_id_of",
    "siv_encrypt_many",
]

GCM_PREFIX = "gcm2"
SIV_PREFIX = "siv2"
_LEGACY = {"gcm1": "gcm2", "siv1": "siv2"}  # legacy prefix -> its bound successor
_PREFIXES = (GCM_PREFIX, SIV_PREFIX, *_LEGACY)
_SALT, _NONCE, _TAG = 16, 12, 16
_GCM_INFO = b"lakehouse:aes-256-gcm:v1"
_SIV_INFO = b"lakehouse:aes-256-siv:v1"


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


def _column_of(aad: Aad) -> str:
    return aad.column if isinstance(aad, Binding) else aad


def gcm_encrypt_many(
    values: Sequence[str | None],
    *,
    key_id: str,
    key: bytes,
    aad: Aad,
    row_keys: Sequence[str | None] | None = None,
) -> list[str | None]:
    """Encrypt a batch of values (NULL stays NULL) under one fresh per-batch AES key.

    With a ``Binding`` (production), values are ``gcm2`` bound to client, dataset, column and
    each row's key (``row_keys``, one per value; NULL for a row without a key). A bare column
    name writes the legacy ``gcm1`` form (tests of legacy data only).
    """
    salt = os.urandom(_SALT)
    aes = AESGCM(_hkdf(key, salt=salt, info=_GCM_INFO, length=32))
    if isinstance(aad, Binding):
        rows = list(row_keys) if row_keys is not None else [None] * len(values)
        if len(rows) != len(values):
            raise ValueError("row_keys must have one entry per value")
        head = aad.gcm_aad_head()
        associated = [head + row.encode("utf-8") if row else head for row in rows]
        prefix = f"{GCM_PREFIX}:{key_id}:"
    else:
        associated = [aad.encode("utf-8")] * len(values)
        prefix = f"gcm1:{key_id}:"
    # Every nonce from one read of the OS generator: the same random bytes, one system call
    # per batch instead of one per value (with the cheaper base64 below, 0.6x per value).
    nonces = os.urandom(_NONCE * len(values))
    encrypt, to_base64 = aes.encrypt, binascii.b2a_base64
    out: list[str | None] = []
    for index, (value, data) in enumerate(zip(values, associated, strict=True)):
        if value is None:
            out.append(None)
            continue
        nonce = nonces[index * _NONCE : (index + 1) * _NONCE]
        sealed = encrypt(nonce, value.encode("utf-8"), data)
        out.append(prefix + to_base64(salt + nonce + sealed, newline=False).decode("ascii"))
    return out


def siv_encrypt_many(
    values: Sequence[str | None], *, key_id: str, key: bytes, aad: Aad
) -> list[str | None]:
    """Deterministic encryption: equal (value, binding) pairs give equal outputs."""
    siv = _siv(key)
    if isinstance(aad, Binding):
        associated, prefix = aad.siv_aad(), f"{SIV_PREFIX}:{key_id}:"
    else:
        associated, prefix = [aad.encode("utf-8")], f"siv1:{key_id}:"
    return [
        None if value is None else prefix + _b64(siv.encrypt(value.encode("utf-8"), associated))
        for value in values
    ]


def _split(stored: str) -> tuple[str, str, bytes]:
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] not in _PREFIXES:
        raise DecryptionError("value is not in an encrypted form (gcm2:/siv2:, gcm1:/siv1:)")
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("encrypted value is not valid base64") from exc
    return parts[0], parts[1], blob


def is_encrypted(value: object) -> bool:
    """True when ``value`` has the shape of a value this module produced."""
    return isinstance(value, str) and value.startswith(tuple(p + ":" for p in _PREFIXES))


def key_id_of(stored: str) -> str:
    """The key id inside an encrypted value."""
    return _split(stored)[1]


def decrypt_value(stored: str, *, keys: KeyRing, aad: Aad, row_key: str | None = None) -> str:
    """Plaintext of one stored value.

    Args:
        aad: the value's ``Binding`` (a bare column name decrypts legacy forms only).
        row_key: the row's key (``_key_token`` in bronze/quarantine, the stored merge key
            in silver) for ``gcm2`` values.

    Raises:
        DecryptionError: not an encrypted value, moved from another place, or tampered.
        KeyMissingError: its key id is not in the ring for that purpose.
    """
    kind, key_id, blob = _split(stored)
    column = _column_of(aad)
    bound = kind in (GCM_PREFIX, SIV_PREFIX)
    if bound and not isinstance(aad, Binding):
        raise DecryptionError(
            f"a {kind} value of column '{column}' is bound to its client, dataset and row: "
            "decrypt it with its Binding (lakehouse.pii.domains.binding)"
        )
    try:
        if kind in (GCM_PREFIX, "gcm1"):
            key = keys.decryption_key(key_id, "encrypt")
            if len(blob) < _SALT + _NONCE + _TAG:
                raise DecryptionError("encrypted value is truncated")
            salt, nonce, sealed = blob[:_SALT], blob[_SALT : _SALT + _NONCE], blob[_SALT + _NONCE :]
            data = aad.gcm_aad(row_key) if isinstance(aad, Binding) and bound else column.encode()
            plain = _gcm_subkey(key, salt).decrypt(nonce, sealed, data)
        else:
            key = keys.decryption_key(key_id, "siv")
            parts = aad.siv_aad() if isinstance(aad, Binding) and bound else [column.encode()]
            plain = _siv(key).decrypt(blob, parts)
    except InvalidTag as exc:
        raise DecryptionError(
            f"authentication failed for a value of column '{column}' (key '{key_id}'): moved "
            "from another column, client or row, wrong key, or the value was altered"
        ) from exc
    return plain.decode("utf-8")


def decrypt_many(
    values: Sequence[str | None],
    *,
    keys: KeyRing,
    aad: Aad,
    row_keys: Sequence[str | None] | None = None,
) -> list[str | None]:
    """Decrypt a batch (NULL stays NULL; plain values that are not encrypted raise)."""
    rows = list(row_keys) if row_keys is not None else [None] * len(values)
    return [
        None if v is None else decrypt_value(v, keys=keys, aad=aad, row_key=r)
        for v, r in zip(values, rows, strict=True)
    ]


def reencrypt_many(
    values: Sequence[str | None],
    *,
    keys: KeyRing,
    aad: Binding,
    row_keys: Sequence[str | None] | None = None,
) -> tuple[list[str | None], int]:
    """Re-encrypt values that are not current; (values, changed).

    Not current: under a key that is no longer the active one of its kind, or in a legacy
    form (``gcm1``/``siv1``, column-only associated data), which moves to the bound form.
    GCM values move to the active encrypt key, SIV values to the active SIV key (which
    changes them, consistently for equal plaintexts). Values already current are kept.
    """
    rows = list(row_keys) if row_keys is not None else [None] * len(values)
    enc_id, enc_key = keys.active("encrypt")
    siv_id: str | None = keys.siv_key_id
    out: list[str | None] = list(values)
    stale: dict[str, list[int]] = {GCM_PREFIX: [], SIV_PREFIX: []}
    for index, value in enumerate(values):
        if value is None or not is_encrypted(value):
            continue
        kind, key_id, _ = _split(value)
        family = _LEGACY.get(kind, kind)
        current = enc_id if family == GCM_PREFIX else siv_id
        if kind in _LEGACY or key_id != current:
            stale[family].append(index)
    for family, indexes in stale.items():
        if not indexes:
            continue
        plain = [
            decrypt_value(str(values[i]), keys=keys, aad=aad, row_key=rows[i]) for i in indexes
        ]
        if family == GCM_PREFIX:
            new = gcm_encrypt_many(
                plain, key_id=enc_id, key=enc_key, aad=aad, row_keys=[rows[i] for i in indexes]
            )
        else:
            siv_key_id, siv_key = keys.active("siv")
            new = siv_encrypt_many(plain, key_id=siv_key_id, key=siv_key, aad=aad)
        for index, value in zip(indexes, new, strict=True):
            out[index] = value
    return out, sum(len(i) for i in stale.values())
