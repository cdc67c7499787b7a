"""A run with another token key than silver's refuses to start, naming both ids and the fix."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.cli import main
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.pii.key_check import (
    TokenDomainMismatchError,
    TokenKeyMismatchError,
    check_token_key,
    commit_key_metadata,
    recorded_token_key,
)
from lakehouse.pii.keys import KEY_FILE_ENV, TOKEN_KEY_ENV, KeyRing, fingerprint

ENGINE = DeltaRsEngine()
OLD, NEW = bytes(range(1, 33)), bytes(range(101, 133))
REPO = Path(__file__).resolve().parents[3]


def _settings(tmp_path: Path) -> Settings:
    return Settings(lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing")


def _commit(settings: Settings, metadata: dict[str, str], dataset: str = "members") -> None:
    rows = pa.table({"client_id": ["acme"], "member_id": ["t"]})
    path = settings.table_path("silver", dataset)
    ENGINE.append(path, rows, partition_by=["client_id"], metadata=metadata)


def _env_ring(key: bytes) -> KeyRing:
    return KeyRing.from_environment({TOKEN_KEY_ENV: key.hex()})


def test_a_changed_env_token_key_refuses_to_start(
    tmp_path: Path, clients: dict[str, ClientConfig]
) -> None:
    settings = _settings(tmp_path)
    old = _env_ring(OLD)
    _commit(settings, {"token_key_id": old.token_key_id, "run_id": "r1"})  # as process.py does
    _commit(settings, {"lakehouse_operation": "forget"})  # commits without a key record
    check_token_key(ENGINE, settings, clients.values(), old)  # same key: fine
    new = _env_ring(NEW)
    with pytest.raises(TokenKeyMismatchError) as info:
        check_token_key(ENGINE, settings, clients.values(), new)
    message = str(info.value)
    assert new.token_key_id in message and old.token_key_id in message
    assert "silver/members" in message and "version 0" in message
    assert "lakehouse backfill --client acme" in message and "--source archive" in message
    assert OLD.hex() not in message and NEW.hex() not in message


def test_a_file_key_changed_under_the_same_id_is_caught_by_its_fingerprint(
    tmp_path: Path, clients: dict[str, ClientConfig]
) -> None:
    settings = _settings(tmp_path)
    before = KeyRing(token_key_id="tok-1", keys={"tok-1": OLD})
    _commit(settings, commit_key_metadata(before))
    recorded = recorded_token_key(ENGINE, settings, "members")
    assert recorded is not None and recorded.fingerprint == fingerprint(OLD)
    after = KeyRing(token_key_id="tok-1", keys={"tok-1": NEW})
    with pytest.raises(TokenKeyMismatchError, match="'tok-1'"):
        check_token_key(ENGINE, settings, clients.values(), after)


def test_same_key_under_another_id_is_accepted(
    tmp_path: Path, clients: dict[str, ClientConfig]
) -> None:
    settings = _settings(tmp_path)
    _commit(settings, {"token_key_id": "tok-1"})  # recorded without a fingerprint
    # The key moved from the file to the environment: same bytes, the ring still holds tok-1.
    moved = KeyRing(
        token_key_id=f"env-token-{fingerprint(OLD)}",
        keys={"tok-1": OLD, f"env-token-{fingerprint(OLD)}": OLD},
    )
    check_token_key(ENGINE, settings, clients.values(), moved)
    # An env id recorded earlier is compared through the fingerprint it carries.
    _commit(settings, {"token_key_id": f"env-token-{fingerprint(OLD)}"})
    check_token_key(ENGINE, settings, clients.values(), KeyRing("tok-1", {"tok-1": OLD}))
    with pytest.raises(TokenKeyMismatchError):
        check_token_key(ENGINE, settings, clients.values(), KeyRing("tok-1", {"tok-1": NEW}))


def test_no_silver_or_legacy_record_does_not_block(
    tmp_path: Path, clients: dict[str, ClientConfig], caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    check_token_key(ENGINE, settings, clients.values(), _env_ring(NEW))  # no silver yet
    _commit(settings, {"token_key_id": "env"})  # older lakehouse: no fingerprint anywhere
    with caplog.at_level(logging.WARNING, logger="lakehouse.pii.key_check"):
        check_token_key(ENGINE, settings, clients.values(), _env_ring(NEW))
    assert "cannot check it" in caplog.text


def test_ingest_command_refuses_before_spark_starts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = _settings(tmp_path)
    _commit(settings, {"token_key_id": _env_ring(OLD).token_key_id})
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(TOKEN_KEY_ENV, NEW.hex())

    def no_spark(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run must not start")

    monkeypatch.setattr("lakehouse.ingest.stream.run_ingest", no_spark)
    argv = [
        "ingest",
        "--lake-root",
        str(settings.lake_root),
        "--clients-dir",
        str(REPO / "clients"),
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "is not the key silver/members was tokenised with" in err
    assert NEW.hex() not in err and json.dumps(OLD.hex()) not in err


def test_a_changed_token_domain_refuses_to_start(
    tmp_path: Path, clients: dict[str, ClientConfig]
) -> None:
    settings = _settings(tmp_path)
    ring = _env_ring(OLD)
    acme = clients["acme"]
    # A commit of a lakehouse from before domains were bound: column-only (legacy) tokens.
    _commit(settings, {"token_key_id": ring.token_key_id, "source_file": "acme_2026-01-05.csv"})
    with pytest.raises(TokenDomainMismatchError) as info:
        check_token_key(ENGINE, settings, [acme], ring)
    assert "'client'" in str(info.value) and "'legacy'" in str(info.value)
    assert info.value.fix is not None and "token_domain: _legacy" in info.value.fix
    assert "--source archive" in info.value.fix
    legacy = acme.model_copy(update={"token_domain": "_legacy"})
    check_token_key(ENGINE, settings, [legacy], ring)  # kept: runs
    check_token_key(ENGINE, settings, [clients["globex"]], ring)  # another client: no record
    # Recorded per client since domains are bound; a later switch to a shared domain is caught.
    _commit(
        settings, {"token_key_id": ring.token_key_id, "client_id": "acme", "token_domain": "client"}
    )
    check_token_key(ENGINE, settings, [acme], ring)
    shared = acme.model_copy(update={"token_domain": "network"})
    with pytest.raises(TokenDomainMismatchError, match="'shared:network'"):
        check_token_key(ENGINE, settings, [shared], ring)
