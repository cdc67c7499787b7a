"""Backfill planning (no Spark) and the bronze source (a landing file rebuilt from bronze)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lakehouse.audit import Status
from lakehouse.backfill import plan_backfill
from lakehouse.backfill.bronze_source import render_csv
from lakehouse.config import load_clients
from lakehouse.errors import LakehouseError

REPO = Path(__file__).resolve().parents[3]
CLIENTS = load_clients(REPO / "clients")
JAN, FEB = dt.date(2026, 1, 1), dt.date(2026, 2, 28)


def _archive(lake: Any, name: str, content: bytes, client: str = "acme") -> str:
    path = lake.settings.archive_root / client / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()


def test_plan_lists_the_range_in_creation_date_and_sequence_order(lake: Any) -> None:
    for name in (
        "acme_2026-01-12_2.csv",
        "acme_2026-01-12.csv",
        "acme_2026-01-12_1.csv",
        "acme_2026-01-05.csv",
        "acme_2025-12-29.csv",
        "acme_2026-03-01.csv",
    ):
        _archive(lake, name, name.encode())
    _archive(lake, "acme-notes.csv", b"?")  # not a landing name: ignored with a reason
    plan = plan_backfill(lake.settings, CLIENTS, lake.engine, client_id="acme", start=JAN, end=FEB)
    assert [f.name for f in plan.files] == [
        "acme_2026-01-05.csv",
        "acme_2026-01-12.csv",
        "acme_2026-01-12_1.csv",
        "acme_2026-01-12_2.csv",
    ]
    assert plan.skipped == [("acme-notes.csv", "misnamed_file")]
    row = plan.files[0].as_row()
    assert row["size"] == len(b"acme_2026-01-05.csv") and len(row["sha256"]) == 12
    assert row["action"] == "reprocess" and row["last_status"] is None


def test_plan_keeps_duplicates_duplicate_and_shows_last_status(lake: Any) -> None:
    sha = _archive(lake, "acme_2026-01-05.csv", b"full file")
    _archive(lake, "acme_2026-02-03.csv", b"full file")  # the same bytes re-sent
    _archive(lake, "acme_2026-02-04.csv", b"held file")
    lake.audit("acme_2026-01-05.csv", Status.SUCCESS, sha=sha, read=1)
    lake.audit("acme_2026-02-03.csv", Status.DUPLICATE, sha=sha, minutes=1)
    lake.audit("acme_2026-02-04.csv", Status.HELD, minutes=2)
    lake.audit(
        "acme_2026-02-04.csv",
        Status.SUCCESS,
        minutes=3,
        reason="released",
        read=1,
        sha=hashlib.sha256(b"held file").hexdigest(),
    )
    plan = plan_backfill(lake.settings, CLIENTS, lake.engine, client_id="acme", start=JAN, end=FEB)
    by_name = {f.name: f for f in plan.files}
    assert by_name["acme_2026-01-05.csv"].duplicate_of is None
    assert by_name["acme_2026-02-03.csv"].duplicate_of == "acme_2026-01-05.csv"
    assert by_name["acme_2026-02-03.csv"].last_status == "DUPLICATE"
    assert by_name["acme_2026-02-04.csv"].released  # an operator's release is honoured


def test_same_bytes_twice_in_the_range_are_processed_once(lake: Any) -> None:
    _archive(lake, "acme_2026-01-05.csv", b"x")
    _archive(lake, "acme_2026-01-06.csv", b"x")
    plan = plan_backfill(lake.settings, CLIENTS, lake.engine, client_id="acme", start=JAN, end=FEB)
    assert [f.duplicate_of for f in plan.files] == [None, "acme_2026-01-05.csv"]


def test_plan_errors(lake: Any) -> None:
    with pytest.raises(LakehouseError, match="unknown client 'nope'"):
        plan_backfill(lake.settings, CLIENTS, lake.engine, client_id="nope", start=JAN, end=FEB)
    with pytest.raises(LakehouseError, match="after"):
        plan_backfill(lake.settings, CLIENTS, lake.engine, client_id="acme", start=FEB, end=JAN)


def test_dry_run_command_writes_nothing_and_starts_no_spark(lake: Any) -> None:
    _archive(lake, "acme_2026-01-05.csv", b"x")
    code = (
        "import sys; from lakehouse.cli import main; rc = main(sys.argv[1:]); "
        "from pyspark import SparkContext; assert SparkContext._active_spark_context is None; "
        "sys.exit(rc)"
    )
    args = [
        "backfill",
        "--client",
        "acme",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-31",
        "--dry-run",
        "--json",
        "--lake-root",
        str(lake.settings.lake_root),
    ]
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["dry_run"] is True
    assert [f["file_name"] for f in report["files"]] == ["acme_2026-01-05.csv"]
    assert sorted(p.name for p in lake.settings.lake_root.iterdir()) == ["_archive"]


def test_window_arguments(capsys: pytest.CaptureFixture[str], lake: Any) -> None:
    from lakehouse.cli import main

    base = [
        "backfill",
        "--client",
        "acme",
        "--dry-run",
        "--lake-root",
        str(lake.settings.lake_root),
    ]
    assert main([*base, "--from", "2026-01-01"]) == 1
    assert "--last-days N" in capsys.readouterr().err
    assert main([*base, "--last-days", "7", "--from", "2026-01-01"]) == 1
    assert main([*base, "--last-days", "7"]) == 0
    today = dt.datetime.now(dt.UTC).date()
    assert f"{today - dt.timedelta(days=6)}..{today}" in capsys.readouterr().out


def test_bronze_rows_render_back_to_an_equivalent_file(spark: Any, tmp_path: Path) -> None:
    from lakehouse.landing.reader import read_landing_csv

    client = CLIENTS["acme"]
    text = (
        "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"
        'AC0000001,"Smith, Jo","O""Neil",1970-05-05,,"",10001,gold\n'
        'AC0000002,"Multi\nLine",Kim,1980-02-03,(212) 555-0142,a@b.org,10001,silver\n'
        "AC0000003,Cy,Ito,1990-01-01,,,10001,gold,extra\n"
        "AC0000004,Di,Wu\n"
    )
    original = tmp_path / "a" / "acme_2026-03-01.csv"
    original.parent.mkdir()
    original.write_text(text, encoding="utf-8")

    def rows(path: Path) -> list[dict[str, Any]]:
        read = read_landing_csv(spark, path, client)
        try:
            return sorted(read.frame.toArrow().to_pylist(), key=lambda r: r["_record_number"])
        finally:
            read.release()

    before = rows(original)
    rebuilt = tmp_path / "b" / original.name
    rebuilt.parent.mkdir()
    rebuilt.write_text(
        render_csv(read_landing_csv(spark, original, client).frame.toArrow(), client),
        encoding="utf-8",
        newline="",
    )
    after = rows(rebuilt)
    assert after == before
    assert before[0]["first_name"] == "Smith, Jo" and before[0]["email"] == ""
    assert before[0]["phone"] is None and before[2]["_corrupt_record"] is not None


def test_encrypted_bronze_values_are_decrypted_for_the_rebuilt_file() -> None:
    import pyarrow as pa

    from lakehouse.pii.crypto import gcm_encrypt_many
    from lakehouse.pii.keys import KeyRing

    client = CLIENTS["acme"]
    keys = KeyRing(token_key_id="t", keys={"t": b"t" * 32, "e": b"e" * 32}, encrypt_key_id="e")
    row: dict[str, Any] = {c.name: None for c in client.columns}
    row.update(member_id="AC0000001", plan_code="gold", _record_number=1, _corrupt_record=None)
    (row["first_name"],) = gcm_encrypt_many(["Ann"], key_id="e", key=b"e" * 32, aad="first_name")
    text = render_csv(pa.Table.from_pylist([row]), client, keys)
    assert text.splitlines()[1] == '"AC0000001","Ann",,,,,,"gold"'
    with pytest.raises(Exception, match="first_name"):
        render_csv(
            pa.Table.from_pylist([row]),
            client,
            KeyRing("t", {"t": b"t" * 32, "e": b"x" * 32}, encrypt_key_id="e"),
        )


def test_bound_bronze_values_are_decrypted_for_the_rebuilt_file() -> None:
    import pyarrow as pa

    from lakehouse.pii.crypto import gcm_encrypt_many
    from lakehouse.pii.domains import binding
    from lakehouse.pii.keys import KeyRing

    client = CLIENTS["acme"]
    keys = KeyRing(token_key_id="t", keys={"t": b"t" * 32, "e": b"e" * 32}, encrypt_key_id="e")
    row: dict[str, Any] = {c.name: None for c in client.columns}
    row.update(member_id="AC0000001", plan_code="gold", _record_number=1, _corrupt_record=None)
    row["_key_token"] = "tok-ann"
    (row["first_name"],) = gcm_encrypt_many(
        ["Ann"], key_id="e", key=b"e" * 32, aad=binding(client, "first_name"), row_keys=["tok-ann"]
    )
    text = render_csv(pa.Table.from_pylist([row]), client, keys)
    assert text.splitlines()[1] == '"AC0000001","Ann",,,,,,"gold"'
    moved = {**row, "_key_token": "tok-bo"}  # the value moved to another member's row
    with pytest.raises(Exception, match="first_name"):
        render_csv(pa.Table.from_pylist([moved]), client, keys)
