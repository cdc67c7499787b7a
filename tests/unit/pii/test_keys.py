"""The key ring: keys come from the environment or a key file, never show, and fail loudly."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from lakehouse.errors import KeyMissingError, LakehouseError
from lakehouse.pii.keys import (
    KEY_FILE_ENV,
    MIN_KEY_BYTES,
    TOKEN_KEY_ENV,
    KeyRing,
    create_dev_key_file,
    fingerprint,
)

ENV_KEY = bytes(range(100, 132))
FILE_KEY = bytes(range(200, 240))
OLD_KEY = bytes(range(0, 32))


def _key_file(directory: Path, payload: object, name: str = "keys.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(payload), encoding="utf-8")
    path.chmod(0o600)
    return path


def _good_file(directory: Path) -> Path:
    return _key_file(
        directory,
        {
            "token_key_id": "tok-2026-01",
            "keys": {"tok-2026-01": FILE_KEY.hex(), "old": OLD_KEY.hex()},
        },
    )


def _missing(environ: dict[str, str]) -> KeyMissingError:
    with pytest.raises(KeyMissingError) as info:
        KeyRing.from_environment(environ)
    assert isinstance(info.value, LakehouseError)
    assert info.value.fix is not None
    assert TOKEN_KEY_ENV in info.value.fix and KEY_FILE_ENV in info.value.fix
    return info.value


ENV_ID = f"env-token-{fingerprint(ENV_KEY)}"


def test_env_key() -> None:
    ring = KeyRing.from_environment({TOKEN_KEY_ENV: ENV_KEY.hex()})
    assert ring.token_key_id == ENV_ID and len(ENV_ID) == len("env-token-") + 8
    assert ring.token_key == ENV_KEY
    assert dict(ring.keys) == {ENV_ID: ENV_KEY}
    other = KeyRing.from_environment({TOKEN_KEY_ENV: FILE_KEY.hex()})
    assert other.token_key_id != ENV_ID  # another key, another id


@pytest.mark.parametrize(
    "spelling",
    [ENV_KEY.hex().upper(), f"  {ENV_KEY.hex()}\n", ENV_KEY.hex(" ")],
    ids=["upper-case", "surrounding-whitespace", "spaced-bytes"],
)
def test_env_key_spellings(spelling: str) -> None:
    # `cat key.hex` leaves a newline; bytes.fromhex accepts case and spaces between bytes.
    assert KeyRing.from_environment({TOKEN_KEY_ENV: spelling}).token_key == ENV_KEY


def test_key_file_json_format(tmp_path: Path) -> None:
    ring = KeyRing.from_environment({KEY_FILE_ENV: str(_good_file(tmp_path))})
    assert ring.token_key_id == "tok-2026-01"
    assert ring.token_key == FILE_KEY
    assert dict(ring.keys) == {"tok-2026-01": FILE_KEY, "old": OLD_KEY}


def test_env_key_overrides_the_file_token_key(tmp_path: Path) -> None:
    ring = KeyRing.from_environment(
        {KEY_FILE_ENV: str(_good_file(tmp_path)), TOKEN_KEY_ENV: ENV_KEY.hex()}
    )
    assert ring.token_key_id == ENV_ID
    assert ring.token_key == ENV_KEY
    # The file's other keys stay available (e.g. to read data tokenised with an old key).
    assert dict(ring.keys) == {"tok-2026-01": FILE_KEY, "old": OLD_KEY, ENV_ID: ENV_KEY}


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(TOKEN_KEY_ENV, ENV_KEY.hex())
    assert KeyRing.from_environment().token_key == ENV_KEY


@pytest.mark.parametrize(
    "environ",
    [{}, {TOKEN_KEY_ENV: ""}, {KEY_FILE_ENV: ""}, {"OTHER": "x"}],
    ids=["nothing", "empty-key", "empty-file", "unrelated"],
)
def test_missing_key_names_both_variables(environ: dict[str, str]) -> None:
    err = _missing(environ)
    assert f"neither {TOKEN_KEY_ENV} nor {KEY_FILE_ENV} is set" in err.message
    assert "refuses to process PII" in err.message


@pytest.mark.parametrize("size", [1, 16, MIN_KEY_BYTES - 1])
def test_env_key_too_short(size: int) -> None:
    err = _missing({TOKEN_KEY_ENV: bytes(range(size)).hex()})
    assert err.message == (
        f"{TOKEN_KEY_ENV} is {size} bytes; at least {MIN_KEY_BYTES} are required"
    )


def test_env_key_of_exactly_the_minimum_length() -> None:
    key = bytes(range(1, MIN_KEY_BYTES + 1))
    assert KeyRing.from_environment({TOKEN_KEY_ENV: key.hex()}).token_key == key


@pytest.mark.parametrize(
    "value",
    ["zz" * 32, ENV_KEY.hex()[:-1], "0x" + ENV_KEY.hex(), "secret-passphrase-" * 4],
    ids=["non-hex-digits", "odd-length", "0x-prefix", "passphrase"],
)
def test_env_key_not_hex(value: str) -> None:
    err = _missing({TOKEN_KEY_ENV: value})
    assert err.message == f"{TOKEN_KEY_ENV} is not hex"
    assert value.strip() not in str(err)  # the rejected secret is not echoed


def test_file_key_too_short(tmp_path: Path) -> None:
    path = _key_file(tmp_path, {"token_key_id": "k", "keys": {"k": bytes(31).hex()}})
    err = _missing({KEY_FILE_ENV: str(path)})
    assert err.message == f"key 'k' in {KEY_FILE_ENV} is 31 bytes; at least 32 are required"


def test_file_key_not_hex(tmp_path: Path) -> None:
    path = _key_file(tmp_path, {"token_key_id": "k", "keys": {"k": "not hex at all"}})
    err = _missing({KEY_FILE_ENV: str(path)})
    assert err.message == f"key 'k' in {KEY_FILE_ENV} is not hex"
    assert "not hex at all" not in str(err)


def test_a_weak_non_token_key_in_the_file_is_refused_too(tmp_path: Path) -> None:
    path = _key_file(
        tmp_path, {"token_key_id": "k", "keys": {"k": FILE_KEY.hex(), "old": "00" * 8}}
    )
    assert "key 'old'" in _missing({KEY_FILE_ENV: str(path)}).message


@pytest.mark.parametrize("kind", ["missing", "directory", "not-json", "empty"])
def test_unreadable_key_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "keys.json"
    if kind == "directory":
        path.mkdir()
    elif kind == "not-json":
        path.write_text("token_key_id: k\n", encoding="utf-8")
        path.chmod(0o600)
    elif kind == "empty":
        path.write_text("", encoding="utf-8")
        path.chmod(0o600)
    err = _missing({KEY_FILE_ENV: str(path)})
    assert err.message.startswith(f"key file named by {KEY_FILE_ENV} cannot be read (")
    assert isinstance(err.__cause__, OSError | ValueError)


def test_unreadable_key_file_is_not_rescued_by_env_key(tmp_path: Path) -> None:
    # A configured but broken key file is an error even when the env key could be used.
    with pytest.raises(KeyMissingError, match="cannot be read"):
        KeyRing.from_environment(
            {KEY_FILE_ENV: str(tmp_path / "nope.json"), TOKEN_KEY_ENV: ENV_KEY.hex()}
        )


@pytest.mark.parametrize(
    "payload",
    [[FILE_KEY.hex()], {"token_key_id": "k"}, {"token_key_id": "k", "keys": [FILE_KEY.hex()]}],
    ids=["list", "no-keys", "keys-not-a-mapping"],
)
def test_key_file_without_keys_mapping(tmp_path: Path, payload: object) -> None:
    err = _missing({KEY_FILE_ENV: str(_key_file(tmp_path, payload))})
    assert err.message == f"key file named by {KEY_FILE_ENV} has no 'keys' mapping"


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"token_key_id": "tok-2026-02", "keys": {"tok-2026-01": FILE_KEY.hex()}}, "tok-2026-02"),
        ({"keys": {"tok-2026-01": FILE_KEY.hex()}}, ""),
        ({"token_key_id": "k", "keys": {}}, "k"),
    ],
    ids=["unknown-id", "no-id", "no-keys"],
)
def test_token_key_id_not_in_keys(tmp_path: Path, payload: object, named: str) -> None:
    err = _missing({KEY_FILE_ENV: str(_key_file(tmp_path, payload))})
    assert err.message == f"key file's token_key_id '{named}' is not among its keys"


def test_repr_and_str_hide_key_material(tmp_path: Path) -> None:
    ring = KeyRing.from_environment(
        {KEY_FILE_ENV: str(_good_file(tmp_path)), TOKEN_KEY_ENV: ENV_KEY.hex()}
    )
    for text in (repr(ring), str(ring), f"{ring}"):
        assert text == f"KeyRing(token_key_id='{ENV_ID}')"
        for key in (ENV_KEY, FILE_KEY, OLD_KEY):
            assert key.hex() not in text.lower()
            assert repr(key) not in text
            assert repr(key)[2:20] not in text


def test_keyring_is_frozen(keys: KeyRing) -> None:
    with pytest.raises(AttributeError):
        keys.token_key_id = "other"  # type: ignore[misc]


# --- the development key file -------------------------------------------------------------


def test_create_dev_key_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "nested" / "dev-keys.json"
    assert create_dev_key_file(path) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["token_key_id"] == "dev-1"
    # Every key in the file (token, and any other purpose) is random and long enough.
    assert data["keys"] and all(len(bytes.fromhex(k)) == 32 for k in data["keys"].values())
    assert len(set(data["keys"].values())) == len(data["keys"])
    ring = KeyRing.from_environment({KEY_FILE_ENV: str(path)})
    assert ring.token_key_id == "dev-1"
    assert ring.token_key == bytes.fromhex(data["keys"]["dev-1"])


def test_create_dev_key_file_does_not_overwrite(tmp_path: Path) -> None:
    path = create_dev_key_file(tmp_path / "dev-keys.json")
    first = path.read_bytes()
    assert create_dev_key_file(path) == path
    assert path.read_bytes() == first
    other = _good_file(tmp_path)
    before = other.read_bytes()
    create_dev_key_file(other)
    assert other.read_bytes() == before


def test_create_dev_key_file_gives_fresh_keys(tmp_path: Path) -> None:
    a = json.loads(create_dev_key_file(tmp_path / "a.json").read_text(encoding="utf-8"))
    b = json.loads(create_dev_key_file(tmp_path / "b.json").read_text(encoding="utf-8"))
    assert a["keys"]["dev-1"] != b["keys"]["dev-1"]


def test_create_dev_key_file_warns_without_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lakehouse.pii.keys"):
        path = create_dev_key_file(tmp_path / "dev-keys.json")
    key_hex = json.loads(path.read_text(encoding="utf-8"))["keys"]["dev-1"]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "DEVELOPMENT key file" in record.getMessage()
    assert record.key_file == str(path)  # type: ignore[attr-defined]
    assert key_hex not in caplog.text


# --- weak key setups are refused ------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640, 0o604, 0o620])
def test_key_file_readable_or_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = _good_file(tmp_path)
    path.chmod(mode)
    with pytest.raises(KeyMissingError) as info:
        KeyRing.from_environment({KEY_FILE_ENV: str(path)})
    assert f"mode {mode:04o}" in info.value.message and str(path) in info.value.message
    assert info.value.fix == f"chmod 600 {path}"
    assert FILE_KEY.hex() not in str(info.value)
    path.chmod(0o400)  # read-only for the owner is fine
    assert KeyRing.from_environment({KEY_FILE_ENV: str(path)}).token_key == FILE_KEY


def test_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    real = _good_file(tmp_path)
    link = tmp_path / "current-keys.json"
    link.symlink_to(real)
    with pytest.raises(KeyMissingError, match="symbolic link") as info:
        KeyRing.from_environment({KEY_FILE_ENV: str(link)})
    assert info.value.fix is not None and KEY_FILE_ENV in info.value.fix


def test_all_zero_key_is_refused(tmp_path: Path) -> None:
    err = _missing({TOKEN_KEY_ENV: bytes(MIN_KEY_BYTES).hex()})
    assert err.message == f"{TOKEN_KEY_ENV} is all zero bytes (a placeholder, not a secret)"
    path = _key_file(tmp_path, {"token_key_id": "k", "keys": {"k": "00" * 40}})
    with pytest.raises(KeyMissingError, match=r"key 'k' in \S+ is all zero bytes"):
        KeyRing.from_environment({KEY_FILE_ENV: str(path)})


def test_same_key_for_two_purposes_is_refused(tmp_path: Path) -> None:
    from lakehouse.pii.keys import ENCRYPT_KEY_ENV, SIV_KEY_ENV

    with pytest.raises(KeyMissingError, match="same key serves two purposes") as info:
        KeyRing.from_environment({TOKEN_KEY_ENV: ENV_KEY.hex(), ENCRYPT_KEY_ENV: ENV_KEY.hex()})
    assert ENV_ID in info.value.message and ENV_KEY.hex() not in str(info.value)
    with pytest.raises(KeyMissingError, match="'enc-1' and siv key 'siv-1'"):
        KeyRing.from_environment(
            {
                KEY_FILE_ENV: str(
                    _key_file(
                        tmp_path,
                        {
                            "token_key_id": "tok",
                            "encrypt_key_id": "enc-1",
                            "siv_key_id": "siv-1",
                            "keys": {
                                "tok": FILE_KEY.hex(),
                                "enc-1": OLD_KEY.hex(),
                                "siv-1": OLD_KEY.hex(),
                            },
                        },
                    )
                )
            }
        )
    # An old encrypt key equal to the env SIV key is a reuse too.
    path = _key_file(
        tmp_path,
        {
            "token_key_id": "tok",
            "encrypt_key_id": "enc-2",
            "encrypt_old_key_ids": ["enc-1"],
            "keys": {"tok": FILE_KEY.hex(), "enc-1": OLD_KEY.hex(), "enc-2": ENV_KEY.hex()},
        },
        name="old.json",
    )
    with pytest.raises(KeyMissingError, match="two purposes"):
        KeyRing.from_environment({KEY_FILE_ENV: str(path), SIV_KEY_ENV: OLD_KEY.hex()})


def test_key_variables_are_hidden_while_spark_starts() -> None:
    from lakehouse.pii.keys import KEY_ENV_VARS, key_environment_removed

    environ = {TOKEN_KEY_ENV: ENV_KEY.hex(), "LAKEHOUSE_ENCRYPT_KEY": "x", "PATH": "/bin"}
    with key_environment_removed(environ):
        assert not set(KEY_ENV_VARS) & set(environ) and environ["PATH"] == "/bin"
    assert environ[TOKEN_KEY_ENV] == ENV_KEY.hex() and environ["LAKEHOUSE_ENCRYPT_KEY"] == "x"
