"""Invalid readings planted in demo readings files: one known rule broken each.

Each planted reading was a natural one; it breaks exactly one rule of the dataset's
``measurements:`` and keeps its (member, type, time) key unique in its file, so the pipeline
quarantines it for that reason alone and never for a duplicate key.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from lakehouse.config.measurements import MeasurementSettings
from lakehouse.demo.vitals import Reading

__all__ = ["READINGS_INVALID", "READINGS_INVALID_KINDS", "plant_invalid_readings"]

READINGS_INVALID_KINDS = (
    "out_of_range",  # value outside the type's valid range
    "unknown_unit",  # a unit the type does not accept (glucose in "mg")
    "diastolic_not_below",  # diastolic >= systolic
    "missing_diastolic",  # blood pressure without its diastolic
    "invalid_timestamp",  # no offset: the instant is unknown
    "future_timestamp",  # year 2031: a device clock error
    "before_birth",  # 1970-01-01T00:00:00Z, a reset clock, for a member born after 1971
    "unknown_type",  # a type not in the list ("steps")
)
# Planted per wave, by kind.
READINGS_INVALID: Mapping[int, Mapping[str, int]] = MappingProxyType(
    {
        1: MappingProxyType(
            dict(zip(READINGS_INVALID_KINDS, (3, 2, 2, 2, 2, 1, 1, 2), strict=True))
        ),
        2: MappingProxyType(dict.fromkeys(READINGS_INVALID_KINDS, 1)),
    }
)
# A misconfigured device's spelling of the unit it reports in: (type, unit) -> bad unit.
_BAD_UNITS = {
    ("glucose", "mg/dl"): "mg",
    ("weight", "lb"): "lbs",
    ("weight", "kg"): "kgs",
    ("temperature", "degf"): "F",
}
_OTHER_TYPES = ("steps", "sleep_minutes", "calories")
_CLOCK_RESET = "1970-01-01T00:00:00Z"
_FUTURE_YEAR = 2031


class PlanView(Protocol):
    """What planting needs of a readings plan."""

    @property
    def settings(self) -> MeasurementSettings: ...

    def birth(self, member_id: str) -> dt.date | None: ...

    def local(self, at: dt.datetime) -> dt.datetime: ...

    def timestamp(self, reading: Reading, at: dt.datetime | None = None) -> str: ...

    def to_unit(self, reading_type: str, unit: str, canonical: float) -> float: ...


def plant_invalid_readings(
    readings: list[Reading], plan: PlanView, *, counts: Mapping[str, int], rng: random.Random
) -> Counter[str]:
    """Make natural readings of ``readings`` invalid in place, ``counts[kind]`` of each kind
    (fewer when no reading fits: no blood pressure, no member born after 1971).

    Returns:
        The kinds planted, with their counts.
    """
    planted = Counter[str]()
    for kind, count in counts.items():
        for _ in range(count):
            fitting = [
                r for r in readings if r.role == "natural" and _fits(kind, r, readings, plan)
            ]
            if not fitting:
                break
            reading = rng.choice(fitting)
            _break(kind, reading, plan, rng)
            reading.invalid = kind
            planted[kind] += 1
    return planted


def _fits(kind: str, reading: Reading, readings: list[Reading], plan: PlanView) -> bool:
    if reading.invalid is not None:
        return False
    spec = plan.settings.types[reading.reading_type]
    if kind == "unknown_unit":
        bad = _BAD_UNITS.get((reading.reading_type, reading.unit.casefold()))
        return bad is not None and bad.casefold() not in spec.units()
    if kind in ("diastolic_not_below", "missing_diastolic"):
        secondary = spec.secondary
        return (
            secondary is not None
            and reading.secondary is not None
            and reading.value <= secondary.valid.high
        )
    if kind == "before_birth":
        birth = plan.birth(reading.device.member_id)
        # One reading per (member, type) at the reset instant in a file: else a duplicate key.
        return (
            birth is not None
            and birth.year > 1971
            and not any(r.invalid == kind and r.key[:2] == reading.key[:2] for r in readings)
        )
    return True


def _break(kind: str, reading: Reading, plan: PlanView, rng: random.Random) -> None:
    spec = plan.settings.types[reading.reading_type]
    if kind == "out_of_range":
        span = spec.valid.high - spec.valid.low
        # Blood pressure only too high: a systolic too low would be below its diastolic too.
        high = spec.secondary is not None or rng.random() < 0.6
        canonical = spec.valid.high + 0.2 * span if high else spec.valid.low / 2
        reading.value = plan.to_unit(reading.reading_type, reading.unit, canonical)
    elif kind == "unknown_unit":
        reading.unit = _BAD_UNITS[(reading.reading_type, reading.unit.casefold())]
    elif kind == "diastolic_not_below" and spec.secondary is not None:
        reading.secondary = min(reading.value + rng.choice((0, 4, 9)), spec.secondary.valid.high)
    elif kind == "missing_diastolic":
        reading.secondary = None
    elif kind == "invalid_timestamp":
        moment = reading.at if reading.device.zulu else plan.local(reading.at)
        reading.timestamp = moment.replace(tzinfo=None).isoformat()
    elif kind == "future_timestamp":
        reading.timestamp = plan.timestamp(reading, reading.at.replace(year=_FUTURE_YEAR))
    elif kind == "before_birth":
        reading.timestamp = _CLOCK_RESET
    elif kind == "unknown_type":
        name = next(t for t in _OTHER_TYPES if t not in plan.settings.types)
        reading.reading_type, reading.unit = name, name
        reading.value, reading.secondary = float(rng.randint(2000, 9000)), None
    else:
        raise ValueError(f"unknown invalid reading kind {kind!r}")
