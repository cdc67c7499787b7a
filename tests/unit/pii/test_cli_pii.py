"""``lakehouse keys``, ``decrypt`` and ``forget``: arguments, refusals, no key material shown."""

from __future__ import annotations

import io
import sys

import pytest

from lakehouse.cli import build_parser, main
from lakehouse.errors import LakehouseError
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
    assert "token    env-token-" in out and ENCRYPT_KEY_ENV in out
    assert TOKEN not in out.lower()


def test_rotate_refuses_without_an_encrypt_key(
    capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    assert main(["keys", "rotate", "--lake-root", str(tmp_path)]) == 1
    assert ENCRYPT_KEY_ENV in capsys.readouterr().err


def test_forget_reads_the_raw_key_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakehouse.cli import pii as cli_pii

    args = build_parser().parse_args(["forget", "--client", "acme", "--key-stdin", "--dry-run"])
    monkeypatch.setattr("sys.stdin", io.StringIO("AC0000001\n"))
    assert cli_pii._raw_key(args, required=True) == ["AC0000001"]
    assert "AC0000001" not in " ".join(sys.argv)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    with pytest.raises(LakehouseError, match="read no key"):
        cli_pii._raw_key(args, required=True)
    both = build_parser().parse_args(
        ["forget", "--client", "acme", "--key", "A", "--key-stdin", "--dry-run"]
    )
    with pytest.raises(LakehouseError, match="not both"):
        cli_pii._raw_key(both, required=True)
    none = build_parser().parse_args(["forget", "--client", "acme", "--dry-run"])
    assert main(["forget", "--client", "acme", "--dry-run"]) == 1
    assert "--key-stdin" in capsys.readouterr().err
    assert cli_pii._raw_key(none, required=False) is None
