"""Run lock and fault points: the small parts the reliability harness relies on (alert sinks:
tests/unit/alerts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse.errors import LockBusyError
from lakehouse.ingest.lock import ClientLock


def test_second_holder_of_a_client_lock_is_refused_with_the_holder(tmp_path: Path) -> None:
    with ClientLock(tmp_path, "acme", run_id="run-1"):
        with pytest.raises(LockBusyError) as busy, ClientLock(tmp_path, "acme", run_id="run-2"):
            pass
        assert "run-1" in str(busy.value) and busy.value.client == "acme"
        with ClientLock(tmp_path, "globex", run_id="run-2"):  # other clients are independent
            pass
    with ClientLock(tmp_path, "acme", run_id="run-3"):  # released on exit
        pass


def test_a_dead_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    code = (
        "import os, signal; from pathlib import Path\n"
        "from lakehouse.ingest.lock import ClientLock\n"
        f"ClientLock(Path({str(tmp_path)!r}), 'acme', run_id='doomed').__enter__()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == -9
    with ClientLock(tmp_path, "acme", run_id="next"):
        pass


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("before_merge", -9),  # fires at the first reach
        ("before_merge#2", -9),  # fires at the second
        ("before_merge#3", 0),  # never reached three times
        ("after_merge", 0),  # other point
        ("before_merge@50", -9),  # timer: dies during what follows
    ],
)
def test_fault_points(spec: str, expected: int) -> None:
    code = (
        "import time; from lakehouse.ingest.faults import Faults\n"
        "faults = Faults.from_env()\n"
        "faults.reach('before_merge'); faults.reach('before_merge'); time.sleep(0.5)\n"
    )
    env = {"LAKEHOUSE_FAULT": spec, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert result.returncode == expected


@pytest.mark.parametrize("spec", ["before_mege", "before_merge#x", "@50"])
def test_an_unknown_fault_point_is_refused(spec: str) -> None:
    from lakehouse.errors import ConfigError
    from lakehouse.ingest.faults import Faults

    with pytest.raises(ConfigError, match="unknown fault point"):
        Faults.from_env({"LAKEHOUSE_FAULT": spec})
    assert Faults.from_env({}).point is None


def test_release_never_reads_a_held_file_through_a_link(tmp_path: Path) -> None:
    import hashlib

    from lakehouse.config.models import Settings
    from lakehouse.errors import LakehouseError
    from lakehouse.ingest.release import _locate

    settings = Settings(lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing")
    settings.landing_dir.mkdir(parents=True)
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"MemberID\nAC0000001\n")
    sha = hashlib.sha256(outside.read_bytes()).hexdigest()
    (settings.landing_dir / "acme_2026-03-01.csv").symlink_to(outside)
    with pytest.raises(LakehouseError, match="not found with its audited checksum"):
        _locate(settings, "acme", "acme_2026-03-01.csv", sha)
    (settings.landing_dir / "acme_2026-03-01.csv").unlink()
    (settings.landing_dir / "acme_2026-03-01.csv").write_bytes(outside.read_bytes())
    assert _locate(settings, "acme", "acme_2026-03-01.csv", sha).name == "acme_2026-03-01.csv"
