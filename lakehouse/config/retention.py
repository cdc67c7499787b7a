"""How long each layer keeps a client's data (``lakehouse retention`` enforces it).

``clients/<id>.yaml``::

    retention:
      bronze: 400d        # raw records (encrypted PII), by the file's creation date
      quarantine: 90d
      archive: 30d        # landing files kept under the archive (the backfill source)
      silver: null        # default: kept; a period drops members not updated for that long

Ages count from the creation date in the file name (``_creation_date`` in the tables): a
row or file whose creation date is more than the period before today is expired.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lakehouse.config.calendar import parse_duration

__all__ = ["RETAINED_LAYERS", "Layer", "RetentionPolicy"]

Layer = Literal["bronze", "quarantine", "silver", "archive"]
RETAINED_LAYERS: tuple[Layer, ...] = ("bronze", "quarantine", "silver", "archive")


class RetentionPolicy(BaseModel):
    """Per layer: a period such as ``400d`` after which data is deleted, or none (kept)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bronze: str | None = Field(None, description="Raw records; e.g. 400d.")
    quarantine: str | None = Field(None, description="Quarantined records; e.g. 90d.")
    silver: str | None = Field(
        None, description="Silver rows not updated (by creation date) for this long."
    )
    archive: str | None = Field(None, description="Archived landing files; e.g. 30d.")

    @field_validator("bronze", "quarantine", "silver", "archive")
    @classmethod
    def _whole_days(cls, value: str | None) -> str | None:
        if value is None:
            return None
        period = parse_duration(value)
        if period < dt.timedelta(days=1) or period % dt.timedelta(days=1):
            raise ValueError(f"'{value}' is not a whole number of days such as 90d")
        return value

    def period(self, layer: Layer) -> dt.timedelta | None:
        value: str | None = getattr(self, layer)
        return None if value is None else parse_duration(value)

    def cutoff(self, layer: Layer, today: dt.date) -> dt.date | None:
        """Creation dates before this are expired (None: the layer keeps everything)."""
        period = self.period(layer)
        return None if period is None else today - period

    @property
    def configured(self) -> bool:
        return any(getattr(self, layer) is not None for layer in RETAINED_LAYERS)
