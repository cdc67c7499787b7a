"""``get_engine``: the engine named in the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.config.models import Settings
from lakehouse.engine import TableEngine, get_engine
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.errors import ConfigError


def _settings(tmp_path: Path, engine: str) -> Settings:
    return Settings(lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing", engine=engine)


def test_delta_rs_needs_no_spark(tmp_path: Path) -> None:
    engine: TableEngine = get_engine(_settings(tmp_path, "delta-rs"))
    assert isinstance(engine, DeltaRsEngine) and engine.name == "delta-rs"


def test_delta_spark_is_refused_with_a_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="engine 'delta-spark' is not available") as info:
        get_engine(_settings(tmp_path, "delta-spark"))
    assert info.value.key == "engine"
