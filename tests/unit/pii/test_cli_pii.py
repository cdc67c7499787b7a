"""``lakehouse keys``, ``decrypt`` and ``forget``: arguments, refusals, no key material shown."""

from __future__ import annotations

import pytest

from lakehouse.cli import build_parser, main
from lakehouse.pii.keys import ENCRYPT_KEY_ENV, KEY_FILE_ENV, SIV_KEY_ENV, TOKEN_KEY_ENV

TOKEN = "ab" * 32


@pytest.fixture(autouse=True)
def _only_token_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (KEY_FILE_ENV, ENCRYPT_KEY_ENV, SIV_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(TOKEN_KEY_ENV, TOKEN)


def test_commands_are_registered() -> None:
    parser = build_parser()
    args = parser.parse_args(["keys", "rotate", "--client", "acme", "--dry-run"])
    assert (args.client, args.dry_run) == (["acme"], True)
    args = parser.parse_args(
        ["decrypt", "--client", "acme", "--table", "quarantine", "--reason", "INC-1"]
    )
    assert (args.table, args.limit, args.reason) == ("quarantine", 100, "INC-1")
    args = parser.parse_args(["forget", "--client", "acme", "--key", "AC0000001", "--dry-run"])
    assert args.key == ["AC0000001"] and not args.yes


def test_decrypt_requires_a_reason() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["decrypt", "--client", "acme", "--table", "silver"])


def test_forget_requires_confirmation(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forget", "--client", "acme", "--key", "AC0000001"]) == 1
    err = capsys.readouterr().err
    assert "--yes" in err and "AC0000001" not in err


def test_keys_status_shows_ids_never_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "status"]) == 0
    out = capsys.readouterr().out
    assert "token    env" in out and ENCRYPT_KEY_ENV in out
    assert TOKEN not in out.lower()


def test_rotate_refuses_without_an_encrypt_key(
    capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    assert main(["keys", "rotate", "--lake-root", str(tmp_path)]) == 1
    assert ENCRYPT_KEY_ENV in capsys.readouterr().err
