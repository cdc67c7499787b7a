"""Gold tables (``gold:`` in ``conf/lakehouse.yaml``): aggregates kept current from silver's
change feed by ``lakehouse gold``. Each table has its own section; a missing one is off."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_BETTER",
    "Better",
    "GoldSettings",
    "MembersSummarySpec",
    "ReadingsHourlySpec",
    "ReadingsTrendSpec",
]

Better = Literal["lower", "higher", "none"]

# Which direction of a reading type's value is an improvement; "none": neither (a trend is
# then only stable, changing or volatile). A type not listed counts as "none".
DEFAULT_BETTER: dict[str, Better] = {
    "glucose": "lower",
    "blood_pressure": "lower",
    "heart_rate": "lower",
    "weight": "lower",
    "spo2": "higher",
    "temperature": "none",
}

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


def _snake_case(value: str) -> str:
    if not _IDENTIFIER.match(value):
        raise ValueError("must be a snake_case name")
    return value


Name = Annotated[str, AfterValidator(_snake_case)]  # a dataset or column name


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MembersSummarySpec(_Frozen):
    """``gold/members_summary``: members per client, plan and age band, k-anonymous.

    A cell (client, plan, age band) with fewer than ``k`` members shows no count (NULL,
    ``suppressed: true``); no totals are published, so a suppressed cell cannot be derived
    from its margins.
    """

    source: Name = Field("members", description="The silver dataset summarised.")
    plan_column: Name = Field("plan_code", description="Silver column holding the plan.")
    birth_column: Name = Field(
        "birth_date",
        description="Silver column holding the birth date in any generalised form (a year, "
        "an age band, '90+', or an ISO date); anything else counts as age band 'unknown'.",
    )
    k: int = Field(5, ge=2, le=1000, description="Cells with fewer members are suppressed.")
    band_years: int = Field(10, ge=1, le=50, description="Width of an age band.")
    top_age: int = Field(90, ge=1, le=120, description="Ages from here on share one band.")


class ReadingsHourlySpec(_Frozen):
    """``gold/readings_hourly``: one row per client, member token, reading type and UTC hour
    (count, min, max, mean, mean diastolic, outliers); only the hours touched by changes are
    recomputed."""

    source: Name = Field("readings", description="The silver dataset of device readings.")


class ReadingsTrendSpec(_Frozen):
    """``gold/readings_trend``: per client, member token and reading type, the trend of the
    daily means over the last ``window_days`` days up to the member's last reading
    (``gold/readings_trend.py`` states the rule)."""

    source: Name = Field("readings", description="The silver dataset of device readings.")
    window_days: int = Field(
        14, ge=2, le=366, description="Days up to the last reading the trend looks at."
    )
    smooth_days: int = Field(
        3,
        ge=1,
        le=31,
        description="Days with data averaged into the first and the last moving average.",
    )
    min_days: int = Field(
        4, ge=3, le=366, description="Fewer days with data in the window: 'insufficient'."
    )
    stable_slope: float = Field(
        0.005,
        gt=0,
        le=1,
        description="|slope| per day relative to the window's mean at or under which the "
        "trend is 'stable' (0.005: 0.5% of the level a day).",
    )
    volatile_cv: float = Field(
        0.15,
        gt=0,
        le=10,
        description="Scatter of the daily means around the fitted line (residual standard "
        "deviation / mean) above which the trend is 'volatile'.",
    )
    better: dict[Name, Better] = Field(
        default_factory=lambda: dict(DEFAULT_BETTER),
        description="Per reading type, which direction improves: lower, higher or none "
        "(types not listed: none).",
    )

    @model_validator(mode="after")
    def _days(self) -> Self:
        if self.min_days > self.window_days:
            raise ValueError(f"min_days ({self.min_days}) exceeds window_days ({self.window_days})")
        if self.smooth_days > self.min_days:
            raise ValueError(f"smooth_days ({self.smooth_days}) exceeds min_days ({self.min_days})")
        return self


class GoldSettings(_Frozen):
    members_summary: MembersSummarySpec | None = Field(
        None, description="Members per client, plan and age band (k-anonymous counts)."
    )
    readings_hourly: ReadingsHourlySpec | None = Field(
        None, description="Device readings per member token, type and UTC hour."
    )
    readings_trend: ReadingsTrendSpec | None = Field(
        None, description="Trend of each member token's readings per type over a window."
    )

    @property
    def tables(self) -> tuple[str, ...]:
        """Names of the configured gold tables."""
        return tuple(name for name in type(self).model_fields if getattr(self, name) is not None)
