"""`spark-submit jobs/ingest.py` as users run it: exactly once, per client, incremental, keyed.

The first run of each scenario goes through `spark-submit`; later runs on the same lake use the
job's own code on the test session's warm Spark (``ingest_in_process``), since what they check
is what the lake holds, not how the process starts."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
from e2e_support import REPO, TEST_KEYS, Workspace, ingest_in_process, run, spark_submit_env
from pyspark.sql import SparkSession

from lakehouse.config import load_clients
from lakehouse.demo import build_demo

pytestmark = pytest.mark.e2e

SUBMIT = ["spark-submit", "--master", "local[2]", "jobs/ingest.py"]


def test_job_refuses_to_run_without_a_key(workspace: Workspace) -> None:
    workspace.landing.mkdir(parents=True)
    result = run(SUBMIT, spark_submit_env(workspace))
    assert result.returncode == 1
    output = result.stdout + result.stderr  # spark-submit merges the driver's stderr into stdout
    assert "LAKEHOUSE_TOKEN_KEY" in output and "LAKEHOUSE_KEY_FILE" in output
    assert not (workspace.lake / "silver").exists()


def test_exactly_once_per_client_and_incremental(spark: SparkSession, workspace: Workspace) -> None:
    demo = build_demo(load_clients(REPO / "clients"))
    env = spark_submit_env(workspace, **TEST_KEYS)
    demo.write(workspace.landing, waves=[1])
    wave1 = {f.name for f in demo.files if f.wave == 1}

    # Only acme: globex files stay unseen for globex's own checkpoint.
    first = run([*SUBMIT, "--client", "acme"], env)
    assert first.returncode == 0, first.stdout + first.stderr
    audited = Counter(r["file_name"] for r in workspace.table("audit/files").to_pylist())
    assert set(audited) == {n for n in wave1 if n.startswith("acme_")}

    # Everything: globex is picked up now, acme is not processed again.
    ingest_in_process(workspace, TEST_KEYS)
    audited = Counter(r["file_name"] for r in workspace.table("audit/files").to_pylist())
    assert set(audited) == wave1 and set(audited.values()) == {1}
    silver_version = workspace.version("silver/members")
    bronze_rows = workspace.table("bronze/members").num_rows

    # Wave 2 arrives: only the new files are processed, each once.
    demo.write(workspace.landing, waves=[2])
    ingest_in_process(workspace, TEST_KEYS)
    audit = workspace.table("audit/files").to_pylist()
    assert Counter(r["file_name"] for r in audit) == Counter({f.name: 1 for f in demo.files})
    assert workspace.version("silver/members") > silver_version
    ingested_wave2 = [
        f
        for f in demo.files
        if f.wave == 2 and f.kind in ("update", "late") and f.dataset == "members"
    ]
    assert workspace.table("bronze/members").num_rows == bronze_rows + sum(
        f.data_records for f in ingested_wave2
    )

    # A lost checkpoint does not mean double ingestion: checksums catch every file again.
    shutil.rmtree(workspace.lake / "_checkpoints")
    silver_version = workspace.version("silver/members")
    ingest_in_process(workspace, TEST_KEYS)
    statuses = Counter(
        r["status"]
        for r in workspace.table("audit/files").to_pylist()
        if r["run_id"] not in {a["run_id"] for a in audit}
    )
    assert statuses["SUCCESS"] == 0 and statuses["DUPLICATE"] > 0
    assert workspace.version("silver/members") == silver_version


def test_malformed_and_bad_rows_are_quarantined_with_reasons(
    spark: SparkSession, workspace: Workspace
) -> None:
    workspace.landing.mkdir(parents=True)
    header = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"
    rows = (
        "AC0000001,Ann,Lee,1970-05-05,(212) 555-0142,ann@example.org,10001,gold\n"
        "AC0000002,Bo,Kim,1980-02-30,,,10001,gold\n"  # impossible date
        'AC0000003,"Smith, Jo",Ng,1990-01-01,,,10001\n'  # one field short
        "AC0000004,Cy,Ito,1990-01-01,,,10001,gold,extra\n"  # one field too many
        "AC0000005,Di,Wu,1990-01-01,,,10001,TIN\n"  # plan not allowed
    )
    (workspace.landing / "acme_2026-03-01.csv").write_text(header + rows, encoding="utf-8")
    ingest_in_process(workspace, TEST_KEYS)
    (audit,) = workspace.table("audit/files").to_pylist()
    assert (audit["rows_read"], audit["rows_valid"], audit["rows_quarantined"]) == (5, 1, 4)
    quarantine = workspace.table("quarantine/members").to_pylist()
    by_record = {r["_record_number"]: r["_reasons"] for r in quarantine}
    assert by_record == {
        2: ["birth_date:invalid_date"],
        3: ["_record:malformed"],
        4: ["_record:malformed"],
        5: ["plan_code:isin"],
    }
    # No plaintext: the raw record's text and the names are ciphertexts. (Checked by shape,
    # not by absence of "Jo": two letters turn up in random base64 now and then.)
    assert "Smith" not in str(quarantine)
    assert all(str(r["first_name"]).startswith("gcm2:") for r in quarantine if r["first_name"])
    assert {r["first_name"] for r in quarantine}.isdisjoint({"Jo", "Smith, Jo", "Bo", "Cy", "Di"})


def test_a_sequence_gap_is_flagged_and_a_zero_sequence_refused(
    spark: SparkSession, workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """`_1` and `_3` of a day without `_2`: `_3` ingests, its audit row and an alert name the
    missing `_2`; when `_2` comes later it ingests without a gap. `_0` beside the day's bare
    name (both sequence 0) is refused instead of sharing its place in the (date, N) order."""
    workspace.landing.mkdir(parents=True)
    header = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"

    def deliver(name: str, member: int) -> None:
        row = f"AC{member:07d},Ann,Lee,1970-05-05,(212) 555-0142,ann@example.org,10001,gold\n"
        (workspace.landing / name).write_text(header + row, encoding="utf-8")

    deliver("acme_2026-03-02_1.csv", 1)
    deliver("acme_2026-03-02_3.csv", 3)
    deliver("acme_2026-03-03.csv", 4)
    deliver("acme_2026-03-03_0.csv", 5)
    with caplog.at_level("WARNING"):
        ingest_in_process(workspace, TEST_KEYS)
    audit = {r["file_name"]: r for r in workspace.table("audit/files").to_pylist()}
    assert audit["acme_2026-03-02_3.csv"]["status"] == "SUCCESS"
    assert audit["acme_2026-03-02_3.csv"]["reason"] == "sequence_gap:missing=2"
    assert audit["acme_2026-03-02_1.csv"]["reason"] is None
    assert audit["acme_2026-03-03.csv"]["status"] == "SUCCESS"
    assert (audit["acme_2026-03-03_0.csv"]["status"], audit["acme_2026-03-03_0.csv"]["reason"]) == (
        "REJECTED",
        "invalid_sequence",
    )
    alerts = [r for r in caplog.records if r.getMessage().startswith("ALERT sequence_gap")]
    assert [getattr(r, "file", None) for r in alerts] == ["acme_2026-03-02_3.csv"]

    deliver("acme_2026-03-02_2.csv", 2)  # the late one arrives
    ingest_in_process(workspace, TEST_KEYS)
    late = [
        r for r in workspace.table("audit/files").to_pylist() if r["file_name"].endswith("_2.csv")
    ]
    assert [(r["status"], r["reason"]) for r in late] == [("SUCCESS", None)]
