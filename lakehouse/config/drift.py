"""Data-quality drift checks of a client's files against its own history (``drift:``).

``clients/<id>.yaml``::

    drift:
      window: 20                  # baseline: the median of the last 20 successful files
      min_history: 5              # a check applies once its baseline has 5 files
      row_count:
        tolerance: 0.5            # a ratio: outside [0.5 x median, median / 0.5] drifts
        action: hold              # HELD (reason dq_drift:row_count), or alert and go on
      null_share:                 # share of rows whose raw value is blank, per column
        tolerance: 0.10           # absolute: 10 percentage points either way
        columns: [member_id, plan_code]     # default: every column
        overrides:
          phone: {tolerance: 0.25, action: alert}
      invalid_share:              # share of rows with a reason code on the column
        tolerance: 0.05
        direction: up             # the default for invalid_share: only a rise drifts

The arithmetic lives in ``lakehouse.validation.drift``; columns are checked against the
client's columns by ``ClientConfig``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lakehouse.config.problems import KeyedValueError

__all__ = [
    "DriftAction",
    "DriftSettings",
    "InvalidShareCheck",
    "NullShareCheck",
    "RowCountCheck",
    "ShareOverride",
    "ShareRule",
]

DriftAction = Literal["alert", "hold"]
"""``hold``: the file is HELD (nothing reaches silver; ``lakehouse release`` accepts it);
``alert``: the file goes on and a ``dq_drift`` alert is raised."""

Direction = Literal["both", "up", "down"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RowCountCheck(_Frozen):
    """Rows per file against the median of the baseline files."""

    tolerance: float = Field(
        gt=0,
        lt=1,
        description="Ratio r: a file with fewer than r x median or more than median / r rows "
        "drifts (0.5: outside [0.5x, 2x]).",
    )
    action: DriftAction = "alert"


class ShareOverride(_Frozen):
    """One column's own tolerance or action (the check's apply to what is not set)."""

    tolerance: float | None = Field(None, gt=0, le=1, description="Share points, 0.1 = 10%.")
    action: DriftAction | None = None


class ShareRule(_Frozen):
    """What one column is held to (the check's settings with its override applied)."""

    tolerance: float
    action: DriftAction
    direction: Direction


class _ShareCheck(_Frozen):
    tolerance: float = Field(
        gt=0,
        le=1,
        description="Absolute, in share points: 0.1 drifts when the share moves more than 10 "
        "percentage points away from the baseline median.",
    )
    action: DriftAction = "alert"
    direction: Direction = "both"
    columns: tuple[str, ...] | None = Field(
        None, description="Columns checked (names as in columns:); default: every column."
    )
    overrides: dict[str, ShareOverride] = Field(
        default_factory=dict, description="Per column: its own tolerance and/or action."
    )

    @model_validator(mode="after")
    def _overrides_are_checked(self) -> _ShareCheck:
        if self.columns is None:
            return self
        for name in self.overrides:
            if name not in self.columns:
                raise KeyedValueError(
                    f"override for column '{name}', which this check does not cover",
                    key=("overrides", name),
                    expected=f"one of the check's columns: {', '.join(self.columns)}",
                    found=repr(name),
                )
        return self

    def rules(self, names: Sequence[str]) -> dict[str, ShareRule]:
        """Column -> its rule, for the client's column ``names`` this check covers."""
        covered = names if self.columns is None else [n for n in names if n in self.columns]
        rules = {}
        for name in covered:
            override = self.overrides.get(name, ShareOverride())
            rules[name] = ShareRule(
                tolerance=override.tolerance if override.tolerance is not None else self.tolerance,
                action=override.action or self.action,
                direction=self.direction,
            )
        return rules

    def unknown_columns(self, names: Sequence[str]) -> tuple[tuple[str | int, ...], str] | None:
        """The key and name of the first column this check names that ``names`` lacks."""
        for i, name in enumerate(self.columns or ()):
            if name not in names:
                return ("columns", i), name
        for name in self.overrides:
            if name not in names:
                return ("overrides", name), name
        return None


class NullShareCheck(_ShareCheck):
    """Share of a column's rows whose raw value is blank (absent), either way by default:
    a column that was often empty and now never is can be a placeholder filled in."""


class InvalidShareCheck(_ShareCheck):
    """Share of rows with a reason code on the column; only a rise drifts by default."""

    direction: Direction = "up"


CheckName = Literal["row_count", "null_share", "invalid_share"]


class DriftSettings(_Frozen):
    """Which drift checks run for a client, on how much history (``drift:``)."""

    window: int = Field(
        20, ge=1, le=1000, description="Baseline: the median of this many last successful files."
    )
    min_history: int = Field(
        5, ge=1, description="Files a baseline needs before its check applies."
    )
    row_count: RowCountCheck | None = None
    null_share: NullShareCheck | None = None
    invalid_share: InvalidShareCheck | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DriftSettings:
        if self.min_history > self.window:
            raise KeyedValueError(
                f"min_history {self.min_history} is larger than window {self.window}: no "
                "check could ever apply",
                key=("min_history",),
                expected=f"at most window ({self.window})",
                found=str(self.min_history),
            )
        if self.row_count is None and self.null_share is None and self.invalid_share is None:
            raise KeyedValueError(
                "drift: names no check; add row_count, null_share or invalid_share (or remove "
                "the section)",
                key=(),
                expected="at least one of row_count, null_share, invalid_share",
                found="none",
            )
        return self

    def unknown_column(self, names: Sequence[str]) -> KeyedValueError | None:
        """An error naming the first check column that is not among ``names``."""
        for check in ("null_share", "invalid_share"):
            share: _ShareCheck | None = getattr(self, check)
            found = share.unknown_columns(names) if share is not None else None
            if found is not None:
                key, name = found
                return KeyedValueError(
                    f"drift {check} names column '{name}', which is not among the columns",
                    key=(check, *key),
                    expected=f"one of {', '.join(names)}",
                    found=repr(name),
                )
        return None
