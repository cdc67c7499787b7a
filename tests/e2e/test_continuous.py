"""Continuous mode: the job keeps running and picks up files as they land."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from e2e_support import REPO, TEST_KEYS, Workspace, spark_submit_env

pytestmark = pytest.mark.e2e

HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"


def _drop(ws: Workspace, name: str, member: int) -> None:
    row = f"AC{member:07d},Ann,Lee,1970-05-05,,,10001,gold\n"
    tmp = ws.landing / f".{name}.tmp"  # atomic drop: Spark ignores dot-files
    tmp.write_text(HEADER + row, encoding="utf-8")
    tmp.rename(ws.landing / name)


def _audited(ws: Workspace) -> set[str]:
    if not (ws.lake / "audit" / "files").exists():
        return set()
    return {r["file_name"] for r in ws.table("audit/files").to_pylist()}


def _wait_for(ws: Workspace, name: str, process: subprocess.Popen[str], limit: float) -> None:
    deadline = time.monotonic() + limit
    while name not in _audited(ws):
        assert process.poll() is None, "the continuous job stopped by itself"
        assert time.monotonic() < deadline, f"{name} not ingested within {limit}s"
        time.sleep(1)


def test_processing_time_trigger_keeps_ingesting(workspace: Workspace) -> None:
    workspace.landing.mkdir(parents=True)
    _drop(workspace, "acme_2026-05-01.csv", 1)
    process = subprocess.Popen(
        [
            "spark-submit",
            "--master",
            "local[2]",
            "jobs/ingest.py",
            "--client",
            "acme",
            "--trigger",
            "processing_time",
            "--processing-time",
            "2 seconds",
        ],
        cwd=REPO,
        env=spark_submit_env(workspace, **TEST_KEYS),
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(workspace, "acme_2026-05-01.csv", process, 180)
        _drop(workspace, "acme_2026-05-02.csv", 2)  # lands while the job is running
        _wait_for(workspace, "acme_2026-05-02.csv", process, 120)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
    audit = workspace.table("audit/files").to_pylist()
    assert sorted((r["file_name"], r["status"]) for r in audit) == [
        ("acme_2026-05-01.csv", "SUCCESS"),
        ("acme_2026-05-02.csv", "SUCCESS"),
    ]
    assert workspace.table("silver/members").num_rows == 2
