"""Key ring purposes: encrypt and SIV keys from env or key file, old ids, clear refusals."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lakehouse.errors import KeyMissingError
from lakehouse.pii.keys import (
    ENCRYPT_KEY_ENV,
    KEY_FILE_ENV,
    SIV_KEY_ENV,
    TOKEN_KEY_ENV,
    KeyRing,
    create_dev_key_file,
)

TOKEN, ENC_NEW, ENC_OLD, SIV = (bytes([i]) * 32 for i in (7, 8, 9, 10))


def _file(tmp_path: Path, **extra: object) -> Path:
    payload = {
        "token_key_id": "tok-1",
        "encrypt_key_id": "enc-2",
        "encrypt_old_key_ids": ["enc-1"],
        "siv_key_id": "siv-1",
        "keys": {
            "tok-1": TOKEN.hex(),
            "enc-2": ENC_NEW.hex(),
            "enc-1": ENC_OLD.hex(),
            "siv-1": SIV.hex(),
        },
        **extra,
    }
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    path.chmod(0o600)
    return path


def test_key_file_purposes(tmp_path: Path) -> None:
    ring = KeyRing.from_environment({KEY_FILE_ENV: str(_file(tmp_path))})
    assert ring.active("token") == ("tok-1", TOKEN)
    assert ring.active("encrypt") == ("enc-2", ENC_NEW)
    assert ring.active("siv") == ("siv-1", SIV)
    assert ring.encrypt_old_key_ids == frozenset({"enc-1"})
    assert ring.decryption_key("enc-1", "encrypt") == ENC_OLD
    ring.require({"token", "encrypt", "siv"})


def test_env_keys_get_fingerprint_ids() -> None:
    ring = KeyRing.from_environment(
        {TOKEN_KEY_ENV: TOKEN.hex(), ENCRYPT_KEY_ENV: ENC_NEW.hex(), SIV_KEY_ENV: SIV.hex()}
    )
    enc_id, key = ring.active("encrypt")
    assert key == ENC_NEW and enc_id.startswith("env-encrypt-") and len(enc_id) == 20
    other = KeyRing.from_environment({TOKEN_KEY_ENV: TOKEN.hex(), ENCRYPT_KEY_ENV: ENC_OLD.hex()})
    assert other.active("encrypt")[0] != enc_id  # another key, another id: never confused
    assert ring.active("siv")[0].startswith("env-siv-")
    assert ENC_NEW.hex() not in enc_id


def test_env_encrypt_key_overrides_file_and_keeps_old_ids(tmp_path: Path) -> None:
    ring = KeyRing.from_environment(
        {KEY_FILE_ENV: str(_file(tmp_path)), ENCRYPT_KEY_ENV: bytes([3] * 40).hex()}
    )
    assert ring.active("encrypt")[1] == bytes([3] * 40)
    assert ring.decryption_key("enc-1", "encrypt") == ENC_OLD


@pytest.mark.parametrize(("purpose", "env"), [("encrypt", ENCRYPT_KEY_ENV), ("siv", SIV_KEY_ENV)])
def test_missing_purpose_names_its_env_var(purpose: str, env: str) -> None:
    ring = KeyRing.from_environment({TOKEN_KEY_ENV: TOKEN.hex()})
    with pytest.raises(KeyMissingError) as info:
        ring.require({"token", purpose})  # type: ignore[arg-type]
    assert env in str(info.value) and KEY_FILE_ENV in str(info.value)
    assert "refuses to process PII" in info.value.message


@pytest.mark.parametrize("env", [ENCRYPT_KEY_ENV, SIV_KEY_ENV])
def test_short_purpose_key_is_refused(env: str) -> None:
    with pytest.raises(KeyMissingError, match=f"{env} is 16 bytes"):
        KeyRing.from_environment({TOKEN_KEY_ENV: TOKEN.hex(), env: bytes(16).hex()})


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"encrypt_key_id": "nope"}, "encrypt_key_id 'nope' is not among its keys"),
        ({"siv_key_id": "nope"}, "siv_key_id 'nope' is not among its keys"),
        ({"encrypt_old_key_ids": ["gone"]}, "name keys it does not hold: gone"),
        ({"encrypt_old_key_ids": "enc-1"}, "must be a list"),
    ],
)
def test_key_file_purpose_errors(tmp_path: Path, extra: dict[str, object], message: str) -> None:
    with pytest.raises(KeyMissingError, match=message):
        KeyRing.from_environment({KEY_FILE_ENV: str(_file(tmp_path, **extra))})


def test_key_ids_must_fit_in_values(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps({"token_key_id": "a:b", "keys": {"a:b": TOKEN.hex()}}), encoding="utf-8"
    )
    path.chmod(0o600)
    with pytest.raises(KeyMissingError, match="is not 1-64 of"):
        KeyRing.from_environment({KEY_FILE_ENV: str(path)})


def test_repr_hides_purpose_ids_and_keys(tmp_path: Path) -> None:
    ring = KeyRing.from_environment({KEY_FILE_ENV: str(_file(tmp_path))})
    assert repr(ring) == "KeyRing(token_key_id='tok-1')"


def test_dev_key_file_has_every_purpose(tmp_path: Path) -> None:
    path = create_dev_key_file(tmp_path / "dev.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ring = KeyRing.from_environment({KEY_FILE_ENV: str(path)})
    ring.require({"token", "encrypt", "siv"})
    assert len({ring.token_key, ring.active("encrypt")[1], ring.active("siv")[1]}) == 3


def test_old_dev_key_file_is_upgraded_keeping_its_token_key(tmp_path: Path) -> None:
    path = tmp_path / "dev.json"
    path.write_text(
        json.dumps({"token_key_id": "dev-1", "keys": {"dev-1": TOKEN.hex()}}), encoding="utf-8"
    )
    path.chmod(0o600)
    create_dev_key_file(path)
    ring = KeyRing.from_environment({KEY_FILE_ENV: str(path)})
    assert ring.token_key == TOKEN  # demo tokens do not change
    ring.require({"encrypt", "siv"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_real_key_files_are_never_modified(tmp_path: Path) -> None:
    path = tmp_path / "real.json"
    path.write_text(
        json.dumps({"token_key_id": "tok-1", "keys": {"tok-1": TOKEN.hex()}}), encoding="utf-8"
    )
    before = path.read_bytes()
    create_dev_key_file(path)
    assert path.read_bytes() == before
