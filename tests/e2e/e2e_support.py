"""Helpers for end-to-end tests: run the real scripts and read the tables back with deltalake."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from deltalake import DeltaTable

if TYPE_CHECKING:
    from lakehouse.alerts import Alerter
    from lakehouse.audit import AuditRecord
    from lakehouse.config.models import Settings
    from lakehouse.demo import DemoDataset
    from lakehouse.ingest.stream import RunResult

REPO = Path(__file__).resolve().parents[2]
TEST_TOKEN_KEY = "6c616b65686f7573652d6532652d746573742d6b65792d33322d6279746573212121"  # 34 bytes
# Every purpose's key (token, encrypt, siv), as a real deployment would export them.
TEST_KEYS = {
    "LAKEHOUSE_TOKEN_KEY": TEST_TOKEN_KEY,
    "LAKEHOUSE_ENCRYPT_KEY": "11" * 32,
    "LAKEHOUSE_SIV_KEY": "22" * 32,
}
# What `--demo` uses when no key is configured (lakehouse/cli/ingest.py, relative to the cwd).
DEV_KEY_FILE = REPO / ".lakehouse" / "dev-keys.json"


@dataclass(frozen=True)
class Workspace:
    lake: Path
    landing: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
        env.update(LAKEHOUSE_LAKE_ROOT=str(self.lake), LAKEHOUSE_LANDING_DIR=str(self.landing))
        env.update(extra)
        return env

    def table(self, relative: str) -> pa.Table:
        return pa.table(DeltaTable(str(self.lake / relative)).to_pyarrow_dataset().to_table())

    def version(self, relative: str) -> int:
        return int(DeltaTable(str(self.lake / relative)).version())


def run(
    args: list[str], env: Mapping[str, str], timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    """Run a command from the repo root; its output is kept for assertions and failures."""
    return subprocess.run(
        args, cwd=REPO, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )


def spark_submit_env(workspace: Workspace, **extra: str) -> dict[str, str]:
    """PATH/SPARK_HOME so the venv's spark-submit works (see DesignDoc.md)."""
    import pyspark

    venv_bin = str(Path(sys.executable).parent)
    return workspace.env(
        PATH=f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        SPARK_HOME=str(Path(pyspark.__file__).parent),
        PYSPARK_PYTHON=sys.executable,
        **extra,
    )


@dataclass(frozen=True)
class AlertConf:
    """An ``alerts:`` section for a run, and the environment its secrets come from."""

    section: Mapping[str, Any]
    secrets: Mapping[str, str]

    def conf_file(self, directory: Path) -> Path:
        """conf/lakehouse.yaml plus this section, for a command run as a subprocess."""
        import yaml

        data = yaml.safe_load((REPO / "conf" / "lakehouse.yaml").read_text(encoding="utf-8"))
        data["alerts"] = dict(self.section)
        path = directory / "lakehouse-alerts.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        return path


def _settings_in_process(workspace: Workspace, alerts: AlertConf | None = None) -> Settings:
    """The job's settings for ``workspace``: conf/lakehouse.yaml and the workspace's
    environment; the session's own Spark options are kept (a running JVM cannot take the
    job's heap size)."""
    from lakehouse.config import load_settings

    overrides: dict[str, Any] = {"clients_dir": REPO / "clients", "spark": {}}
    if alerts is not None:
        overrides["alerts"] = alerts.section
    return load_settings(
        REPO / "conf" / "lakehouse.yaml", environ=workspace.env(), overrides=overrides
    )


def _alerter(settings: Settings, alerts: AlertConf | None) -> Alerter | None:
    from lakehouse.alerts import Alerter
    from lakehouse.engine.deltars import DeltaRsEngine

    if alerts is None:
        return None  # the run builds its own, from the process environment
    return Alerter.from_settings(settings, DeltaRsEngine(), environ=alerts.secrets)


