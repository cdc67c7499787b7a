"""AES-GCM and AES-SIV values: round trips, key ids, binding to client, dataset, column and
row, tampering, rotation, and legacy (column-only) values."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakehouse.errors import KeyMissingError
from lakehouse.pii.crypto import (
    DecryptionError,
    decrypt_many,
    decrypt_value,
    gcm_encrypt_many,
    is_encrypted,
    key_id_of,
    reencrypt_many,
    siv_encrypt_many,
)
from lakehouse.pii.domains import Binding
from lakehouse.pii.keys import KeyRing

TOKEN, ENC1, ENC2, SIV1, SIV2 = (bytes([i]) * 32 for i in range(1, 6))


def _ring(
    encrypt: str = "enc-1",
    old: tuple[str, ...] = (),
    siv: str = "siv-1",
    old_siv: tuple[str, ...] = (),
) -> KeyRing:
    return KeyRing(
        token_key_id="tok",
        keys={"tok": TOKEN, "enc-1": ENC1, "enc-2": ENC2, "siv-1": SIV1, "siv-2": SIV2},
        encrypt_key_id=encrypt,
        encrypt_old_key_ids=frozenset(old),
        siv_key_id=siv,
        siv_old_key_ids=frozenset(old_siv),
    )


def _place(column: str, client: str = "acme", row_domain: str | None = None) -> Binding:
    return Binding(client, "members", column, row_domain or client)


LAST_NAME, EMAIL, FIRST_NAME = _place("last_name"), _place("email"), _place("first_name")


def _gcm(
    values: list[str | None],
    ring: KeyRing,
    aad: Binding | str = LAST_NAME,
    rows: list[str | None] | None = None,
) -> list[str | None]:
    key_id, key = ring.active("encrypt")
    return gcm_encrypt_many(values, key_id=key_id, key=key, aad=aad, row_keys=rows)


def _siv(values: list[str | None], ring: KeyRing, aad: Binding | str = EMAIL) -> list[str | None]:
    key_id, key = ring.active("siv")
    return siv_encrypt_many(values, key_id=key_id, key=key, aad=aad)


VALUES = ["Lee", "", "O'Brien", "Zoë Ångström", "東京都", "x" * 10_000, "a:b:c", "gcm1:fake"]


def test_gcm_round_trip_and_format() -> None:
    ring = _ring()
    stored = _gcm([*VALUES, None], ring)
    assert stored[-1] is None
    for plain, value in zip(VALUES, stored, strict=False):
        assert value is not None and value.startswith("gcm2:enc-1:")
        assert is_encrypted(value) and key_id_of(value) == "enc-1"
        assert plain not in value.split(":", 2)[2] or plain == ""
        assert decrypt_value(value, keys=ring, aad=LAST_NAME) == plain
    assert decrypt_many(stored, keys=ring, aad=LAST_NAME) == [*VALUES, None]


def test_gcm_is_randomised_siv_is_deterministic() -> None:
    ring = _ring()
    first, second = _gcm(["Lee"], ring), _gcm(["Lee"], ring)
    assert first != second
    assert _siv(["a@example.org"], ring) == _siv(["a@example.org"], ring)
    assert _siv(["a@example.org"], ring) != _siv(["b@example.org"], ring)
    # Equal plaintext in another column is another value (AAD = column name).
    assert _siv(["a@example.org"], ring, aad=EMAIL) != _siv(
        ["a@example.org"], ring, aad=_place("x")
    )


def test_gcm_nonces_in_a_batch_are_distinct_slices_of_the_stored_layout() -> None:
    """One batch: one salt (its per-batch key), a distinct 12-byte nonce per value, and each
    value opens with its own row's binding (the AAD head plus that row's key)."""
    ring = _ring()
    rows: list[str | None] = [f"row-{i}" for i in range(999)] + [None]
    stored = _gcm(["Lee"] * 1000, ring, rows=rows)
    raw = [base64.b64decode(v.split(":", 2)[2]) for v in stored if v is not None]
    assert len({blob[:16] for blob in raw}) == 1
    assert len({blob[16:28] for blob in raw}) == 1000
    assert all(len(blob) == 16 + 12 + len("Lee") + 16 for blob in raw)
    assert decrypt_many(stored, keys=ring, aad=LAST_NAME, row_keys=rows) == ["Lee"] * 1000
    assert LAST_NAME.gcm_aad("row-1") == LAST_NAME.gcm_aad_head() + b"row-1"
    assert LAST_NAME.gcm_aad(None) == LAST_NAME.gcm_aad("") == LAST_NAME.gcm_aad_head()


def test_siv_round_trip() -> None:
    ring = _ring()
    stored = _siv([*VALUES, None], ring)
    assert all(v is None or v.startswith("siv2:siv-1:") for v in stored)
    assert decrypt_many(stored, keys=ring, aad=EMAIL) == [*VALUES, None]


@given(st.lists(st.one_of(st.none(), st.text(max_size=300)), max_size=30))
def test_property_round_trips(values: list[str | None]) -> None:
    ring = _ring()
    assert decrypt_many(_gcm(values, ring), keys=ring, aad=LAST_NAME) == values
    assert decrypt_many(_siv(values, ring), keys=ring, aad=EMAIL) == values


@pytest.mark.parametrize("kind", ["gcm", "siv"])
def test_value_is_bound_to_its_column(kind: str) -> None:
    ring = _ring()
    [value] = _gcm(["Lee"], ring) if kind == "gcm" else _siv(["Lee"], ring, aad=LAST_NAME)
    assert value is not None
    with pytest.raises(DecryptionError, match="column 'first_name'") as info:
        decrypt_value(value, keys=ring, aad=FIRST_NAME)
    assert "Lee" not in str(info.value)


def test_tampered_value_fails_authentication() -> None:
    ring = _ring()
    [value] = _gcm(["Lee"], ring)
    assert value is not None
    prefix, blob = value.rsplit(":", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    with pytest.raises(DecryptionError, match="authentication failed"):
        decrypt_value(f"{prefix}:{base64.b64encode(bytes(raw)).decode()}", keys=ring, aad=LAST_NAME)


@pytest.mark.parametrize(
    "value", ["Lee", "gcm2:enc-1:not base64!", "gcm2:enc-1:" + base64.b64encode(b"short").decode()]
)
def test_not_an_encrypted_value(value: str) -> None:
    with pytest.raises(DecryptionError):
        decrypt_value(value, keys=_ring(), aad=LAST_NAME)


def test_old_keys_decrypt_only_when_listed() -> None:
    old = _ring(encrypt="enc-1")
    [value] = _gcm(["Lee"], old)
    assert value is not None
    rotated = _ring(encrypt="enc-2", old=("enc-1",))
    assert decrypt_value(value, keys=rotated, aad=LAST_NAME) == "Lee"
    forgotten = _ring(encrypt="enc-2")
    with pytest.raises(KeyMissingError, match="'enc-1'") as info:
        decrypt_value(value, keys=forgotten, aad=LAST_NAME)
    assert "encrypt_old_key_ids" in str(info.value)


def test_a_token_key_cannot_decrypt() -> None:
    # Purpose binding: an id that names the token key is not an encryption key.
    ring = _ring()
    [value] = _gcm(["Lee"], ring)
    assert value is not None
    forged = value.replace("gcm2:enc-1:", "gcm2:tok:")
    with pytest.raises(KeyMissingError):
        decrypt_value(forged, keys=ring, aad=LAST_NAME)


def test_reencrypt_moves_only_stale_values() -> None:
    old = _ring(encrypt="enc-1", siv="siv-1")
    stale_gcm = _gcm(["Lee", None, "Ng"], old)
    stale_siv = _siv(["a@example.org"], old, aad=LAST_NAME)
    new = _ring(encrypt="enc-2", old=("enc-1",), siv="siv-2", old_siv=("siv-1",))
    current = _gcm(["Kim"], new)
    mixed = [*stale_gcm, *stale_siv, *current, "plain"]
    out, changed = reencrypt_many(mixed, keys=new, aad=LAST_NAME)
    assert changed == 3  # two GCM values, one SIV value; NULL, current and plain kept
    assert out[1] is None and out[4] == current[0] and out[5] == "plain"
    assert [key_id_of(v) for v in (out[0], out[2], out[3]) if v] == ["enc-2", "enc-2", "siv-2"]
    assert decrypt_many(out[:5], keys=new, aad=LAST_NAME) == [
        "Lee",
        None,
        "Ng",
        "a@example.org",
        "Kim",
    ]
    again, changed_again = reencrypt_many(out, keys=new, aad=LAST_NAME)
    assert changed_again == 0 and again == out


def test_per_batch_keys_differ() -> None:
    ring = _ring()
    first = _gcm(["a", "b"], ring)
    second = _gcm(["a", "b"], ring)
    salt = [base64.b64decode(str(v).rsplit(":", 1)[1])[:16] for v in (*first, *second)]
    assert salt[0] == salt[1] and salt[2] == salt[3] and salt[0] != salt[2]


# --- binding to client, dataset and row; legacy values -------------------------------------


def test_gcm_value_is_bound_to_client_dataset_and_row() -> None:
    ring = _ring()
    [value] = _gcm(["Lee"], ring, rows=["tok-ann"])
    assert value is not None
    assert decrypt_value(value, keys=ring, aad=LAST_NAME, row_key="tok-ann") == "Lee"
    for place, row in (
        (LAST_NAME, "tok-bo"),  # moved to another member's row
        (LAST_NAME, None),  # to a row without a key
        (_place("last_name", client="globex"), "tok-ann"),  # to another client
        (Binding("acme", "claims", "last_name", "acme"), "tok-ann"),  # to another dataset
    ):
        with pytest.raises(DecryptionError, match="authentication failed"):
            decrypt_value(value, keys=ring, aad=place, row_key=row)


def test_siv_is_bound_to_client_not_row_unless_a_domain_is_shared() -> None:
    ring = _ring()
    acme = _siv(["a@example.org"], ring, aad=_place("email"))
    globex = _siv(["a@example.org"], ring, aad=_place("email", client="globex"))
    assert acme != globex  # the same e-mail in two clients cannot be linked
    linked_a = _siv(["a@example.org"], ring, aad=_place("email", "acme", "shared:members"))
    linked_g = _siv(["a@example.org"], ring, aad=_place("email", "globex", "shared:members"))
    assert linked_a == linked_g  # ... unless both opt in to one shared domain
    with pytest.raises(DecryptionError):
        decrypt_value(str(acme[0]), keys=ring, aad=_place("email", client="globex"))


def test_legacy_values_still_decrypt_and_rotation_upgrades_them() -> None:
    ring = _ring()
    legacy_gcm = _gcm(["Lee"], ring, aad="last_name")
    legacy_siv = _siv(["a@example.org"], ring, aad="last_name")
    assert str(legacy_gcm[0]).startswith("gcm1:") and str(legacy_siv[0]).startswith("siv1:")
    for value, plain in ((legacy_gcm[0], "Lee"), (legacy_siv[0], "a@example.org")):
        assert decrypt_value(str(value), keys=ring, aad=LAST_NAME, row_key="tok") == plain
    out, changed = reencrypt_many(
        [*legacy_gcm, *legacy_siv], keys=ring, aad=LAST_NAME, row_keys=["tok", "tok"]
    )
    assert changed == 2 and [str(v)[:5] for v in out] == ["gcm2:", "siv2:"]
    assert decrypt_many(out, keys=ring, aad=LAST_NAME, row_keys=["tok", "tok"]) == [
        "Lee",
        "a@example.org",
    ]


def test_a_bound_value_needs_its_binding() -> None:
    ring = _ring()
    [value] = _gcm(["Lee"], ring)
    with pytest.raises(DecryptionError, match="bound to its client"):
        decrypt_value(str(value), keys=ring, aad="last_name")
