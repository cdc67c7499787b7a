"""The quarantine lifecycle's pieces without Spark: open vs resolved rows, what a replay plans
(and refuses, naming client, file and fix), the listing command, and the views that count a
replayed file once."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest

from lakehouse.audit import Status, pii_events_path
from lakehouse.cli import build_parser, main
from lakehouse.config.models import ClientConfig
from lakehouse.errors import KeyMissingError, LakehouseError, LockBusyError
from lakehouse.ingest.lock import ClientLock
from lakehouse.ingest.replay import (
    PII_EVENT,
    _check_keys,
    matches_code,
    plan_replay,
    replay_quarantine,
)
from lakehouse.ops import client_status, quarantine_reasons
from lakehouse.ops.report_series import client_summaries, rows_per_day
from lakehouse.pii.keys import KEY_ENV_VARS, KeyRing
from lakehouse.resolutions import (
    RESOLUTION_SCHEMA,
    append_resolutions,
    resolutions_path,
    resolved_keys,
)

D1, D2 = dt.date(2026, 1, 5), dt.date(2026, 1, 6)
SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("plan_code", pa.string()),
        ("_reasons", pa.list_(pa.string())),
        ("_source_file", pa.string()),
        ("_file_sha256", pa.string()),
        ("_record_number", pa.int64()),
        ("_creation_date", pa.date32()),
        ("_sequence", pa.int32()),
    ]
)


def _row(file: str, sha: str, number: int, day: dt.date, *reasons: str) -> dict[str, Any]:
    return {
        "client_id": "acme",
        "plan_code": "PLATINUM",
        "_reasons": list(reasons),
        "_source_file": file,
        "_file_sha256": sha,
        "_record_number": number,
        "_creation_date": day,
        "_sequence": 0,
    }


@pytest.fixture()
def quarantined(lake: Any) -> Any:
    """a.csv (ingested): two isin rows, a malformed one; b.csv (only HELD): one isin row."""
    rows = [
        _row("acme_2026-01-06.csv", "sha-a", 1, D2, "plan_code:isin"),
        _row("acme_2026-01-06.csv", "sha-a", 4, D2, "plan_code:isin", "zip:regex"),
        _row("acme_2026-01-06.csv", "sha-a", 6, D2, "_record:malformed"),
        _row("acme_2026-01-05.csv", "sha-b", 2, D1, "plan_code:isin"),
    ]
    lake.engine.append(
        lake.settings.table_path("quarantine", "members"),
        pa.Table.from_pylist(rows, schema=SCHEMA),
        partition_by=["client_id"],
    )
    lake.audit("acme_2026-01-06.csv", Status.SUCCESS, sha="sha-a", read=10, quarantined=3)
    lake.audit("acme_2026-01-05.csv", Status.HELD, sha="sha-b", minutes=1)
    return lake


def _resolve(lake: Any, number: int, *, app_id: str = "lakehouse:resolve:x") -> bool:
    row = {name: None for name in RESOLUTION_SCHEMA.names}
    row.update(
        client_id="acme",
        file_sha256="sha-a",
        source_file="acme_2026-01-06.csv",
        record_number=number,
        status="resolved",
        reasons_before=["plan_code:isin"],
    )
    return append_resolutions(lake.engine, lake.settings, [row], app_id=app_id)


def _job(lake: Any) -> Any:
    return SimpleNamespace(settings=lake.settings, engine=lake.engine)


def test_reason_codes_match_exactly_or_by_code_in_any_column() -> None:
    reasons = ("plan_code:isin", "zip:regex")
    assert matches_code(reasons, None) and matches_code(reasons, "isin")
    assert matches_code(reasons, "zip:regex") and not matches_code(reasons, "zip:isin")
    assert not matches_code(reasons, "regex:zip") and not matches_code((), "isin")


def test_a_resolution_is_written_once_per_batch(quarantined: Any) -> None:
    assert _resolve(quarantined, 1) and not _resolve(quarantined, 1)  # a repeat is a no-op
    assert resolved_keys(quarantined.engine, quarantined.settings, "acme") == {("sha-a", 1)}
    assert resolved_keys(quarantined.engine, quarantined.settings, "globex") == set()
    assert resolutions_path(quarantined.settings).parent.name == "audit"


def test_the_listing_counts_open_and_resolved_rows_per_reason(
    quarantined: Any, clients: dict[str, ClientConfig], capsys: pytest.CaptureFixture[str]
) -> None:
    _resolve(quarantined, 1)
    rows = quarantine_reasons(quarantined.settings, quarantined.engine, clients["acme"])
    assert [(r["reason"], r["rows"], r["open"], r["resolved"]) for r in rows] == [
        ("plan_code:isin", 3, 2, 1),
        ("_record:malformed", 1, 1, 0),
        ("zip:regex", 1, 1, 0),
    ]
    only_b = quarantine_reasons(
        quarantined.settings, quarantined.engine, clients["acme"], files={"acme_2026-01-05.csv"}
    )
    assert [(r["reason"], r["open"], r["resolved"]) for r in only_b] == [("plan_code:isin", 1, 0)]

    base = ["--lake-root", str(quarantined.settings.lake_root)]
    base += ["--clients-dir", str(quarantined.settings.clients_dir)]
    assert main(["quarantine", *base, "--client", "acme"]) == 0
    text = capsys.readouterr().out
    assert "5 reason occurrence(s): 4 open, 1 resolved" in text and "resolved" in text
    assert "PLATINUM" not in text  # codes and names, never values
    assert main(["quarantine", *base, "--client", "acme", "--json"]) == 0
    assert {r["reason"]: r["open"] for r in json.loads(capsys.readouterr().out)} == {
        "plan_code:isin": 2,
        "_record:malformed": 1,
        "zip:regex": 1,
    }
    assert main(["quarantine", *base]) == 1
    assert "--client" in capsys.readouterr().err


def test_a_replay_plans_the_open_rows_of_ingested_files(
    quarantined: Any, clients: dict[str, ClientConfig]
) -> None:
    _resolve(quarantined, 1)
    plans, skipped = plan_replay(_job(quarantined), clients["acme"])
    assert [(p.name, p.sha256, p.open_rows, p.malformed) for p in plans] == [
        ("acme_2026-01-06.csv", "sha-a", 2, 1)  # record 4 and the malformed 6
    ]
    assert plans[0].file_size == 100 and plans[0].creation_date == D2
    # Only HELD: its valid rows are not in silver either, release comes first.
    assert "lakehouse release --file acme_2026-01-05.csv" in skipped["acme_2026-01-05.csv"]
    plans, _ = plan_replay(_job(quarantined), clients["acme"], reason_code="zip:regex")
    assert [(p.open_rows, p.malformed) for p in plans] == [(1, 0)]


@pytest.mark.parametrize(
    ("kwargs", "message", "fix"),
    [
        ({"file": "acme_2026-02-01.csv"}, "no quarantined rows from this file", "lakehouse audit"),
        ({"reason_code": "min_length"}, "no quarantined row has reason code", "plan_code:isin"),
        ({"file": "acme_2026-01-05.csv"}, "can be replayed", "lakehouse release"),
        ({"reason_code": "regex"}, "no open quarantined rows", "changes nothing"),
        ({"reason_code": "malformed"}, "can be replayed", "send the records again"),
    ],
)
def test_nothing_to_replay_is_an_error_naming_client_file_and_fix(
    quarantined: Any,
    clients: dict[str, ClientConfig],
    kwargs: dict[str, str],
    message: str,
    fix: str,
) -> None:
    _resolve(quarantined, 4)  # the only zip:regex row
    with pytest.raises(LakehouseError, match=message) as error:
        plan_replay(_job(quarantined), clients["acme"], **kwargs)
    assert error.value.client == "acme" and fix in (error.value.fix or "")
    if "file" in kwargs:
        assert error.value.file == kwargs["file"]


def test_no_quarantine_at_all_is_an_error(lake: Any, clients: dict[str, ClientConfig]) -> None:
    with pytest.raises(LakehouseError, match="the client has no quarantined rows"):
        plan_replay(_job(lake), clients["acme"])


def test_the_replay_command_checks_its_arguments_and_keys_before_spark(
    lake: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["quarantine", "replay", "--lake-root", str(lake.settings.lake_root)]
    base += ["--clients-dir", str(lake.settings.clients_dir)]
    with pytest.raises(SystemExit):
        main([*base, "--client", "acme"])  # --reason is required
    assert "--reason" in capsys.readouterr().err
    listing_flag = ["quarantine", "--client", "acme", "replay", *base[2:], "--client", "acme"]
    assert main([*listing_flag, "--reason", "INC-1"]) == 1
    assert "belong to the listing" in capsys.readouterr().err
    # Settings flags work on either side of `replay`; given after it, they win.
    before = ["quarantine", "--lake-root", "/a", "replay", "--client", "acme", "--reason", "r"]
    assert build_parser().parse_args(before).lake_root == Path("/a")
    after = build_parser().parse_args([*before, "--lake-root", "/b"])
    assert after.lake_root == Path("/b") and after.conf == Path("conf/lakehouse.yaml")
    assert main([*base, "--client", "acme", "--reason", "fix"]) == 1
    assert "--reason must say why" in capsys.readouterr().err
    assert main([*base, "--client", "nobody", "--reason", "INC-1"]) == 1
    assert "unknown client 'nobody'" in capsys.readouterr().err
    for name in KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert main([*base, "--client", "acme", "--reason", "INC-1"]) == 1
    assert "LAKEHOUSE_TOKEN_KEY" in capsys.readouterr().err


def test_views_count_a_replayed_file_once_and_move_its_rows_to_valid(
    lake: Any, clients: dict[str, ClientConfig]
) -> None:
    lake.audit("acme_2026-01-06.csv", Status.SUCCESS, sha="s", read=10, quarantined=4, created=D2)
    replay = lake.audit(
        "acme_2026-01-06.csv", Status.SUCCESS, sha="s", read=4, quarantined=1, created=D2,
        minutes=5, reason="replay", run_id="replay-0123",
    )  # fmt: skip
    assert replay.rows_valid == 3
    status = client_status(lake.settings, lake.engine, clients)[0]
    assert (status["files_ingested"], status["rows_read"], status["rows_quarantined"]) == (1, 10, 1)
    rows = [replay.as_row() | {"reason": "replay"}]
    first = {**rows[0], "rows_read": 10, "rows_valid": 6, "rows_quarantined": 4, "reason": None}
    days = rows_per_day([first, *rows])
    assert [(d.valid, d.quarantined) for d in days["acme"]] == [(9, 1)]
    (summary,) = client_summaries([first, *rows], ["acme"], {"acme": None})
    assert (summary["files_ingested"], summary["rows_read"], summary["rows_quarantined"]) == (
        1,
        10,
        1,
    )
    # A backfill after the replay re-validates the whole file: its counts stand alone.
    backfill = {**first, "rows_valid": 9, "rows_quarantined": 1, "reason": "backfill"}
    assert [(d.valid, d.quarantined) for d in rows_per_day([first, *rows, backfill])["acme"]] == [
        (9, 1)
    ]


def test_a_key_the_ring_lacks_is_named_with_client_and_file(
    quarantined: Any, clients: dict[str, ClientConfig]
) -> None:
    (plan,), _ = plan_replay(_job(quarantined), clients["acme"])
    job = SimpleNamespace(keys=KeyRing(token_key_id="t", keys={"t": bytes(32)}))
    with pytest.raises(KeyMissingError, match="encrypt key 'k-2025'") as missing:
        _check_keys(job, clients["acme"], plan, {"k-2025"})
    assert (missing.value.client, missing.value.file) == ("acme", "acme_2026-01-06.csv")
    assert "encrypt_old_key_ids" in (missing.value.fix or "")


def test_a_replay_takes_the_client_lock_and_records_the_attempt(
    quarantined: Any, clients: dict[str, ClientConfig]
) -> None:
    settings = quarantined.settings
    job = SimpleNamespace(settings=settings, engine=quarantined.engine, clients=clients)
    with (
        ClientLock(settings.lock_dir, "acme", run_id="ingest-1"),
        pytest.raises(LockBusyError, match="ingest-1"),
    ):
        replay_quarantine(job, "acme", reason="INC-1234", user="ops")
    (event,) = quarantined.engine.read(pii_events_path(settings.lake_root)).to_pylist()
    assert (event["event"], event["status"], event["user"], event["reason"]) == (
        PII_EVENT,
        "FAILED",
        "ops",
        "INC-1234",
    )
    assert event["rows"] == 0 and "being ingested by another run" in event["error"]


def test_the_replay_report_says_what_stays_open_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    from lakehouse.cli.quarantine import _print_report

    file = {
        "file": "acme_2026-01-06.csv",
        "revalidated": 3,
        "now_passing": 2,
        "still_failing": 1,
        "still_failing_reasons": {"birth_date:invalid_date": 1},
        "malformed_left_open": 1,
        "inserted": 1,
        "updated": 0,
        "unchanged": 0,
        "stale": 1,
        "resolved": 2,
        "run_id": "replay-0123456789abcdef",
        "silver_version": 7,
        "recovered": ["silver"],
    }
    report = {"client_id": "acme", "dry_run": False, "files": [file], "skipped": {"b.csv": "HELD"}}
    _print_report(report)
    out, err = capsys.readouterr()
    assert "3 re-validated, 2 now pass (inserted=1 updated=0 unchanged=0 stale=1)" in out
    assert "still failing: birth_date:invalid_date (1 row(s)); they stay open" in out
    assert "1 malformed record(s) (_record:malformed) left open" in out
    assert "run replay-0123456789abcdef, silver version 7" in out and "earlier attempt" in out
    assert "b.csv: skipped, HELD" in out and "2 row(s) resolved" in err
    _print_report({**report, "dry_run": True})
    out, err = capsys.readouterr()
    assert "would be inserted=1" in out and "resolved 2" not in out and "dry run" in err
