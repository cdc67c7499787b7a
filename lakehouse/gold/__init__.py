"""Gold: aggregates for analysts, kept current from silver's change feed (``refresh.py``);
one module per table (``members_summary.py``, ``readings_hourly.py``, ``readings_trend.py``),
bound to its ``gold:`` section by ``registry.py``."""

from lakehouse.gold.refresh import (
    GoldResult,
    gold_audit_path,
    new_run_id,
    refresh_gold,
    watermark,
)

__all__ = ["GoldResult", "gold_audit_path", "new_run_id", "refresh_gold", "watermark"]
