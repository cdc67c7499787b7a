"""Backfills as users run them: `scripts/run_pipeline.sh --backfill` (which runs
`spark-submit jobs/backfill.py`), killed `spark-submit jobs/backfill.py` runs, and the job's
own code in-process, on a copy of the demo lake. Silver is rebuilt from the
archive, a second identical backfill changes no table, and a dry run writes nothing. The bronze
source is covered by tests/unit/ops/test_backfill.py (the rebuilt file reads back identical)."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
from e2e_support import DemoLake, Workspace, backfill_in_process, run, spark_submit_env
from pyspark.sql import SparkSession

pytestmark = pytest.mark.e2e

TABLES = ("bronze/members", "quarantine/members", "silver/members")
RANGE = ["--client", "acme", "--from", "2025-12-01", "--to", "2026-02-28"]
SUBMIT = ["spark-submit", "--master", "local[2]", "jobs/backfill.py"]


@pytest.fixture(scope="module")
def demo_copy(demo_lake: DemoLake, tmp_path_factory: pytest.TempPathFactory) -> DemoLake:
    return demo_lake.copy(tmp_path_factory.mktemp("backfill"))


@pytest.fixture(scope="module")
def lake(demo_copy: DemoLake) -> Workspace:
    return demo_copy.workspace


@pytest.fixture(scope="module")
def key_env(demo_copy: DemoLake) -> dict[str, str]:
    """The demo's key file, as a key holder's backfill would be given."""
    return {"LAKEHOUSE_KEY_FILE": str(demo_copy.key_file)}


def _silver_rows(ws: Workspace, client: str) -> set[tuple[object, ...]]:
    rows = ws.table("silver/members").to_pylist()
    return {
        (r["member_id"], r["_row_hash"], r["_source_file"], r["_creation_date"])
        for r in rows
        if r["client_id"] == client
    }


def _versions(ws: Workspace) -> dict[str, int]:
    return {t: ws.version(t) for t in TABLES}


def test_dry_run_lists_the_files_and_writes_nothing(lake: Workspace) -> None:
    before, audit_rows = _versions(lake), lake.table("audit/files").num_rows
    result = run(
        ["./scripts/run_pipeline.sh", "--backfill", *RANGE, "--dry-run"], spark_submit_env(lake)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if line.startswith("acme_")]
    assert [line[0] for line in lines] == [
        "acme_2025-12-29.csv",
        "acme_2026-01-05.csv",
        "acme_2026-01-12.csv",
        "acme_2026-02-02.csv",
        "acme_2026-02-03.csv",
    ]
    assert lines[0][1:3] == ["2025-12-29", "0"]  # creation date, sequence
    assert lines[-1][-1] == "duplicate_of:acme_2026-01-05.csv"
    assert all(line[5] in ("SUCCESS", "DUPLICATE") for line in lines)  # last audit status
    assert "dry run: nothing is written" in result.stdout
    assert _versions(lake) == before and lake.table("audit/files").num_rows == audit_rows


def test_lost_silver_is_rebuilt_from_the_archive(lake: Workspace, key_env: dict[str, str]) -> None:
    expected = _silver_rows(lake, "acme")
    globex = _silver_rows(lake, "globex")
    before = {t: lake.version(t) for t in TABLES[:2]}
    shutil.rmtree(lake.lake / "silver")
    result = run(
        ["./scripts/run_pipeline.sh", "--backfill", *RANGE], spark_submit_env(lake, **key_env)
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "progress=5/5" in output  # one progress line per file
    assert _silver_rows(lake, "acme") == expected  # same rows, whatever the order of files
    assert _silver_rows(lake, "globex") == set() and globex  # other clients untouched
    assert {t: lake.version(t) for t in TABLES[:2]} == before  # bronze/quarantine: once per SHA
    rows = [r for r in lake.table("audit/files").to_pylist() if r["run_id"].startswith("backfill-")]
    assert Counter(r["status"] for r in rows) == {"SUCCESS": 4, "DUPLICATE": 1}
    assert {r["reason"] for r in rows if r["status"] == "SUCCESS"} == {"backfill"}
    late = next(r for r in rows if r["file_name"] == "acme_2025-12-29.csv")
    assert late["rows_stale"] == 0 and late["rows_inserted"] == 28  # first in, so it inserts
    update = next(r for r in rows if r["file_name"] == "acme_2026-02-02.csv")
    assert update["rows_updated"] == 23  # newer data still wins over the late file


def test_second_identical_backfill_changes_no_table(
    spark: SparkSession, lake: Workspace, key_env: dict[str, str]
) -> None:
    """The job's own code on this session's Spark: the script's path ran in the test above."""
    before = _versions(lake)
    runs = {r["run_id"] for r in lake.table("audit/files").to_pylist()}
    backfill_in_process(lake, dict(key_env), client_id="acme", start=RANGE[3], end=RANGE[5])
    assert _versions(lake) == before
    new = [r for r in lake.table("audit/files").to_pylist() if r["run_id"] not in runs]
    assert len(new) == 5 and all(r["run_id"].startswith("backfill-") for r in new)
    assert sum(r["rows_inserted"] or 0 for r in new) == 0
    assert sum(r["rows_updated"] or 0 for r in new) == 0


def test_a_backfill_killed_between_files_converges_on_the_next(
    spark: SparkSession, lake: Workspace, key_env: dict[str, str]
) -> None:
    """Backfills end at the same commit point as the streaming run, with its fault points: a
    backfill killed before its third file's audit row (that file's merge committed) leaves
    two audited files; the next backfill converges on the same silver rows."""
    expected = _silver_rows(lake, "acme")
    before = {t: lake.version(t) for t in TABLES[:2]}
    runs = {r["run_id"] for r in lake.table("audit/files").to_pylist()}
    shutil.rmtree(lake.lake / "silver")
    env = spark_submit_env(lake, **key_env, LAKEHOUSE_FAULT="before_audit#3")
    crashed = run([*SUBMIT, *RANGE], env)
    assert crashed.returncode != 0, crashed.stdout + crashed.stderr
    audited = [r for r in lake.table("audit/files").to_pylist() if r["run_id"] not in runs]
    assert len(audited) == 2  # the third file's merge committed, its audit row never came

    records = backfill_in_process(
        lake, dict(key_env), client_id="acme", start=RANGE[3], end=RANGE[5]
    )
    assert Counter(r.status for r in records) == {"SUCCESS": 4, "DUPLICATE": 1}
    assert _silver_rows(lake, "acme") == expected
    assert {t: lake.version(t) for t in TABLES[:2]} == before  # bronze/quarantine: once per SHA