def ingest_in_process(
    workspace: Workspace, keys: Mapping[str, str], *, alerts: AlertConf | None = None
) -> RunResult:
    """What `spark-submit jobs/ingest.py` does, on this test process's warm Spark session.

    Raises ``RunFailed`` when a file failed, as the job exits 1.
    """
    from lakehouse.config import load_clients
    from lakehouse.ingest.stream import run_ingest
    from lakehouse.pii.keys import KeyRing

    settings = _settings_in_process(workspace, alerts)
    clients = load_clients(settings.clients_dir)
    ring = KeyRing.from_environment(keys)
    result = run_ingest(settings, clients, ring, alerter=_alerter(settings, alerts))
    result.raise_for_failures()
    return result


def release_in_process(
    workspace: Workspace, keys: Mapping[str, str], name: str, *, alerts: AlertConf | None = None
) -> AuditRecord:
    """What `lakehouse release --file NAME` does, on this test process's warm Spark."""
    from lakehouse.config import load_clients
    from lakehouse.ingest.release import release_file
    from lakehouse.pii.keys import KeyRing

    settings = _settings_in_process(workspace, alerts)
    clients = load_clients(settings.clients_dir)
    ring = KeyRing.from_environment(keys)
    return release_file(settings, clients, ring, name, alerter=_alerter(settings, alerts))


def backfill_in_process(
    workspace: Workspace, keys: Mapping[str, str], *, client_id: str, start: str, end: str
) -> list[AuditRecord]:
    """What `spark-submit jobs/backfill.py --client C --from S --to E` does (archive source),
    on this test process's warm Spark. Raises ``RunFailed`` when a file failed."""
    import datetime as dt

    from lakehouse.backfill import plan_backfill
    from lakehouse.config import load_clients
    from lakehouse.engine import get_engine
    from lakehouse.ingest.backfill import run_backfill
    from lakehouse.pii.keys import KeyRing

    settings = _settings_in_process(workspace)
    clients = load_clients(settings.clients_dir)
    plan = plan_backfill(
        settings,
        clients,
        get_engine(settings),
        client_id=client_id,
        start=dt.date.fromisoformat(start),
        end=dt.date.fromisoformat(end),
    )
    result = run_backfill(settings, clients, KeyRing.from_environment(keys), plan)
    result.raise_for_failures()
    return result.records


@dataclass(frozen=True)
class DemoLake:
    """The lake of one `./scripts/run_pipeline.sh --demo`, the README's first command, built
    once per test session (DEBUG logs on, so the leak scan sees every log line).

    Read it in place; a test that changes a lake works on ``copy(...)``.
    """

    workspace: Workspace
    demo: DemoDataset
    stdout: str
    stderr: str
    key_file: Path  # the development key file the demo generated

    def env(self, **extra: str) -> dict[str, str]:
        """The workspace's environment with the demo's keys, as a key holder would run."""
        return self.workspace.env(LAKEHOUSE_KEY_FILE=str(self.key_file), **extra)

    def keys(self) -> dict[str, Any]:
        """The development key file's contents (ids and hex keys)."""
        return dict(json.loads(self.key_file.read_text(encoding="utf-8")))

    def copy(self, root: Path) -> DemoLake:
        """A copy to change, without streaming checkpoints: they hold absolute landing paths.
        The copy's first run re-lists the demo files and skips them (same name and bytes)."""
        lake = self.workspace.lake
        shutil.copytree(lake, root / "lake", ignore=shutil.ignore_patterns("_checkpoints"))
        shutil.copytree(self.workspace.landing, root / "landing")
        workspace = Workspace(lake=root / "lake", landing=root / "landing")
        return DemoLake(workspace, self.demo, self.stdout, self.stderr, self.key_file)


def build_demo_lake(root: Path) -> DemoLake:
    from lakehouse.config import load_clients
    from lakehouse.demo import build_demo

    workspace = Workspace(lake=root / "lake", landing=root / "landing")
    env = workspace.env(LAKEHOUSE_LOG_LEVEL="DEBUG")
    result = run(["./scripts/run_pipeline.sh", "--demo"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert DEV_KEY_FILE.is_file(), "the demo generates its development key file"
    demo = build_demo(load_clients(REPO / "clients"))
    return DemoLake(workspace, demo, result.stdout, result.stderr, DEV_KEY_FILE)
