"""Storage engines: Delta table operations behind the ``TableEngine`` protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse.engine.base import CommitRecord, MergeResult, MergeSpec, TableEngine
from lakehouse.errors import ConfigError

if TYPE_CHECKING:  # pyspark is heavy to import; ops commands never need it
    from pyspark.sql import SparkSession

    from lakehouse.config.models import Settings

__all__ = ["CommitRecord", "MergeResult", "MergeSpec", "TableEngine", "get_engine"]


def get_engine(settings: Settings, spark: SparkSession | None = None) -> TableEngine:
    """The engine named by ``settings.engine``.

    Args:
        settings: the run's settings (``engine:`` names the engine).
        spark: the session, for engines that write through Spark (delta-rs does not need it).

    Raises:
        ConfigError: the engine is not available in this build.
    """
    name = settings.engine
    if name == "delta-rs":
        from lakehouse.engine.deltars import DeltaRsEngine

        return DeltaRsEngine()
    raise ConfigError(
        f"engine '{name}' is not available in this build",
        path="conf/lakehouse.yaml",
        key="engine",
        expected="'delta-rs'",
        found=repr(name),
        fix="use engine: delta-rs (delta-spark needs the Delta jars on the cluster)",
    )
