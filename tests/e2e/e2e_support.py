"""Helpers for end-to-end tests: run the real scripts and read the tables back with deltalake."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

REPO = Path(__file__).resolve().parents[2]
TEST_TOKEN_KEY = "6c616b65686f7573652d6532652d746573742d6b65792d33322d6279746573212121"  # 34 bytes
# Every purpose's key (token, encrypt, siv), as a real deployment would export them.
TEST_KEYS = {
    "LAKEHOUSE_TOKEN_KEY": TEST_TOKEN_KEY,
    "LAKEHOUSE_ENCRYPT_KEY": "11" * 32,
    "LAKEHOUSE_SIV_KEY": "22" * 32,
}


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
