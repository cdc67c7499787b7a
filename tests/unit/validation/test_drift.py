"""Drift arithmetic: baselines are medians of the preceding files, bounds are inclusive,
checks wait for ``min_history``, null and invalid shares are counted apart."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse.audit import AuditRecord, Status, append_audit
from lakehouse.config import load_clients
from lakehouse.config.drift import DriftSettings
from lakehouse.config.models import ClientConfig
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.validation import RAW_SUFFIX, REASONS
from lakehouse.validation.drift import (
    Baselines,
    ColumnCounts,
    FileFigures,
    column_stat_columns,
    column_stats,
    evaluate,
)

REPO = Path(__file__).resolve().parents[3]
DAY = dt.date(2026, 3, 1)
COLUMNS = ["member_id", "phone"]


def _file(
    day: int, rows: int, *, phone_null: int = 0, phone_invalid: int = 0, sequence: int = 0
) -> FileFigures:
    return FileFigures(
        file_name=f"acme_2026-03-{day:02d}{f'_{sequence}' if sequence else ''}.csv",
        creation_date=DAY + dt.timedelta(days=day - 1),
        sequence=sequence,
        rows=rows,
        columns={
            "member_id": ColumnCounts(0, 0),
            "phone": ColumnCounts(phone_null, phone_invalid),
        },
    )


def _settings(**data: Any) -> DriftSettings:
    return DriftSettings.model_validate({"window": 5, "min_history": 3, **data})


ROWS = _settings(row_count={"tolerance": 0.5, "action": "hold"})


def test_row_count_against_the_median_with_inclusive_bounds() -> None:
    history = [_file(1, 100), _file(2, 90), _file(3, 1000), _file(4, 110)]  # median 105
    inside = evaluate(ROWS, COLUMNS, history, _file(5, 210))  # 2 x 105: on the edge, inside
    assert inside is not None and inside.checked == ("row_count",) and not inside.findings
    report = evaluate(ROWS, COLUMNS, history, _file(5, 52))  # below 52.5
    assert report is not None
    (finding,) = report.findings
    assert (finding.check, finding.column, finding.observed, finding.baseline) == (
        "row_count",
        None,
        52.0,
        105.0,
    )
    assert (finding.low, finding.high, finding.history, finding.action) == (52.5, 210.0, 4, "hold")
    assert report.hold_reason == "dq_drift:row_count"
    too_many = evaluate(ROWS, COLUMNS, history, _file(5, 211))
    assert too_many is not None and too_many.hold_reason == "dq_drift:row_count"


def test_the_window_keeps_the_latest_files_and_min_history_waits() -> None:
    settings = _settings(window=3, row_count={"tolerance": 0.5})
    history = [_file(1, 1000), _file(2, 1000), _file(3, 10), _file(4, 10), _file(5, 10)]
    report = evaluate(settings, COLUMNS, history, _file(6, 12))  # median of the last 3: 10
    assert report is not None and not report.findings
    # Two files before: not enough history, no check applies.
    assert evaluate(settings, COLUMNS, history[:2], _file(3, 1)) is None
    report = evaluate(settings, COLUMNS, history[:3], _file(4, 1))
    assert report is not None and report.findings[0].baseline == 1000.0
    assert report.findings[0].action == "alert"  # the default action


def test_the_baseline_is_made_of_files_that_precede_the_file() -> None:
    # A late file (day 2, arriving after days 3-5) is compared with what came before day 2.
    history = [_file(1, 10), _file(3, 500), _file(4, 500), _file(5, 500)]
    assert evaluate(ROWS, COLUMNS, history, _file(2, 12)) is None  # one file before it
    # The file itself (a replay, a backfill) and later sequence numbers never count.
    same_day = [*history, _file(6, 1, sequence=2), _file(6, 7, sequence=1)]
    report = evaluate(ROWS, COLUMNS, same_day, _file(6, 500, sequence=1))
    assert report is not None and report.findings == ()


def test_null_and_invalid_shares_are_counted_apart() -> None:
    settings = _settings(
        null_share={"tolerance": 0.1, "action": "hold"}, invalid_share={"tolerance": 0.1}
    )
    history = [_file(d, 100, phone_null=5, phone_invalid=2) for d in (1, 2, 3)]
    all_null = evaluate(settings, COLUMNS, history, _file(4, 100, phone_null=100))
    assert all_null is not None
    assert [f.key for f in all_null.findings] == ["null_share:phone"]
    (finding,) = all_null.findings
    assert (finding.observed, finding.baseline, finding.low, finding.high) == (1.0, 0.05, 0, 0.15)
    assert all_null.hold_reason == "dq_drift:null_share:phone"
    assert set(all_null.checked) == {
        f"{c}:{n}" for c in ("null_share", "invalid_share") for n in COLUMNS
    }
    invalid = evaluate(settings, COLUMNS, history, _file(4, 100, phone_null=5, phone_invalid=40))
    assert invalid is not None and [f.key for f in invalid.findings] == ["invalid_share:phone"]
    assert invalid.hold_reason is None  # invalid_share's action is alert


def test_share_edges_directions_and_overrides() -> None:
    settings = _settings(
        null_share={
            "tolerance": 0.1,
            "columns": ["phone"],
            "overrides": {"phone": {"tolerance": 0.3, "action": "hold"}},
        },
        invalid_share={"tolerance": 0.1},
    )
    history = [_file(d, 10, phone_null=1, phone_invalid=3) for d in (1, 2, 3)]
    edge = evaluate(settings, COLUMNS, history, _file(4, 10, phone_null=4))  # 0.1 + 0.3: inside
    assert edge is not None and edge.findings == ()
    assert "null_share:member_id" not in edge.checked  # only the listed column
    out = evaluate(settings, COLUMNS, history, _file(4, 100, phone_null=41))
    assert out is not None and out.findings[0].tolerance == 0.3 and out.hold_reason
    # invalid_share drifts only upwards by default: fewer invalid rows is no drift.
    better = evaluate(settings, COLUMNS, history, _file(4, 10, phone_null=1, phone_invalid=0))
    assert better is not None and better.findings == ()
    # A null share that falls drifts: the default direction of null_share is both ways.
    fell = evaluate(
        settings, COLUMNS, [_file(d, 10, phone_null=5) for d in (1, 2, 3)], _file(4, 10)
    )
    assert fell is not None and [f.key for f in fell.findings] == ["null_share:phone"]


def test_files_without_rows_or_column_stats_do_not_enter_share_baselines() -> None:
    settings = _settings(row_count={"tolerance": 0.5}, null_share={"tolerance": 0.1})
    old = [FileFigures(f"acme_2026-02-0{d}.csv", dt.date(2026, 2, d), 0, 100) for d in (1, 2, 3)]
    report = evaluate(settings, COLUMNS, old, _file(1, 100, phone_null=100))
    assert report is not None and report.checked == ("row_count",)  # audited before stats
    empty = evaluate(settings, COLUMNS, [*old, _file(1, 100), _file(2, 100)], _file(3, 0))
    assert empty is not None and empty.checked == ("row_count",)
    assert empty.findings[0].observed == 0 and empty.findings[0].low == 50


def test_a_zero_median_allows_only_empty_files() -> None:
    history = [_file(d, 0) for d in (1, 2, 3)]
    assert evaluate(ROWS, COLUMNS, history, _file(4, 0)).findings == ()  # type: ignore[union-attr]
    report = evaluate(ROWS, COLUMNS, history, _file(4, 1))
    assert report is not None and report.hold_reason == "dq_drift:row_count"


def _audit(name: str, status: Status, rows: int, finished: int, **extra: Any) -> AuditRecord:
    record = AuditRecord(
        client_id="acme",
        file_name=name,
        run_id="r",
        engine="delta-rs",
        started_at=dt.datetime(2026, 3, 9, tzinfo=dt.UTC),
        status=status,
        creation_date=DAY,
        sequence=0,
        rows_read=rows,
        rows_valid=rows,
        rows_quarantined=0,
        finished_at=dt.datetime(2026, 3, 9, 0, finished, tzinfo=dt.UTC),
        **extra,
    )
    return record


def test_baselines_read_the_audit_once_and_follow_the_run(tmp_path: Path) -> None:
    engine, path = DeltaRsEngine(), tmp_path / "audit"
    stats = {"phone": {"null": 3, "invalid": 1}}
    append_audit(
        engine,
        path,
        [
            _audit("acme_2026-03-01.csv", Status.SUCCESS, 10, 1, column_stats=stats),
            _audit("acme_2026-03-02.csv", Status.SUCCESS, 20, 2),  # before column stats
            _audit("acme_2026-03-03.csv", Status.HELD, 30, 3),
            _audit("acme_2026-03-04.csv", Status.SUCCESS, 40, 4),
            _audit("acme_2026-03-04.csv", Status.HELD, 40, 5),  # its latest row decides
            _audit("acme_2026-03-02.csv", Status.FAILED, 0, 6),  # a failed retry changes nothing
        ],
    )
    baselines = Baselines(engine, path)
    clients = load_clients(REPO / "clients")
    acme, readings = clients["acme"], clients["acme_readings"]
    other = acme.model_copy(update={"client_id": "other"})
    history = {f.file_name: f for f in baselines.history(acme)}
    assert set(history) == {"acme_2026-03-01.csv", "acme_2026-03-02.csv"}
    assert history["acme_2026-03-01.csv"].columns == {"phone": ColumnCounts(3, 1)}
    assert history["acme_2026-03-02.csv"].columns is None and baselines.history(other) == []
    # Rows without a dataset are the default dataset's: acme's readings have no history.
    assert baselines.history(readings) == []
    version = engine.version(path)
    released = _audit("acme_2026-03-03.csv", Status.SUCCESS, 30, 7, reason="released")
    baselines.observe([released, _audit("acme_2026-03-01.csv", Status.HELD, 10, 8)])
    assert {f.file_name for f in baselines.history(acme)} == {
        "acme_2026-03-02.csv",
        "acme_2026-03-03.csv",
    }
    assert engine.version(path) == version  # nothing read or written for that
    row = released.as_row()
    assert row["column_stats"] is None and row["drift"] is None
    assert json.loads(
        _audit("x", Status.SUCCESS, 1, 1, column_stats=stats).as_row()["column_stats"]
    )


def test_column_stats_come_from_the_totals_aggregate(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    client = clients["acme"]
    names = [c.name for c in client.columns]
    schema = T.StructType(
        [T.StructField(n + RAW_SUFFIX, T.StringType()) for n in names]
        + [T.StructField(REASONS, T.ArrayType(T.StringType()))]
    )

    def row(phone: str | None, reasons: list[str]) -> tuple[Any, ...]:
        values = {n: "x" for n in names} | {"phone": phone}
        return (*[values[n] for n in names], reasons)

    frame = spark.createDataFrame(
        [
            row(None, []),
            row("  ", ["plan_code:isin"]),
            row("555", ["phone:invalid_phone", "plan_code:isin"]),
            row("5551234567", ["phone_x:odd"]),  # a prefix of another name is not a match
        ],
        schema,
    )
    totals = frame.agg(*column_stat_columns(client)).first()
    assert totals is not None
    stats = column_stats(totals.asDict(), client)
    assert stats["phone"] == {"null": 2, "invalid": 1}
    assert stats["plan_code"] == {"null": 0, "invalid": 2}
    assert stats["member_id"] == {"null": 0, "invalid": 0}


def test_the_drift_command_shows_the_baseline_the_next_file_meets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lakehouse.cli import main

    lake = tmp_path / "lake"
    stats = {"phone": {"null": 2, "invalid": 0}, "email": {"null": 50, "invalid": 1}}
    records = [
        _audit(f"acme_2026-03-0{d}.csv", Status.SUCCESS, 100 * d, d, column_stats=stats)
        for d in range(1, 6)
    ]
    for day, record in enumerate(records, start=1):
        record.creation_date = DAY + dt.timedelta(days=day)
    append_audit(DeltaRsEngine(), lake / "audit" / "files", records[:4])
    args = ["drift", "--lake-root", str(lake), "--clients-dir", str(REPO / "clients")]
    assert main([*args, "--client", "acme", "--json"]) == 0
    rows = {r["check"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["row_count"] == {
        "client_id": "acme",
        "check": "row_count",
        "action": "alert",
        "files": 4,
        "baseline": "250",
        "allowed": "12.5..5000",
        "status": "waiting: 4 of 5 files",
    }
    assert rows["null_share:member_id"]["files"] == 0  # no figure recorded for it
    append_audit(DeltaRsEngine(), lake / "audit" / "files", records[4:])
    assert main(args) == 0
    text = capsys.readouterr().out
    email = next(line for line in text.splitlines() if "null_share:email" in line)
    # 50 blank of 100..500 rows: the median share is 50/300; the override's 25 points.
    assert email.split()[2:] == ["alert", "5", "16.7%", "0.0%..41.7%", "applies"]
    assert main([*args, "--client", "globex"]) == 1
    assert "has no drift checks" in capsys.readouterr().err
