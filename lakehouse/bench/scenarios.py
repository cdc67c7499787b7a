"""The benchmark's measurements, each on its own fresh lake under one work folder.

In-process scenarios share one warm Spark session (JVM start excluded, as specified). The
memory scenario runs the real ``lakehouse ingest`` command in a child process, so its peak
covers exactly one ingest's process tree: driver, JVM and Python workers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse.audit import AuditRecord, Status
from lakehouse.bench.data import HEADER, Population, changed, file_name, population
from lakehouse.bench.data import write_member_file as write_file
from lakehouse.bench.measure import PeakRss
from lakehouse.config import load_clients, load_settings
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError
from lakehouse.ingest.stream import run_ingest
from lakehouse.pii.keys import KEY_FILE_ENV, KeyRing, create_dev_key_file

__all__ = ["Bench", "FileRun", "Workspace", "memory_run", "noop_run", "run_summary"]

log = logging.getLogger(__name__)

CLIENT = "bench"
_CLIENT_YAML = Path(__file__).with_name("client.yaml")
_TABLES: tuple[Literal["bronze", "quarantine", "silver"], ...] = ("bronze", "quarantine", "silver")
_FIRST_DAY = dt.date(2026, 1, 5)
# Rows of the demo's files (24-181 per file): what most clients send most days.
SMALL_FILE_ROWS = (24, 60, 100, 181, 45, 130)


@dataclass(frozen=True)
class FileRun:
    """One file through the pipeline: wall seconds, rows, stage seconds and audit counts."""

    rows: int
    bytes: int
    seconds: float
    stages: dict[str, float]
    record: dict[str, Any]
    peak_rss_mb: float | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class Workspace:
    """A work folder with the bench client, a throwaway key file and one lake per case."""

    root: Path
    conf: Path | None
    key_file: Path = field(init=False)
    clients_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.clients_dir = self.root / "clients"
        self.clients_dir.mkdir(exist_ok=True)
        shutil.copyfile(_CLIENT_YAML, self.clients_dir / f"{CLIENT}.yaml")
        # Random keys made for this run only: benchmark lakes are never real data.
        self.key_file = create_dev_key_file(self.root / "keys.json")

    def settings(self, case: str, *, fresh: bool = True) -> Settings:
        base = self.root / case
        if fresh and base.exists():
            shutil.rmtree(base)
        return load_settings(
            self.conf,
            overrides={
                "lake_root": base / "lake",
                "landing_dir": base / "landing",
                "clients_dir": self.clients_dir,
                "archive_mode": "move",  # the archive would hold a second copy of every file
            },
            environ={},
        )

    def clients(self) -> dict[str, ClientConfig]:
        return load_clients(self.clients_dir)

    def keys(self) -> KeyRing:
        return KeyRing.from_environment({KEY_FILE_ENV: str(self.key_file)})


def _day(offset: int) -> dt.date:
    return _FIRST_DAY + dt.timedelta(days=offset)


@dataclass
class Bench:
    """Runs the measurements; ``spark`` must already be started (its start is not timed)."""

    spark: SparkSession
    work: Workspace
    seed: int
    invalid_share: float

    def _drop(self, settings: Settings, members: Population, day: int, *, invalid: float) -> Path:
        path = settings.landing_dir / file_name(CLIENT, _day(day))
        write_file(members, path, invalid_share=invalid, seed=self.seed + day)
        return path

    def ingest(self, settings: Settings, *, new_file: bool = True) -> list[AuditRecord]:
        """One in-process run of the ingest job. ``new_file``: it must ingest exactly one file
        successfully (anything else means the benchmark measured the wrong thing)."""
        result = run_ingest(settings, self.work.clients(), self.work.keys())
        result.raise_for_failures()
        if new_file and [r.status for r in result.records] != [Status.SUCCESS]:
            outcomes = [(r.status, r.reason) for r in result.records]
            raise LakehouseError(f"benchmark file not ingested: {outcomes}")
        return result.records

    def _file_run(self, settings: Settings, path: Path, rows: int) -> FileRun:
        size = path.stat().st_size
        start = time.perf_counter()
        records = self.ingest(settings)
        seconds = time.perf_counter() - start
        (record,) = records
        return FileRun(rows, size, seconds, dict(record.stage_seconds), _summary(record))

    def floor(self, path: Path, out: Path) -> float:
        """Spark reading the CSV and writing Parquet, no logic: the machine's floor."""
        schema = T.StructType([T.StructField(name, T.StringType()) for name in HEADER])
        start = time.perf_counter()
        self.spark.read.csv(str(path), header=True, schema=schema).write.mode("overwrite").parquet(
            str(out)
        )
        return time.perf_counter() - start

    def warm_up(self, rows: int) -> float:
        """A small ingest first: Python workers, pandera and phonenumbers start once per
        session, and that one-off cost is not what the per-size figures are about."""
        settings = self.work.settings("warmup")
        self._drop(settings, population(rows, seed=self.seed), 0, invalid=self.invalid_share)
        start = time.perf_counter()
        self.ingest(settings)
        return time.perf_counter() - start

    def throughput(self, rows: int, repeat: int) -> dict[str, Any]:
        """floor_s and ingest_s on the same ``rows``-row file (medians of ``repeat``), then
        replays of the ingested file."""
        members = population(rows, seed=self.seed)
        floors, runs = [], []
        for attempt in range(repeat):
            settings = self.work.settings(f"ingest-{attempt}")
            path = self._drop(settings, members, 0, invalid=self.invalid_share)
            floors.append(self.floor(path, self.work.root / f"floor-{attempt}"))
            runs.append(self._file_run(settings, path, rows))
        median = sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]
        floor_s = statistics.median(floors)
        return {
            "floor_runs_s": [round(s, 2) for s in floors],
            "ingest_runs_s": [round(run.seconds, 2) for run in runs],
            "floor_s": round(floor_s, 2),
            "ingest_s": round(median.seconds, 2),
            "file_bytes": median.bytes,
            "stages": median.stages,
            "audit": median.record,
            "replay": self.replay(self.work.settings(f"ingest-{repeat - 1}", fresh=False)),
        }

    def replay(self, settings: Settings) -> dict[str, Any]:
        """Run the job again over the already-ingested file: once as is (the stream has it in
        its checkpoint), once with the checkpoint deleted (the file arrives again)."""
        engine = get_engine(settings)
        before = {t: engine.version(settings.table_path(t, "members")) for t in _TABLES}
        archived = sorted(settings.archive_root.rglob("*.csv"))
        start = time.perf_counter()
        self.ingest(settings, new_file=False)
        same_checkpoint = time.perf_counter() - start
        shutil.rmtree(settings.checkpoints)
        for path in archived:  # put the file back where it arrived
            shutil.copyfile(path, settings.landing_dir / path.name)
        start = time.perf_counter()
        records = self.ingest(settings, new_file=False)
        redelivered = time.perf_counter() - start
        after = {t: engine.version(settings.table_path(t, "members")) for t in _TABLES}
        return {
            "same_checkpoint_s": round(same_checkpoint, 2),
            "redelivered_s": round(redelivered, 2),
            "new_versions": {t: (after[t] or 0) - (before[t] or 0) for t in _TABLES},
            "records": [_summary(r) for r in records],
        }

    def small_files(self, sizes: tuple[int, ...] = SMALL_FILE_ROWS) -> dict[str, Any]:
        """Demo-sized files in one warm run: each file's own seconds (its audit row's start to
        finish, every stage and the commit point), and their median."""
        settings = self.work.settings("small")
        for day, rows in enumerate(sizes):
            members = population(rows, seed=self.seed + 100 + day)
            self._drop(settings, members, day, invalid=self.invalid_share)
        start = time.perf_counter()
        records = self.ingest(settings, new_file=False)
        wall = time.perf_counter() - start
        done = [r for r in records if r.status in (Status.SUCCESS, Status.HELD)]
        if len(done) != len(sizes):
            raise LakehouseError(
                f"small files not ingested: {[(r.status, r.reason) for r in records]}"
            )
        seconds = [(r.finished_at - r.started_at).total_seconds() for r in done if r.finished_at]
        return {
            "rows": list(sizes),
            "files_s": [round(x, 3) for x in seconds],
            "median_s": round(statistics.median(seconds), 3),
            "run_s": round(wall, 2),
            "stages": [dict(r.stage_seconds) for r in done],
        }

    def merge_scale(self, bases: tuple[int, int], changes: int) -> dict[str, Any]:
        """Merge the same number of changed members into silver tables of two sizes."""
        cases = {}
        for base in bases:
            settings = self.work.settings(f"merge-{base}")
            members = population(base, seed=self.seed)
            path = self._drop(settings, members, 0, invalid=0.0)
            load = self._file_run(settings, path, base)
            delta = changed(members, changes, seed=self.seed + 1)
            path = self._drop(settings, delta, 1, invalid=0.0)
            merge = self._file_run(settings, path, changes)
            if merge.record["rows_updated"] != changes:
                raise LakehouseError(
                    f"merge benchmark: expected {changes} updates, got {merge.record}"
                )
            cases[base] = {"load": run_summary(load), "change": run_summary(merge)}
        small, large = (cases[b]["change"] for b in bases)
        return {
            "bases": list(bases),
            "changes": changes,
            "silver_s": [small["stages"]["silver"], large["stages"]["silver"]],
            "file_s": [small["seconds"], large["seconds"]],
            "cases": cases,
        }


