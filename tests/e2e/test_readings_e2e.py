"""A client's second dataset through the whole job, in process: acme's members (CSV) and
readings (JSON lines) land together; readings are range-checked per type, normalised to
canonical units, joined to members by token, flagged as outliers, merged SCD1 by (member,
type, time), audited with their dataset, and erased with their member."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from e2e_support import TEST_KEYS, Workspace, _settings_in_process, ingest_in_process
from pyspark.sql import SparkSession

from lakehouse.config import load_clients
from lakehouse.engine import get_engine
from lakehouse.gold import new_run_id, refresh_gold
from lakehouse.pii.keys import KeyRing

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
MEMBERS = (
    "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"
    "AC0000001,Ann,Lee,1980-05-05,(415) 555-0101,ann@example.com,94110,GOLD\n"
    "AC0000002,Bob,Ray,1990-01-01,(415) 555-0102,bob@example.com,94111,SILVER\n"
)


def _reading(member: str, kind: str, value: object, unit: str, at: str, **extra: Any) -> str:
    record = {"memberId": member, "deviceId": "dev-7f3a21", "type": kind, "value": value}
    record |= {"unit": unit, "timestamp": at, **extra}
    return json.dumps(record)


def _heart_rates() -> list[str]:
    """Nine quiet readings, then a spike: an outlier once eight readings came before it."""
    quiet = [
        _reading(
            "AC0000001", "heart_rate", 62 + i % 5, "bpm", f"2026-01-10T{8 + i:02d}:00:00-05:00"
        )
        for i in range(9)
    ]
    return [*quiet, _reading("AC0000001", "heart_rate", 150, "bpm", "2026-01-10T20:00:00-05:00")]


VALID = [
    *_heart_rates(),
    _reading("AC0000001", "glucose", 5.5, "mmol/L", "2026-01-10T09:30:00Z"),
    _reading("AC0000001", "temperature", 98.6, "degF", "2026-01-10T09:35:00Z"),
    _reading("AC0000002", "blood_pressure", 120, "mmHg", "2026-01-10T09:40:00Z", diastolic=80),
    # A member the members table does not have (yet): kept, flagged.
    _reading("AC0000099", "heart_rate", 70, "bpm", "2026-01-10T09:45:00Z"),
    # Bob's oximeter, every ten minutes: the file's invalid share stays under 20%.
    *(
        _reading("AC0000002", "spo2", 96 + i % 3, "%", f"2026-01-10T{12 + i // 6}:{i % 6}0:00Z")
        for i in range(30)
    ),
]
INVALID = {
    "diastolic:not_below_value": _reading(
        "AC0000002", "blood_pressure", 80, "mmHg", "2026-01-10T10:00:00Z", diastolic=90
    ),
    "diastolic:not_null": _reading(
        "AC0000002", "blood_pressure", 120, "mmHg", "2026-01-10T10:05:00Z"
    ),
    "value:out_of_range": _reading("AC0000001", "glucose", 900, "mg/dL", "2026-01-10T10:10:00Z"),
    "unit:unknown_unit": _reading("AC0000001", "glucose", 100, "mg", "2026-01-10T10:15:00Z"),
    "measured_at:before_birth": _reading(
        "AC0000001", "heart_rate", 60, "bpm", "1970-01-01T00:00:00Z"
    ),
    "measured_at:future_timestamp": _reading(
        "AC0000001", "heart_rate", 60, "bpm", "2031-01-01T00:00:00Z"
    ),
    "measured_at:invalid_timestamp": _reading(
        "AC0000001", "heart_rate", 60, "bpm", "2026-01-10T08:00:00"
    ),
    "reading_type:isin": _reading("AC0000001", "steps", 4000, "count", "2026-01-10T10:20:00Z"),
}


def _rows(workspace: Workspace, table: str) -> list[dict[str, Any]]:
    return workspace.table(table).to_pylist()


def test_readings_beside_members_end_in_their_own_tables(
    spark: SparkSession, workspace: Workspace
) -> None:
    workspace.landing.mkdir(parents=True)
    (workspace.landing / "acme_2026-01-09.csv").write_text(MEMBERS, encoding="utf-8")
    readings = "\n".join([*VALID, *INVALID.values()]) + "\n"
    (workspace.landing / "acme_readings_2026-01-10.jsonl").write_text(readings, encoding="utf-8")
    # A readings file under the members' bare name is parsed as members (and fails there):
    # the dataset is in the name, never guessed from the content.
    ingest_in_process(workspace, TEST_KEYS)

    audit = {r["file_name"]: r for r in _rows(workspace, "audit/files")}
    got = {
        name: (r["dataset"], r["status"], r["rows_read"], r["rows_valid"], r["rows_quarantined"])
        for name, r in audit.items()
    }
    assert got == {
        "acme_2026-01-09.csv": ("members", "SUCCESS", 2, 2, 0),
        "acme_readings_2026-01-10.jsonl": ("readings", "SUCCESS", 52, 44, 8),
    }
    quarantine = _rows(workspace, "quarantine/readings")
    assert sorted(code for q in quarantine for code in q["_reasons"]) == sorted(INVALID)

    silver = _rows(workspace, "silver/readings")
    assert len(silver) == 44
    members = {r["member_id"]: r for r in _rows(workspace, "silver/members")}
    # Readings carry the members' tokens: the tables join; the unknown member is flagged.
    known = [r for r in silver if r["member_known"]]
    assert len(known) == 43 and all(r["member_id"] in members for r in known)
    (unknown,) = [r for r in silver if not r["member_known"]]
    assert unknown["member_id"] not in members and unknown["value"] == 70
    assert "AC0000001" not in json.dumps(silver, default=str)  # tokens only
    by_type = {
        r["reading_type"]: r for r in silver if r["reading_type"] not in ("heart_rate", "spo2")
    }
    assert by_type["glucose"]["unit"] == "mg/dL"
    assert by_type["glucose"]["value"] == pytest.approx(5.5 * 18.016)
    assert by_type["temperature"]["unit"] == "Cel"
    assert by_type["temperature"]["value"] == pytest.approx(37.0, abs=0.01)
    assert by_type["blood_pressure"]["diastolic"] == 80
    outliers = [r for r in silver if r["is_outlier"]]
    assert [(r["reading_type"], r["value"]) for r in outliers] == [("heart_rate", 150)]
    assert outliers[0]["outlier_method"] == "mad>3.5/30"
    # Times are UTC instants: 20:00 at -05:00 is 01:00 the next day.
    assert outliers[0]["measured_at"].isoformat().startswith("2026-01-11T01:00:00")

    # A device re-sends three readings and corrects one: SCD1 by (member, type, time).
    resend = [*VALID[:3], VALID[3].replace('"value": 65', '"value": 66')]
    assert resend[3] != VALID[3]
    (workspace.landing / "acme_readings_2026-01-11.jsonl").write_text(
        "\n".join(resend) + "\n", encoding="utf-8"
    )
    ingest_in_process(workspace, TEST_KEYS)
    second = next(
        r for r in _rows(workspace, "audit/files") if r["file_name"].endswith("01-11.jsonl")
    )
    assert (second["rows_unchanged"], second["rows_updated"], second["rows_inserted"]) == (3, 1, 0)
    assert workspace.table("silver/readings").num_rows == 44


def test_forget_removes_the_members_readings(spark: SparkSession, workspace: Workspace) -> None:
    from lakehouse.cli.pii import erase_member

    workspace.landing.mkdir(parents=True)
    (workspace.landing / "acme_2026-01-09.csv").write_text(MEMBERS, encoding="utf-8")
    (workspace.landing / "acme_readings_2026-01-10.jsonl").write_text(
        "\n".join([*VALID, *INVALID.values()]) + "\n", encoding="utf-8"
    )
    ingest_in_process(workspace, TEST_KEYS)
    settings = _settings_in_process(workspace)
    engine = get_engine(settings)
    refresh_gold(settings, engine, run_id=new_run_id("test"))
    member = workspace.table("silver/members").to_pylist()
    (ann,) = [r["member_id"] for r in member if r["first_name"].startswith("A")]
    hourly = workspace.table("gold/readings_hourly").to_pylist()
    assert any(r["member_id"] == ann for r in hourly)
    client = load_clients(settings.clients_dir)["acme"]
    keys = KeyRing.from_environment(TEST_KEYS)
    report = erase_member(settings, client, keys, ["AC0000001"], "INC-7")

    assert report.verified
    # Gold no longer holds the member, and the versions that did are vacuumed.
    for table in ("readings_hourly", "readings_trend"):
        rows = workspace.table(f"gold/{table}").to_pylist()
        assert rows and all(r["member_id"] != ann for r in rows), table
        assert f"gold/{table}" in report.gold_rows
    assert report.rows["silver"] == 1
    # 10 heart rates, glucose, temperature; the quarantined ones of the member too.
    assert report.rows["silver/readings"] == 12
    assert report.rows["bronze/readings"] == 12 + 6
    left = _rows(workspace, "silver/readings")
    assert len(left) == 32  # Bob's readings and the unknown member's heart rate
    raw = (workspace.landing / "acme_readings_2026-01-10.jsonl").read_text(encoding="utf-8")
    assert "AC0000001" not in raw and raw.count("\n") == 52 - 18
    bronze = workspace.table("bronze/readings")
    assert bronze.num_rows == 52 - 18
    assert isinstance(bronze, pa.Table)
