"""The README's first command, `./scripts/run_pipeline.sh --demo`, run for real (once per
session: the ``demo_lake`` fixture), then every table read back with deltalake and checked
against what the demo generator planted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pytest
from e2e_support import DemoLake, Workspace, run

from lakehouse.pii.crypto import is_encrypted

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_run(demo_lake: DemoLake) -> DemoLake:
    return demo_lake


def _audit_by_file(workspace: Workspace) -> dict[str, dict[str, object]]:
    rows = workspace.table("audit/files").to_pylist()
    counts = Counter(r["file_name"] for r in rows)
    assert max(counts.values()) == 1, f"one audit row per file per run: {counts}"
    return {str(r["file_name"]): r for r in rows}


def test_demo_prints_a_summary_per_file(demo_run: DemoLake) -> None:
    for demo_file in demo_run.demo.files:
        assert demo_file.name in demo_run.stdout
    assert "demo wave 1" in demo_run.stdout and "demo wave 2" in demo_run.stdout
    assert "DEVELOPMENT key" in demo_run.stdout + demo_run.stderr


def test_every_file_is_audited_with_the_expected_outcome(demo_run: DemoLake) -> None:
    audit = _audit_by_file(demo_run.workspace)
    expected_status = {
        "duplicate": "DUPLICATE",
        "misnamed": "REJECTED",
        "unknown_client": "REJECTED",
    }
    for f in demo_run.demo.files:
        row = audit[f.name]
        assert row["status"] == expected_status.get(f.kind, "SUCCESS"), row
        if f.client_id is not None and f.kind not in expected_status:
            assert row["dataset"] == f.dataset, row
        if row["status"] == "SUCCESS":
            # Conservation, against the generator's own count of records in the file.
            assert row["rows_read"] == f.data_records
            assert row["rows_quarantined"] == f.invalid_records
            assert row["rows_valid"] == f.data_records - f.invalid_records
            assert row["rows_valid"] == sum(
                int(row[k])
                for k in ("rows_inserted", "rows_updated", "rows_unchanged", "rows_stale")
            )
            assert row["file_sha256"] and len(str(row["file_sha256"])) == 64
            assert row["started_at"] <= row["finished_at"]
    reasons = {audit[f.name]["reason"] for f in demo_run.demo.files if f.kind != "normal"}
    assert {"misnamed_file", "unknown_client"} <= reasons
    duplicate = next(f for f in demo_run.demo.files if f.kind == "duplicate")
    assert str(audit[duplicate.name]["reason"]).startswith("duplicate_of:")


def test_tables_hold_what_the_files_held(demo_run: DemoLake) -> None:
    ws = demo_run.workspace
    ingested = [
        f for f in demo_run.demo.files if f.kind in ("normal", "update", "late", "sequence")
    ]
    for dataset in ("members", "readings"):
        files = [f for f in ingested if f.dataset == dataset]
        assert files, dataset
        assert ws.table(f"bronze/{dataset}").num_rows == sum(f.data_records for f in files)
        quarantined = sum(f.invalid_records for f in files)
        assert ws.table(f"quarantine/{dataset}").num_rows == quarantined
    silver = ws.table("silver/members")
    per_client = Counter(silver.column("client_id").to_pylist())
    assert dict(per_client) == demo_run.demo.expected_silver_rows()


def test_readings_hold_what_the_generator_planted(demo_run: DemoLake) -> None:
    ws = demo_run.workspace
    expected = demo_run.demo.expected_readings("acme")
    readings = ws.table("silver/readings").to_pylist()
    assert len(readings) == expected.rows
    assert sum(not r["member_known"] for r in readings) == expected.unknown_member_rows
    members = set(ws.table("silver/members").column("member_id").to_pylist())
    # The readings' member tokens are the members' tokens: every known reading joins.
    assert all(r["member_id"] in members for r in readings if r["member_known"])
    assert {r["unit"] for r in readings} == {"bpm", "mmHg", "mg/dL", "%", "Cel", "kg"}
    outliers = [r for r in readings if r["is_outlier"]]
    assert len(outliers) == len(expected.outliers)
    assert sorted(r["reading_type"] for r in outliers) == sorted(
        k.reading_type for k in expected.outliers
    )
    quarantine = ws.table("quarantine/readings").column("_reasons").to_pylist()
    codes = {code for reasons in quarantine for code in reasons}
    assert {
        "value:out_of_range",
        "unit:unknown_unit",
        "diastolic:not_below_value",
        "measured_at:invalid_timestamp",
        "measured_at:future_timestamp",
        "measured_at:before_birth",
        "reading_type:isin",
    } <= codes
    hourly = ws.table("gold/readings_hourly").to_pylist()
    groups = {
        (
            r["member_id"],
            r["reading_type"],
            r["measured_at"].replace(minute=0, second=0, microsecond=0),
        )
        for r in readings
    }
    assert len(hourly) == len(groups)
    assert sum(r["readings"] for r in hourly) == expected.rows
    assert sum(r["outliers"] for r in hourly) == len(expected.outliers)
    trend = ws.table("gold/readings_trend").to_pylist()
    assert {(r["member_id"], r["reading_type"]) for r in trend} == {g[:2] for g in groups}
    assert {r["trend"] for r in trend} <= {
        "improving",
        "stable",
        "declining",
        "volatile",
        "changing",
        "insufficient",
    }


def test_quarantine_has_reasons_and_no_plaintext_pii(demo_run: DemoLake) -> None:
    quarantine = demo_run.workspace.table("quarantine/members")
    codes = {
        code.split(":", 1)[1]
        for reasons in quarantine.column("_reasons").to_pylist()
        for code in reasons
    }
    assert {"malformed", "duplicate_key_in_file", "not_null", "invalid_date", "isin"} <= codes
    assert all(reasons for reasons in quarantine.column("_reasons").to_pylist())
    # Every PII column is AES-GCM encrypted (or NULL), never the value from the file.
    for column in ("member_id", "first_name", "last_name", "birth_date", "phone", "email"):
        values = [v for v in quarantine.column(column).to_pylist() if v is not None]
        assert values and all(is_encrypted(v) and v.startswith("gcm2:") for v in values), column


def test_late_file_never_overwrites_newer_rows(demo_run: DemoLake) -> None:
    late = next(f for f in demo_run.demo.files if f.kind == "late")
    audit = _audit_by_file(demo_run.workspace)[late.name]
    assert int(audit["rows_stale"]) > 0  # type: ignore[arg-type]
    silver = demo_run.workspace.table("silver/members")
    from_late = silver.filter(pc.equal(silver.column("_source_file"), late.name))
    # Only the members that were new in the late file come from it.
    assert from_late.num_rows == audit["rows_inserted"]


def test_sequence_two_is_applied_after_sequence_one(demo_run: DemoLake) -> None:
    audit = _audit_by_file(demo_run.workspace)
    second = next(
        f for f in demo_run.demo.files if f.kind == "sequence" and f.name.endswith("_2.csv")
    )
    assert int(audit[second.name]["rows_updated"]) > 0  # type: ignore[arg-type]
    assert int(audit[second.name]["rows_stale"]) == 0  # type: ignore[arg-type]


def test_cdf_matches_the_audit(demo_run: DemoLake) -> None:
    from deltalake import DeltaTable

    table = DeltaTable(str(demo_run.workspace.lake / "silver/members"))
    cdf = table.load_cdf(starting_version=0).read_all()
    import pyarrow as pa

    kinds = Counter(pa.table(cdf).column("_change_type").to_pylist())
    rows = [
        r
        for r in _audit_by_file(demo_run.workspace).values()
        if r["status"] == "SUCCESS" and r["dataset"] == "members"
    ]
    assert kinds["insert"] == sum(int(r["rows_inserted"]) for r in rows)  # type: ignore[arg-type]
    assert kinds["update_postimage"] == sum(int(r["rows_updated"]) for r in rows)  # type: ignore[arg-type]
    assert kinds["update_preimage"] == kinds["update_postimage"]


def test_second_demo_run_changes_nothing(demo_run: DemoLake) -> None:
    ws = demo_run.workspace
    tables = (
        *(
            f"{zone}/{dataset}"
            for zone in ("bronze", "quarantine", "silver")
            for dataset in ("members", "readings")
        ),
        "gold/members_summary",
        "gold/readings_hourly",
        "gold/readings_trend",
    )
    before = {t: ws.version(t) for t in tables}
    audit_rows = ws.table("audit/files").num_rows
    again = run(["./scripts/run_pipeline.sh", "--demo"], ws.env())
    assert again.returncode == 0, again.stderr
    assert {t: ws.version(t) for t in before} == before
    assert ws.table("audit/files").num_rows == audit_rows
    assert "0 new file(s)" in again.stdout
    assert "members_summary (current" in again.stdout


def test_gold_summary_counts_every_silver_member(demo_run: DemoLake) -> None:
    ws = demo_run.workspace
    silver = Counter(ws.table("silver/members").column("client_id").to_pylist())
    gold = ws.table("gold/members_summary").to_pylist()
    assert {r["client_id"] for r in gold} == set(silver)
    for client, members in silver.items():
        cells = [r for r in gold if r["client_id"] == client]
        shown = sum(r["members"] for r in cells if not r["suppressed"])
        hidden = [r for r in cells if r["suppressed"]]
        assert all(r["members"] is None for r in hidden)
        assert all(r["members"] >= r["k"] for r in cells if not r["suppressed"])
        assert shown + len(hidden) <= members <= shown + sum(r["k"] - 1 for r in hidden)
    version = str(ws.version("silver/members"))
    assert {r["source_version"] for r in gold} == {int(version)}
    assert "demo gold: members_summary (full" in demo_run.stdout


def test_demo_files_are_generated_under_the_landing_dir(demo_run: DemoLake) -> None:
    names = {p.name for p in Path(demo_run.workspace.landing).iterdir()}
    assert {f.name for f in demo_run.demo.files} <= names
