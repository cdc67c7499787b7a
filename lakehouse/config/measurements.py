"""Measurement datasets (``measurements:`` in a dataset's config): readings of several types in
one table, each type with its canonical unit, unit conversions, a physiological range that
decides validity, a typical range that flags, and an optional secondary value (diastolic
beside systolic). Outliers are flagged per member and type by a robust score.

A ``measurements:`` block names the dataset's own columns; the checks themselves live in
``lakehouse.validation.measurements``.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from lakehouse.config.problems import KeyedValueError

__all__ = [
    "Conversion",
    "MeasurementSettings",
    "MeasurementType",
    "OutlierSettings",
    "Range",
    "SecondaryValue",
]

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Range(_Frozen):
    """An inclusive ``[low, high]`` range in the type's canonical unit (YAML: ``[20, 600]``)."""

    low: float
    high: float

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            if len(value) != 2:
                raise ValueError("a range is [low, high]")
            return {"low": value[0], "high": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not (math.isfinite(self.low) and math.isfinite(self.high)) or self.low > self.high:
            raise ValueError(f"[{self.low}, {self.high}] is not a range: low <= high, finite")
        return self

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        pair = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
        return {"anyOf": [pair, handler(core_schema)]}


class Conversion(_Frozen):
    """From a delivered unit to the canonical one: ``canonical = value * factor + offset``
    (mmol/L glucose: factor 18.016; degF: factor 0.5556, offset -17.7778). A bare number in
    YAML is the factor."""

    factor: float = Field(gt=0)
    offset: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, value: object) -> object:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"factor": value}
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, handler(core_schema)]}


class SecondaryValue(_Frozen):
    """The second value of a type that has one (blood pressure: diastolic beside systolic)."""

    valid: Range = Field(description="Valid range of the secondary value (canonical unit).")
    below_value: bool = Field(
        True, description="The secondary value must be below the value (diastolic < systolic)."
    )


class MeasurementType(_Frozen):
    """One reading type: its canonical unit, accepted other units and ranges."""

    unit: str = Field(min_length=1, description="Canonical unit; values are stored in it.")
    convert: dict[str, Conversion] = Field(
        default_factory=dict, description="Other units accepted, converted to ``unit``."
    )
    valid: Range = Field(description="Physiologically possible: outside is quarantined.")
    typical: Range | None = Field(
        None, description="Usual range: outside sets typical_flag low/high (kept in silver)."
    )
    secondary: SecondaryValue | None = Field(
        None, description="A second value (diastolic); required for this type when set."
    )

    @model_validator(mode="after")
    def _typical_within_valid(self) -> MeasurementType:
        if self.typical is not None and not (
            self.valid.low <= self.typical.low and self.typical.high <= self.valid.high
        ):
            raise ValueError("the typical range must lie within the valid range")
        folded = [u.casefold() for u in (self.unit, *self.convert)]
        if len(set(folded)) != len(folded):
            raise ValueError("units are compared case-insensitively: each must be unique")
        return self

    def units(self) -> dict[str, Conversion]:
        """Every accepted unit, case-folded, with its conversion (the canonical one: x1)."""
        found = {u.casefold(): c for u, c in self.convert.items()}
        return {self.unit.casefold(): Conversion(factor=1.0), **found}


class OutlierSettings(_Frozen):
    """A reading is an outlier when its robust score against the member's recent readings of
    the same type exceeds ``threshold``: the modified z-score 0.6745 (x - median) / MAD over the
    last ``window`` readings before it (Iglewicz and Hoaglin), once ``min_history`` exist."""

    method: Literal["mad"] = "mad"
    threshold: float = Field(3.5, gt=0)
    window: int = Field(30, ge=3, le=1000, description="Readings of history per member, type.")
    min_history: int = Field(8, ge=3, description="Fewer readings before it: never an outlier.")

    @model_validator(mode="after")
    def _history_fits(self) -> OutlierSettings:
        if self.min_history > self.window:
            raise ValueError("min_history cannot exceed window")
        return self

    @property
    def label(self) -> str:
        """What silver's ``outlier_method`` records: ``mad>3.5/30`` (method, threshold, window)."""
        return f"{self.method}>{self.threshold:g}/{self.window}"


class MeasurementSettings(_Frozen):
    """A dataset of readings: which columns hold what, and the rules per reading type."""

    type_column: str = "reading_type"
    value_column: str = "value"
    unit_column: str = "unit"
    time_column: str = "measured_at"
    secondary_column: str | None = Field(
        None, description="Column of the secondary value (types with ``secondary:``)."
    )
    member_column: str = Field(
        "member_id",
        description="Column naming the member (``references:`` links it to the members "
        "dataset: unknown members are kept and flagged member_known = false).",
    )
    birth_column: str | None = Field(
        "birth_date",
        description="The referenced dataset's birth column (any generalised form): readings "
        "before the member's birth are quarantined. None: not checked.",
    )
    future_skew_minutes: int = Field(
        10, ge=0, le=24 * 60, description="Device clocks run ahead this much before 'future'."
    )
    types: dict[str, MeasurementType] = Field(min_length=1)
    outliers: OutlierSettings = OutlierSettings()

    @field_validator("types")
    @classmethod
    def _type_names(cls, value: dict[str, MeasurementType]) -> dict[str, MeasurementType]:
        bad = [name for name in value if not _IDENTIFIER.match(name)]
        if bad:
            raise ValueError(f"reading types must be snake_case names: {', '.join(bad)}")
        return value

    def column_keys(self) -> dict[str, str | None]:
        """``measurements.<key>`` -> the dataset column it names."""
        return {
            "type_column": self.type_column,
            "value_column": self.value_column,
            "unit_column": self.unit_column,
            "time_column": self.time_column,
            "secondary_column": self.secondary_column,
            "member_column": self.member_column,
        }

    def unknown_column(self, names: list[str]) -> KeyedValueError | None:
        """The first ``*_column`` that is not among the dataset's columns ``names``."""
        for key, column in self.column_keys().items():
            if column is not None and column not in names:
                return KeyedValueError(
                    f"measurements.{key} names column '{column}', which the dataset lacks",
                    key=(key,),
                    expected=f"one of {', '.join(names)}",
                    found=repr(column),
                )
        needs = [t for t, spec in self.types.items() if spec.secondary is not None]
        if needs and self.secondary_column is None:
            return KeyedValueError(
                f"type(s) {', '.join(needs)} have a secondary value: set secondary_column",
                key=("secondary_column",),
                expected="a column name",
                found="None",
            )
        return None
