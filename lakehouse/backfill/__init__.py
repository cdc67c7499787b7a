"""Backfills: re-process a client's files for a creation-date range, from the archive or bronze.

``plan_backfill`` (no Spark) lists what would be re-processed; ``run_backfill`` in
``lakehouse.ingest.backfill`` re-processes it, bypassing the streaming checkpoint on purpose.
"""

from __future__ import annotations

from lakehouse.backfill.plan import (
    BACKFILL_REASON,
    BackfillFile,
    BackfillPlan,
    Source,
    plan_backfill,
)

__all__ = ["BACKFILL_REASON", "BackfillFile", "BackfillPlan", "Source", "plan_backfill"]
