"""One file through the stages (``process_file``): what it trusts about the file it reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.audit import Status
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.ingest.file import process_file
from lakehouse.ingest.job import Job
from lakehouse.ingest.outcome import FileAttempt, StageClock
from lakehouse.landing.checksum import FileChangedDuringReadError, scan_file
from lakehouse.landing.filenames import parse_file_name
from lakehouse.pii.keys import KeyRing

HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"
NAME = "acme_2026-03-01.csv"


def _job(spark: SparkSession, tmp_path: Path, clients: dict[str, ClientConfig]) -> Job:
    keys = KeyRing(
        token_key_id="t",
        keys={"t": bytes([7]) * 32, "e": bytes([8]) * 32},
        encrypt_key_id="e",
    )
    settings = Settings(lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing")
    return Job(spark, settings, clients, keys, DeltaRsEngine(), run_id="test-run")


def _attempt(sha256: str) -> FileAttempt:
    return FileAttempt(client_id="acme", file_name=NAME, file_size=None, file_sha256=sha256)


def test_a_file_rewritten_after_its_checksum_is_not_ingested(
    spark: SparkSession, tmp_path: Path, clients: dict[str, ClientConfig]
) -> None:
    job = _job(spark, tmp_path, clients)
    path = job.settings.landing_dir / NAME
    path.parent.mkdir(parents=True)
    path.write_text(HEADER + "AC0000001,Ann,Lee,1970-05-05,,,10001,gold\n", encoding="utf-8")
    scan = scan_file(path, "utf-8")
    # The sender rewrites the file in place between the checksum and Spark's read.
    path.write_text(HEADER + "AC0000002,Bo,Kim,1980-02-02,,,10001,gold\n", encoding="utf-8")
    attempt, clock = _attempt(scan.sha256), StageClock()
    with pytest.raises(FileChangedDuringReadError) as changed:
        process_file(job, parse_file_name(NAME, clients), path, attempt, clock, scan=scan)
    assert changed.value.file == NAME and "Kim" not in str(changed.value)
    assert not (job.settings.lake_root / "bronze").exists()  # nothing written

    # Unchanged since its own checksum, the same file goes through.
    scan = scan_file(path, "utf-8")
    attempt = _attempt(scan.sha256)
    landing = parse_file_name(NAME, clients)
    outcome = process_file(job, landing, path, attempt, StageClock(), scan=scan)
    assert outcome.status == Status.SUCCESS and outcome.rows_inserted == 1
