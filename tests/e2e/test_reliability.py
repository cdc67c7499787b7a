"""Circuit breaker, release, and concurrent runs, through the real entry points."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import (
    REPO,
    TEST_KEYS,
    AlertConf,
    Workspace,
    ingest_in_process,
    release_in_process,
    run,
    spark_submit_env,
)
from pyspark.sql import SparkSession
from pytest_httpserver import HTTPServer

from lakehouse.config import load_clients
from lakehouse.demo import build_demo
from lakehouse.errors import RunFailed
from lakehouse.ingest.lock import ClientLock

pytestmark = pytest.mark.e2e

SUBMIT = ["spark-submit", "--master", "local[2]", "jobs/ingest.py"]
HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"
PD_KEY_ENV = "LAKEHOUSE_PAGERDUTY_ROUTING_KEY"


def _pager(httpserver: HTTPServer) -> AlertConf:
    """A PagerDuty-compatible receiver on 127.0.0.1, as the runs' only alert sink."""
    httpserver.expect_request("/v2/enqueue", method="POST").respond_with_data("", status=202)
    sink = {
        "name": "oncall",
        "type": "pagerduty",
        "routing_key_secret": PD_KEY_ENV,
        "url": httpserver.url_for("/v2/enqueue"),
    }
    return AlertConf({"sinks": [sink]}, {PD_KEY_ENV: "e2e-routing-key-0123456789abcdef"})


def _events(httpserver: HTTPServer) -> list[tuple[str, str]]:
    """(event_action, dedup_key) of every event the receiver got, in order."""
    bodies = [request.get_json() for request, _ in httpserver.log]
    return [(body["event_action"], body["dedup_key"]) for body in bodies]


def _acme_file(ws: Workspace, name: str, good: int, bad: int) -> None:
    rows = [f"AC{i:07d},Ann,Lee,1970-05-05,,,10001,gold\n" for i in range(1, good + 1)]
    rows += [
        f"AC{i:07d},Ann,Lee,not-a-date,,,10001,gold\n" for i in range(good + 1, good + bad + 1)
    ]
    ws.landing.mkdir(parents=True, exist_ok=True)
    (ws.landing / name).write_text(HEADER + "".join(rows), encoding="utf-8")


def test_a_file_over_the_threshold_is_held_then_released(
    spark: SparkSession,
    workspace: Workspace,
    caplog: pytest.LogCaptureFixture,
    httpserver: HTTPServer,
    tmp_path: Path,
) -> None:
    """Held: exactly one file_held alert at the receiver; the release resolves it, once."""
    alerts = _pager(httpserver)
    env = spark_submit_env(workspace, **TEST_KEYS, **alerts.secrets)
    _acme_file(workspace, "acme_2026-03-01.csv", good=6, bad=4)  # 40% > acme's 20%
    # The job's code on this session's Spark (spark-submit's own path: test_demo, the crash
    # harness); the release below is the real command.
    logger = logging.getLogger("lakehouse")
    propagate, logger.propagate = logger.propagate, True
    try:
        with caplog.at_level(logging.WARNING, logger="lakehouse.alerts"):
            ingest_in_process(workspace, TEST_KEYS, alerts=alerts)
    finally:
        logger.propagate = propagate
    (audit,) = workspace.table("audit/files").to_pylist()
    assert audit["status"] == "HELD"
    assert audit["reason"] == "invalid_ratio:0.4000>0.2"
    assert (audit["rows_read"], audit["rows_valid"], audit["rows_quarantined"]) == (10, 6, 4)
    assert workspace.table("bronze/members").num_rows == 10
    assert workspace.table("quarantine/members").num_rows == 4
    assert not (workspace.lake / "silver" / "members").exists()
    assert any(r.getMessage().startswith("ALERT file_held") for r in caplog.records)
    key = "lakehouse:file_held:acme:acme_2026-03-01.csv"
    assert _events(httpserver) == [("trigger", key)]

    conf = str(alerts.conf_file(tmp_path))  # the real command, with the same alert sink
    release = ["release", "--file", "acme_2026-03-01.csv", "--conf", conf]
    released = run([sys.executable, "-m", "lakehouse", *release], env)
    assert released.returncode == 0, released.stdout + released.stderr
    assert "released acme_2026-03-01.csv: status=SUCCESS inserted=6" in released.stdout
    statuses = [r["status"] for r in workspace.table("audit/files").to_pylist()]
    assert sorted(statuses) == ["HELD", "SUCCESS"]
    assert workspace.table("silver/members").num_rows == 6
    assert workspace.table("bronze/members").num_rows == 10  # not appended twice
    assert _events(httpserver) == [("trigger", key), ("resolve", key)]