def _ingest_command(work: Workspace, settings: Settings) -> tuple[list[str], dict[str, str]]:
    """The real ``lakehouse ingest`` for this case's lake, as a child process would run it."""
    command = [
        sys.executable,
        "-m",
        "lakehouse.cli",
        "--log-level",
        "WARNING",
        "ingest",
        "--lake-root",
        str(settings.lake_root),
        "--landing",
        str(settings.landing_dir),
        "--clients-dir",
        str(work.clients_dir),
        "--json",
    ]
    if work.conf is not None:
        command += ["--conf", str(work.conf)]
    env = {**os.environ, KEY_FILE_ENV: str(work.key_file), "LAKEHOUSE_ARCHIVE_MODE": "move"}
    return command, env


def noop_run(work: Workspace, case: str) -> float:
    """Wall seconds of the real ``lakehouse ingest`` in a child process on ``case``'s lake
    when nothing is new: JVM start, Spark session, the streams finding no file, exit."""
    command, env = _ingest_command(work, work.settings(case, fresh=False))
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or json.loads(done.stdout or "[]"):
        raise LakehouseError(f"no-op run was not one (exit {done.returncode}): {done.stdout[:300]}")
    return seconds


def memory_run(work: Workspace, case: str, target_bytes: int, *, seed: int) -> FileRun:
    """Ingest a ``target_bytes`` file with the real CLI in a child process; sample its tree."""
    settings = work.settings(case)
    rows = max(1, target_bytes // 91)  # ~91 bytes per generated record
    members = population(rows, seed=seed)
    path = settings.landing_dir / file_name(CLIENT, _day(0))
    size = write_file(members, path, invalid_share=0.05, seed=seed)
    del members
    command, env = _ingest_command(work, settings)
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    # Rooted at the child from the first sample: the benchmark's own process tree (its warm
    # Spark session) must never count.
    with PeakRss(child.pid, interval=0.1) as peak:
        out, _ = child.communicate()
    if child.returncode != 0:
        raise LakehouseError(f"benchmark ingest of {size} bytes failed (exit {child.returncode})")
    (row,) = json.loads(out)
    seconds = (
        dt.datetime.fromisoformat(row["finished_at"]) - dt.datetime.fromisoformat(row["started_at"])
    ).total_seconds()
    stages = json.loads(row["stage_seconds"]) if row.get("stage_seconds") else {}
    return FileRun(rows, size, seconds, stages, row, peak_rss_mb=peak.peak_mb)


_SUMMARY_KEYS = (
    "status", "rows_read", "rows_valid", "rows_quarantined",
    "rows_inserted", "rows_updated", "rows_unchanged", "rows_stale",
)  # fmt: skip


def _summary(record: AuditRecord) -> dict[str, Any]:
    row = record.as_row()
    return {k: row[k] for k in _SUMMARY_KEYS}


def run_summary(run: FileRun) -> dict[str, Any]:
    return {
        "rows": run.rows,
        "bytes": run.bytes,
        "seconds": round(run.seconds, 2),
        "rows_per_s": round(run.rows_per_s),
        "stages": run.stages,
        "audit": run.record,
        **({"peak_rss_mb": run.peak_rss_mb} if run.peak_rss_mb is not None else {}),
    }
