"""Gold tables (``gold:`` in ``conf/lakehouse.yaml``): aggregates kept current from silver's
change feed by ``lakehouse gold``. Each table has its own section; a missing one is off."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["GoldSettings", "MembersSummarySpec"]

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MembersSummarySpec(_Frozen):
    """``gold/members_summary``: members per client, plan and age band, k-anonymous.

    A cell (client, plan, age band) with fewer than ``k`` members shows no count (NULL,
    ``suppressed: true``); no totals are published, so a suppressed cell cannot be derived
    from its margins.
    """

    source: str = Field("members", description="The silver dataset summarised.")
    plan_column: str = Field("plan_code", description="Silver column holding the plan.")
    birth_column: str = Field(
        "birth_date",
        description="Silver column holding the birth date in any generalised form (a year, "
        "an age band, '90+', or an ISO date); anything else counts as age band 'unknown'.",
    )
    k: int = Field(5, ge=2, le=1000, description="Cells with fewer members are suppressed.")
    band_years: int = Field(10, ge=1, le=50, description="Width of an age band.")
    top_age: int = Field(90, ge=1, le=120, description="Ages from here on share one band.")

    @field_validator("source", "plan_column", "birth_column")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("must be a snake_case name")
        return value


class GoldSettings(_Frozen):
    members_summary: MembersSummarySpec | None = Field(
        None, description="Members per client, plan and age band (k-anonymous counts)."
    )

    @property
    def tables(self) -> tuple[str, ...]:
        """Names of the configured gold tables."""
        return tuple(name for name in type(self).model_fields if getattr(self, name) is not None)
