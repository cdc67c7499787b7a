"""The engine under test: every test asking for ``engine`` runs once per engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.config.models import Settings
from lakehouse.engine import TableEngine, get_engine

# delta-spark joins once its Maven jars can be had on the test machines (issue 11).
ENGINES = ("delta-rs",)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, spark: SparkSession, tmp_path: Path) -> TableEngine:
    settings = Settings(
        lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing", engine=request.param
    )
    return get_engine(settings, spark)
