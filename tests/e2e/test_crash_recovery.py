"""Crash safety: SIGKILL the ingest job at many points, rerun, and get exactly a clean run.

Each case kills `spark-submit jobs/ingest.py` at one point (named points via LAKEHOUSE_FAULT,
timed kills that land inside an append or a merge commit, and kills at random wall-clock
times), reruns the job without the fault, and compares every table with a clean run's:
same bronze and quarantine rows (no duplicates), same silver rows, one audit outcome per file
with the same counts. Run-specific columns (run ids, timestamps) are left out of the comparison.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REPO, TEST_KEYS, Workspace, run, spark_submit_env

from lakehouse.config import load_clients
from lakehouse.demo import build_demo
from lakehouse.pii.crypto import decrypt_value
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
RANDOM_SECONDS = sorted(round(random.Random(2026).uniform(9, 30), 1) for _ in range(3))


def _write_landing(ws: Workspace) -> None:
    demo = build_demo(load_clients(REPO / "clients"), members_per_client=100)
    demo.write(ws.landing, waves=[1])


KEYS = KeyRing.from_environment(TEST_KEYS)


def _plain(column: str, value: Any) -> str:
    """AES-GCM values differ on every write (random nonces): compare what they decrypt to."""
    if isinstance(value, str) and value.startswith("gcm1:"):
        return "decrypted:" + decrypt_value(value, keys=KEYS, aad=column)
    return repr(value)


def _rows(ws: Workspace, table: str) -> list[tuple[Any, ...]]:
    if not (ws.lake / table).exists():
        return []
    rows = ws.table(table).to_pylist()
    return sorted(
        tuple(sorted((k, _plain(k, v)) for k, v in row.items() if k not in RUN_SPECIFIC))
        for row in rows
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


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("clean")
    ws = Workspace(lake=root / "lake", landing=root / "landing")
    _write_landing(ws)
    result = run(SUBMIT, spark_submit_env(ws, **TEST_KEYS))
    assert result.returncode == 0, result.stdout + result.stderr
    expected = snapshot(ws)
    assert all(len(v) == 1 for v in expected["audit"].values())
    yield expected


def _recover_and_compare(ws: Workspace, clean: dict[str, Any]) -> None:
    again = run(SUBMIT, spark_submit_env(ws, **TEST_KEYS))
    assert again.returncode == 0, again.stdout + again.stderr
    got = snapshot(ws)
    for table in ("bronze", "quarantine", "silver"):
        assert got[table] == clean[table], f"{table} differs from a clean run"
    assert got["audit"] == clean["audit"]


def _id(fault: str) -> str:
    return fault.replace("#", "_n").replace("@", "_at")


@pytest.mark.parametrize("fault", NAMED + DURING, ids=_id)
def test_kill_at_a_point_then_recover(
    workspace: Workspace, clean: dict[str, Any], fault: str
) -> None:
    _write_landing(workspace)
    crashed = run(
        SUBMIT,
        spark_submit_env(workspace, **TEST_KEYS, LAKEHOUSE_FAULT=fault),
    )
    assert crashed.returncode != 0, f"the fault {fault} never fired"
    _recover_and_compare(workspace, clean)


@pytest.mark.parametrize("after_s", RANDOM_SECONDS)
def test_kill_at_a_random_time_then_recover(
    workspace: Workspace, clean: dict[str, Any], after_s: float
) -> None:
    _write_landing(workspace)
    env = spark_submit_env(workspace, **TEST_KEYS)
    process = subprocess.Popen(
        SUBMIT,
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + after_s
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)  # the JVM and the Python driver, at once
    process.wait(timeout=60)
    _recover_and_compare(workspace, clean)


def test_faults_are_inert_without_the_variable(tmp_path: Path) -> None:
    assert "LAKEHOUSE_FAULT" not in os.environ
