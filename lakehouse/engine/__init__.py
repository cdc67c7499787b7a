"""Storage engines: Delta table operations behind the ``TableEngine`` protocol."""

from __future__ import annotations

from lakehouse.engine.base import MergeResult, MergeSpec, TableEngine
from lakehouse.errors import ConfigError

__all__ = ["MergeResult", "MergeSpec", "TableEngine", "get_engine"]


def get_engine(name: str) -> TableEngine:
    """Return the engine named in settings (``engine:``)."""
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
