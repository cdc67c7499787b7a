"""``lakehouse keys``, ``decrypt`` and ``forget``: arguments, refusals, no key material shown."""

from __future__ import annotations

import csv
import io
import os
import pwd
import stat
import sys
from pathlib import Path

import pytest

from lakehouse.audit import PiiEvent
from lakehouse.cli import build_parser, main
from lakehouse.errors import LakehouseError
from lakehouse.pii.keys import ENCRYPT_KEY_ENV, KEY_FILE_ENV, SIV_KEY_ENV, TOKEN_KEY_ENV

TOKEN = "ab" * 32
REPO = Path(__file__).resolve().parents[3]


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
    assert cli_pii.raw_key_of(args, required=True) == ["AC0000001"]
    assert "AC0000001" not in " ".join(sys.argv)
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    with pytest.raises(LakehouseError, match="read no key"):
        cli_pii.raw_key_of(args, required=True)
    both = build_parser().parse_args(
        ["forget", "--client", "acme", "--key", "A", "--key-stdin", "--dry-run"]
    )
    with pytest.raises(LakehouseError, match="not both"):
        cli_pii.raw_key_of(both, required=True)
    none = build_parser().parse_args(["forget", "--client", "acme", "--dry-run"])
    assert main(["forget", "--client", "acme", "--dry-run"]) == 1
    assert "--key-stdin" in capsys.readouterr().err
    assert cli_pii.raw_key_of(none, required=False) is None


# --- decrypt: who, why, recorded first, safe export ------------------------------------------


def test_decrypt_user_comes_from_the_uid_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lakehouse.cli import pii as cli_pii

    monkeypatch.setenv("USER", "dr_alice")
    monkeypatch.setenv("LOGNAME", "dr_alice")
    monkeypatch.setenv("LNAME", "dr_alice")
    assert cli_pii.user_name() == pwd.getpwuid(os.getuid()).pw_name != "dr_alice"


@pytest.mark.parametrize("reason", ["x", "t-2", "   ", "because", "aaaaaaaaaaaaaaaa", "123-4"])
def test_decrypt_refuses_a_reason_that_says_nothing(
    reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["decrypt", "--client", "acme", "--table", "silver", "--reason", reason]
    assert main(argv) == 1
    assert "--reason must say why" in capsys.readouterr().err


@pytest.mark.parametrize(
    "reason", ["INC-1234", "SEC-7", "  restore member address for claim appeal  "]
)
def test_decrypt_accepts_a_ticket_or_a_sentence(reason: str) -> None:
    from lakehouse.pii.export import check_reason

    assert check_reason(reason) == reason.strip()


def _revealed() -> object:
    import pyarrow as pa

    from lakehouse.pii.access import Revealed

    table = pa.table(
        {
            "member_id": ["=cmd|'/c calc'!a0", "AC0000002"],
            "email": ["-2+3+cmd|' /C calc'!A0", "bo@example.org"],
            "n": [-5, 7],
        }
    )
    return Revealed(table=table, columns=["email"], key_ids=["enc-1"])


def test_decrypt_records_the_event_before_revealing_anything(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakehouse.cli import pii as cli_pii

    monkeypatch.setenv(ENCRYPT_KEY_ENV, "cd" * 32)
    monkeypatch.setattr("lakehouse.pii.access.reveal", lambda *a, **k: _revealed())
    output = tmp_path / "out.csv"
    seen: list[tuple[str, str, int]] = []

    def append(engine: object, lake_root: Path, event: PiiEvent) -> None:
        # At the moment the event is written, nothing has been shown or written yet.
        seen.append((event.status, capsys.readouterr().out, output.stat().st_size))

    monkeypatch.setattr(cli_pii, "append_pii_event", append)
    argv = [
        *("decrypt", "--client", "acme", "--table", "silver", "--reason", "INC-42"),
        *("--lake-root", str(tmp_path / "lake"), "--clients-dir", str(REPO / "clients")),
        *("--output", str(output)),
    ]
    assert main(argv) == 0
    assert seen == [("SUCCESS", "", 0)]
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    rows = list(csv.DictReader(output.open(encoding="utf-8")))
    assert rows[0] == {
        "member_id": "'=cmd|'/c calc'!a0",
        "email": "'-2+3+cmd|' /C calc'!A0",
        "n": "-5",
    }
    assert rows[1]["email"] == "bo@example.org"
    # An existing file (here: the export just written) is never reused.
    seen.clear()
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    assert [s for s, _, _ in seen] == ["FAILED"]  # refused, and the refusal is on record


def test_export_is_created_new_private_and_never_through_a_link(tmp_path: Path) -> None:
    from lakehouse.pii.export import create_export

    previous = os.umask(0)
    try:
        with create_export(tmp_path / "new.csv") as handle:
            handle.write("x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o600
    loose = tmp_path / "loose.csv"
    loose.write_text("old")
    loose.chmod(0o644)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (tmp_path / "link.csv").symlink_to(victim)
    for existing in (loose, tmp_path / "link.csv"):
        with pytest.raises(LakehouseError, match="already exists"):
            create_export(existing)
    assert loose.read_text() == "old" and victim.read_text() == "keep"


@pytest.mark.parametrize(
    ("cell", "exported"),
    [
        ("=cmd|'/c calc'!a0", "'=cmd|'/c calc'!a0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("+1-2", "'+1-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("  =1+1", "'  =1+1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("\t=1", "'\t=1"),
        ("\tplain", "'\tplain"),
        ("-12.5", "-12.5"),
        ("+44", "+44"),
        ("ann@example.org", "ann@example.org"),
        ("Lee-Ng", "Lee-Ng"),
        (-5, -5),
        (None, None),
    ],
)
def test_export_neutralises_formula_cells(cell: object, exported: object) -> None:
    from lakehouse.pii.export import neutralise_cell

    assert neutralise_cell(cell) == exported
