"""The benchmark runs end to end (quick sizes): CI's smoke test. Timings are never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KEYS = {
    "rows", "floor_s", "ingest_s", "rows_per_s", "floor_ratio", "replay_ratio",
    "replay_new_versions", "merge_scale_ratio", "memory_ratio", "peak_rss_mb", "stages",
    "engine", "small_file_s", "noop_run_s",
}  # fmt: skip


def test_quick_benchmark_writes_results_and_charts(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    scratch = tmp_path / "scratch" / "not-there-yet"  # --work is created when missing
    done = subprocess.run(
        [
            sys.executable,
            "scripts/benchmark.py",
            "--quick",
            "--out",
            str(out),
            "--work",
            str(scratch),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= KEYS
    assert results["rows"] == 20_000
    assert results["replay_new_versions"] == 0
    replay = results["details"]["throughput"]["replay"]
    assert replay["new_versions"] == {"bronze": 0, "quarantine": 0, "silver": 0}
    audit = results["details"]["throughput"]["audit"]
    assert audit["status"] == "SUCCESS"
    assert audit["rows_read"] == 20_000 == audit["rows_valid"] + audit["rows_quarantined"]
    assert 0.03 < audit["rows_quarantined"] / 20_000 < 0.07  # --invalid-share 0.05
    merge = results["details"]["merge"]
    for case in merge["cases"].values():
        assert case["change"]["audit"]["rows_updated"] == merge["changes"]
        assert case["change"]["audit"]["rows_inserted"] == 0
    assert set(results["stages"]) == {"read", "bronze", "validate", "quarantine", "silver"}
    assert results["engine"] == "delta-rs"
    small = results["details"]["small_files"]
    assert len(small["files_s"]) == len(small["rows"]) == 6
    assert results["small_file_s"] == small["median_s"] > 0
    assert results["noop_run_s"] > 0
    assert all(m > 0 for m in results["peak_rss_mb"]) and len(results["peak_rss_mb"]) == 2
    for chart in ("throughput.png", "memory.png", "stages.png"):
        assert (out / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert scratch.is_dir() and not list(scratch.iterdir()), "scratch folder left behind"