def test_a_failed_run_and_a_failed_file_each_alert_once_and_resolve_after_the_fix(
    spark: SparkSession, workspace: Workspace, httpserver: HTTPServer
) -> None:
    """A run that fails (its lock folder is a file) raises one run_failed; the next run
    completes and resolves it, but its file fails (silver's path is a file): one
    file_failed; once fixed, the retried file succeeds and resolves that, once."""
    alerts = _pager(httpserver)
    _acme_file(workspace, "acme_2026-03-01.csv", good=3, bad=0)
    locks = workspace.lake / "_locks"
    locks.parent.mkdir(parents=True)
    locks.write_text("not a folder", encoding="utf-8")
    with pytest.raises(OSError):
        ingest_in_process(workspace, TEST_KEYS, alerts=alerts)
    run_key = "lakehouse:run_failed:-:ingest"
    assert _events(httpserver) == [("trigger", run_key)]
    (trigger,) = [request.get_json() for request, _ in httpserver.log]
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["custom_details"]["figures"]["error_class"] in (
        "FileExistsError",
        "NotADirectoryError",
    )

    locks.unlink()
    silver = workspace.lake / "silver" / "members"
    silver.parent.mkdir(parents=True)
    silver.write_text("not a table", encoding="utf-8")
    with pytest.raises(RunFailed):
        ingest_in_process(workspace, TEST_KEYS, alerts=alerts)
    file_key = "lakehouse:file_failed:acme:acme_2026-03-01.csv"
    assert _events(httpserver)[1:] == [("trigger", file_key), ("resolve", run_key)]

    silver.unlink()
    ingest_in_process(workspace, TEST_KEYS, alerts=alerts)  # the retry succeeds
    assert _events(httpserver)[3:] == [("resolve", file_key)]
    statuses = [r["status"] for r in workspace.table("audit/files").to_pylist()]
    assert sorted(statuses) == ["FAILED", "SUCCESS"]


def test_a_release_killed_after_its_merge_is_completed_by_the_next_release(
    spark: SparkSession, workspace: Workspace
) -> None:
    """Release ends at the same commit point as the streaming run, with the same fault points:
    a release killed between its silver commit and its audit row leaves the file releasable,
    and the next release reuses that commit (no second merge) and audits its counts."""
    name = "acme_2026-03-01.csv"
    _acme_file(workspace, name, good=6, bad=4)
    ingest_in_process(workspace, TEST_KEYS)  # HELD: 40% > acme's 20%
    env = spark_submit_env(workspace, **TEST_KEYS, LAKEHOUSE_FAULT="after_merge")
    crashed = run([sys.executable, "-m", "lakehouse", "release", "--file", name], env)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    assert [r["status"] for r in workspace.table("audit/files").to_pylist()] == ["HELD"]
    merged = workspace.version("silver/members")
    assert workspace.table("silver/members").num_rows == 6  # committed before the kill

    record = release_in_process(workspace, TEST_KEYS, name)
    assert (record.status, record.reason, record.rows_inserted) == ("SUCCESS", "released", 6)
    assert workspace.version("silver/members") == merged  # the committed merge, reused
    statuses = sorted(r["status"] for r in workspace.table("audit/files").to_pylist())
    assert statuses == ["HELD", "SUCCESS"]
    assert workspace.table("bronze/members").num_rows == 10  # not appended twice
    assert workspace.table("quarantine/members").num_rows == 4


def test_two_clients_ingest_at_the_same_time(workspace: Workspace) -> None:
    demo = build_demo(load_clients(REPO / "clients"), members_per_client=200)
    demo.write(workspace.landing, waves=[1])
    env = spark_submit_env(workspace, **TEST_KEYS)
    procs = [
        subprocess.Popen(
            [*SUBMIT, "--client", client],
            cwd=REPO,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for client in ("acme", "globex")
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    audit = workspace.table("audit/files").to_pylist()
    wave1 = {f.name for f in demo.files if f.wave == 1}
    assert Counter(r["file_name"] for r in audit) == Counter({n: 1 for n in wave1})
    assert {r["status"] for r in audit} == {"SUCCESS"}
    inserted: Counter[str] = Counter()
    for row in audit:
        if row["dataset"] == "members":  # acme's readings have a table of their own
            inserted[row["client_id"]] += row["rows_inserted"]
    silver = workspace.table("silver/members")
    assert Counter(silver.column("client_id").to_pylist()) == inserted
    assert set(inserted) == {"acme", "globex"} and min(inserted.values()) > 100


def test_a_second_run_for_the_same_client_skips_it_with_a_clear_message(
    spark: SparkSession, workspace: Workspace
) -> None:
    _acme_file(workspace, "acme_2026-03-01.csv", good=5, bad=0)
    env = spark_submit_env(workspace, **TEST_KEYS)
    with ClientLock(workspace.lake / "_locks", "acme", run_id="other-run"):
        loser = run([*SUBMIT, "--client", "acme"], env)
    assert loser.returncode == 0, loser.stdout + loser.stderr
    assert "skipped acme: 'acme' is being ingested by another run" in loser.stdout + loser.stderr
    assert "other-run" in loser.stdout + loser.stderr
    assert not (workspace.lake / "bronze").exists()
    ingest_in_process(workspace, TEST_KEYS)  # the lock is free again: this run goes ahead
    (audit,) = workspace.table("audit/files").to_pylist()
    assert audit["status"] == "SUCCESS" and audit["rows_inserted"] == 5
