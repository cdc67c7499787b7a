"""Crash safety: SIGKILL the ingest job at many points, recover, and get exactly a clean run.

Each case kills a real `spark-submit jobs/ingest.py` process at one point (named points via
LAKEHOUSE_FAULT, timed kills that land inside an append or a merge commit, and kills at random
times into the run), recovers, and compares every table with one clean run's: same bronze and
quarantine rows (no duplicates), same silver rows, one audit outcome per file with the same
counts. Run-specific columns (run ids, timestamps) are left out of the comparison.

The kill has to be a separate process; the recovery does not. Most cases recover with the
job's own code on this test session's warm Spark (``ingest_in_process``); two recover with
`spark-submit` again, so the script's own path from a crashed lake is proven too. The crashed
runs go ahead two at a time in the background while earlier cases recover and compare.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from e2e_support import REPO, TEST_KEYS, Workspace, ingest_in_process, run, spark_submit_env
from pyspark.sql import SparkSession

from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig
from lakehouse.demo import DemoDataset, build_demo
from lakehouse.pii.access import Zone, reveal_table
from lakehouse.pii.keys import KeyRing

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBMIT = ["spark-submit", "--master", "local[2]", "jobs/ingest.py"]
RUN_SPECIFIC = {"_run_id", "_ingested_at", "_updated_at"}
AUDIT_KEEP = (
    "status",
    "reason",
    "file_sha256",
    "rows_read",
    "rows_valid",
    "rows_quarantined",
    "rows_inserted",
    "rows_updated",
    "rows_unchanged",
    "rows_stale",
)

NAMED = [
    "file_start#1",
    "file_start#3",
    "before_bronze#1",
    "before_bronze#4",
    "after_bronze#1",
    "after_bronze#5",
    "before_quarantine#2",
    "after_quarantine#1",
    "after_quarantine#6",
    "before_merge#1",
    "before_merge#3",
    "after_merge#1",
    "after_merge#4",
    "before_audit#1",
    "before_audit#5",
    "after_audit#1",
    "after_audit#6",
    "batch_end#1",
    "batch_end#2",
]
# Timers started at a point fire inside the operation that follows it.
DURING = [
    "before_bronze#2@40",  # during a bronze append
    "before_quarantine#3@40",  # during a quarantine append
    "before_merge#2@30",  # during a merge commit
    "before_merge#5@60",  # during a merge commit
    "before_audit#3@5",  # during the audit append
]
# Seconds after the job logs "run started" (so a slow JVM start does not eat the window):
# the six files take ~20-40 s from there. One generator: three different times.
_RNG = random.Random(2026)
RANDOM_SECONDS = sorted(round(_RNG.uniform(1, 25), 1) for _ in range(3))
# Cases recovered by `spark-submit` itself: a named point between two files' commits, and a
# kill inside a merge commit.
SUBPROCESS_RECOVERY = {"after_merge#4", "before_merge#5@60"}
CRASH_WORKERS = 2  # concurrent crashed runs; a third process (this one) recovers meanwhile

KEYS = KeyRing.from_environment(TEST_KEYS)


@cache
def _clients() -> dict[str, ClientConfig]:
    return load_clients(REPO / "clients")


@cache
def _demo() -> DemoDataset:
    """Wave 1's member files (six). The harness compares the member tables; a readings file
    goes through the same commit point, and its cold first run (~12 s of a ~57 s crashed run)
    would be paid by every case that gets past it (DesignDoc, "Suite time")."""
    members = {feed: c for feed, c in _clients().items() if c.measurements is None}
    return build_demo(members, members_per_client=100)


def _write_landing(ws: Workspace) -> None:
    _demo().write(ws.landing, waves=[1])


def _rows(ws: Workspace, table: str) -> list[tuple[Any, ...]]:
    """A table's rows, comparable across runs: AES-GCM values differ on every write (random
    nonces), so encrypted columns are compared by what they decrypt to."""
    if not (ws.lake / table).exists():
        return []
    data = ws.table(table)
    zone: Zone = table.split("/")[0]  # type: ignore[assignment]
    rows = []
    for client_id in sorted(set(data.column("client_id").to_pylist())):
        part = data.filter(pc.equal(data.column("client_id"), client_id))
        rows += reveal_table(part, _clients()[client_id], KEYS, zone=zone).table.to_pylist()
    assert not [v for r in rows for v in r.values() if isinstance(v, str) and v[:5] == "gcm2:"]
    return sorted(
        tuple(sorted((k, repr(v)) for k, v in row.items() if k not in RUN_SPECIFIC)) for row in rows
    )


def snapshot(ws: Workspace) -> dict[str, Any]:
    audit = ws.table("audit/files").to_pylist()
    outcomes: dict[str, list[tuple[Any, ...]]] = {}
    for row in audit:
        outcomes.setdefault(str(row["file_name"]), []).append(tuple(row[k] for k in AUDIT_KEEP))
    return {
        "bronze": _rows(ws, "bronze/members"),
        "quarantine": _rows(ws, "quarantine/members"),
        "silver": _rows(ws, "silver/members"),
        "audit": {name: sorted(v) for name, v in outcomes.items()},
    }


@dataclass(frozen=True)
class Crashed:
    """A workspace whose job was killed, and how it ended."""

    workspace: Workspace
    returncode: int
    output: str


def _crash_at_point(ws: Workspace, fault: str) -> Crashed:
    result = run(SUBMIT, spark_submit_env(ws, **TEST_KEYS, LAKEHOUSE_FAULT=fault))
    return Crashed(ws, result.returncode, result.stdout + result.stderr)


def _crash_at_time(ws: Workspace, after_s: float) -> Crashed:
    log = ws.lake.parent / "job.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            SUBMIT,
            cwd=REPO,
            env=spark_submit_env(ws, **TEST_KEYS),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while process.poll() is None and "run started" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, "the job never started its run"
            time.sleep(0.1)
        kill_at = time.monotonic() + after_s
        while process.poll() is None and time.monotonic() < kill_at:
            time.sleep(0.1)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the JVM and the Python driver, at once
        process.wait(timeout=60)
    return Crashed(ws, process.returncode, log.read_text(errors="replace"))


def _case_id(case: str) -> str:
    return case.replace("#", "_n").replace("@", "_at")


CASES = [*NAMED, *DURING, *(f"random@{s}" for s in RANDOM_SECONDS)]


@pytest.fixture(scope="module")
def crashes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Crashed]]]:
    """The crashed run of every selected case, started in the background in case order."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_kill_then_recover"
    ]
    pool = ThreadPoolExecutor(max_workers=CRASH_WORKERS, thread_name_prefix="crash")
    futures: dict[str, Future[Crashed]] = {}
    for case in selected:
        root = tmp_path_factory.mktemp(_case_id(case))
        ws = Workspace(lake=root / "lake", landing=root / "landing")
        _write_landing(ws)
        if case.startswith("random@"):
            futures[case] = pool.submit(_crash_at_time, ws, float(case.split("@")[1]))
        else:
            futures[case] = pool.submit(_crash_at_point, ws, case)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def clean(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One clean run, shared by every case."""
    root = tmp_path_factory.mktemp("clean")
    ws = Workspace(lake=root / "lake", landing=root / "landing")
    _write_landing(ws)
    ingest_in_process(ws, TEST_KEYS)
    expected = snapshot(ws)
    assert all(len(v) == 1 for v in expected["audit"].values())
    assert len(expected["audit"]) == sum(1 for f in _demo().files if f.wave == 1)
    return expected


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_kill_then_recover(
    spark: SparkSession,
    crashes: dict[str, Future[Crashed]],
    clean: dict[str, Any],
    case: str,
) -> None:
    crashed = crashes[case].result()
    ws = crashed.workspace
    if not case.startswith("random@"):
        assert crashed.returncode != 0, f"the fault {case} never fired:\n{crashed.output[-3000:]}"
    if case in SUBPROCESS_RECOVERY:
        again = run(SUBMIT, spark_submit_env(ws, **TEST_KEYS))
        assert again.returncode == 0, again.stdout + again.stderr
    else:
        ingest_in_process(ws, TEST_KEYS)
    got = snapshot(ws)
    for table in ("bronze", "quarantine", "silver"):
        assert got[table] == clean[table], f"{table} differs from a clean run"
    assert got["audit"] == clean["audit"]


def test_faults_are_inert_without_the_variable(tmp_path: Path) -> None:
    assert "LAKEHOUSE_FAULT" not in os.environ
