"""The gold tables by name: each configured ``gold:`` section bound to its table module."""

from __future__ import annotations

from lakehouse.config.gold import GoldSettings
from lakehouse.gold import readings_hourly, readings_trend
from lakehouse.gold.members_summary import MembersSummary
from lakehouse.gold.table import GoldTable

__all__ = ["gold_tables"]


def gold_tables(gold: GoldSettings) -> dict[str, GoldTable]:
    """The configured gold tables, in ``GoldSettings``' order (a new table: a spec there, a
    module here)."""
    tables: dict[str, GoldTable] = {}
    if gold.members_summary is not None:
        tables["members_summary"] = MembersSummary(gold.members_summary)
    if gold.readings_hourly is not None:
        tables["readings_hourly"] = readings_hourly.gold_table(gold.readings_hourly)
    if gold.readings_trend is not None:
        tables["readings_trend"] = readings_trend.gold_table(gold.readings_trend)
    assert tuple(tables) == gold.tables, "a gold section without a table module"
    return tables
