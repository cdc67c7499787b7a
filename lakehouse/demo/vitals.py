"""The physiology and the devices behind the demo's biometric readings.

A ``Physiology`` is one member's baseline (resting heart rate, blood pressure, fasting glucose,
...); ``natural`` gives a plausible value at a local time: heart rate lower at night, blood
pressure higher in the morning with the diastolic following the systolic, glucose spiking
after meals, weight drifting slowly. A ``Device`` is one meter or wearable of a member, with
its own habits: the unit it reports in, UTC (``Z``) or local offsets, a clock a few minutes
off, numbers sent as JSON strings. ``robust_score`` is the outlier score the pipeline applies
(modified z-score over the member's recent readings), so the generator can keep natural
values unremarkable and make the planted outliers clear. All draws go through the caller's
seeded ``random.Random``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from lakehouse.config.measurements import OutlierSettings

__all__ = [
    "DEVICE_TYPES",
    "SCHEDULE",
    "Device",
    "Physiology",
    "Reading",
    "ReadingKey",
    "calm",
    "decimals",
    "natural",
    "robust_score",
]

# What each kind of device measures. A member has at most one device per kind, so each
# (member, type) series comes from one device, in one unit.
DEVICE_TYPES: dict[str, tuple[str, ...]] = {
    "wearable": ("heart_rate", "spo2"),
    "bp_cuff": ("blood_pressure",),
    "glucometer": ("glucose",),
    "thermometer": ("temperature",),
    "scale": ("weight",),
}
# Local hours a type is measured at, and the chance a slot is skipped (not worn, forgotten).
# Glucose: fasting, after breakfast, after lunch, after dinner.
SCHEDULE: dict[str, tuple[tuple[int, ...], float]] = {
    "heart_rate": (tuple(range(0, 24, 2)), 0.08),
    "spo2": ((2, 8, 15), 0.10),
    "blood_pressure": ((7, 20), 0.15),
    "glucose": ((7, 9, 13, 20), 0.10),
    "temperature": ((8, 19), 0.45),
    "weight": ((6,), 0.20),
}
_CALM_ROUNDS = 50  # a few suffice; more means the values cannot settle (a generator bug)
# Decimals a device reports per unit (case-folded); integers unless listed.
_DECIMALS = {"mmol/l": 1, "cel": 1, "degf": 1, "f": 1, "kg": 1, "kgs": 1, "lb": 1, "lbs": 1}


def decimals(unit: str) -> int:
    """How many decimals a device reporting in ``unit`` sends."""
    return _DECIMALS.get(unit.casefold(), 0)


@dataclass(frozen=True)
class Device:
    """One device of a member and its reporting habits."""

    device_id: str  # DEV-7F3A21
    kind: str  # a key of DEVICE_TYPES
    member_id: str
    units: tuple[tuple[str, str], ...]  # (reading type, unit it reports in)
    zulu: bool  # timestamps in UTC ("Z") rather than the local offset
    skew: dt.timedelta  # its clock is this far off (a few minutes at most)
    string_values: bool  # sends numbers as JSON strings ("72")
    compact: bool  # JSON without spaces after ':' and ','
    null_secondary: bool  # writes "diastolic": null where it has none, instead of leaving it out

    def unit(self, reading_type: str) -> str:
        return dict(self.units)[reading_type]


class ReadingKey(NamedTuple):
    """A silver/readings row's merge key: member, type and the instant measured (UTC)."""

    member_id: str
    reading_type: str
    measured_at: dt.datetime


@dataclass(eq=False)
class Reading:
    """One reading as a device sends it (mutable while a file is being planned)."""

    device: Device
    reading_type: str
    at: dt.datetime  # UTC, as the device's clock has it
    value: float  # in the device's unit
    secondary: float | None
    unit: str
    role: str = "natural"  # natural, late, corrected, outlier, unknown_member
    invalid: str | None = None  # the planted invalid kind
    timestamp: str | None = None  # the written timestamp, when planted invalid

    @property
    def key(self) -> ReadingKey:
        return ReadingKey(self.device.member_id, self.reading_type, self.at)


@dataclass(frozen=True)
class Physiology:
    """One member's baselines, in canonical units."""

    heart_rate: float
    systolic: float
    diastolic_ratio: float
    glucose: float  # fasting
    meal_spike: float
    spo2: float
    temperature: float
    weight: float
    weight_drift: float  # kg per day

    @classmethod
    def draw(cls, rng: random.Random) -> Physiology:
        diabetic = rng.random() < 0.3
        return cls(
            heart_rate=rng.uniform(58, 78),
            systolic=rng.uniform(108, 146),
            diastolic_ratio=rng.uniform(0.58, 0.68),
            glucose=rng.uniform(120, 160) if diabetic else rng.uniform(82, 100),
            meal_spike=rng.uniform(60, 110) if diabetic else rng.uniform(25, 50),
            spo2=rng.uniform(94.5, 97.5),
            temperature=rng.uniform(36.4, 36.9),
            weight=rng.uniform(52, 125),
            weight_drift=rng.uniform(-0.06, 0.04),
        )


def natural(
    reading_type: str, body: Physiology, local: dt.datetime, day: int, rng: random.Random
) -> tuple[float, float | None]:
    """A plausible (value, secondary value) of ``reading_type`` at local time ``local``, in
    canonical units; ``day`` counts days since the member's first reading (weight drift)."""
    hour = local.hour + local.minute / 60
    # -1 at 3 am, +1 at 3 pm: asleep at night, active in the afternoon.
    daily = -math.cos((hour - 3) / 24 * 2 * math.pi)
    if reading_type == "heart_rate":
        return body.heart_rate + 7 * daily + rng.gauss(0, 4), None
    if reading_type == "blood_pressure":
        morning = 6 if 5 <= local.hour < 11 else 0  # the morning surge
        systolic = body.systolic + morning + rng.gauss(0, 6)
        return systolic, systolic * body.diastolic_ratio + rng.gauss(0, 3)
    if reading_type == "glucose":
        # The 7 am reading is fasting, the others some time after a meal: the spike has
        # peaked, or mostly passed.
        after_meal = local.hour >= 9
        spike = body.meal_spike * rng.uniform(0.15, 1.1) if after_meal else 0.0
        return body.glucose + spike + rng.gauss(0, 6), None
    if reading_type == "spo2":
        return min(100.0, body.spo2 + 0.8 * min(daily, 0) + rng.gauss(0, 1.5)), None
    if reading_type == "temperature":
        return body.temperature + 0.25 * daily + rng.gauss(0, 0.15), None
    if reading_type == "weight":
        return body.weight + body.weight_drift * day + rng.gauss(0, 0.3), None
    raise ValueError(f"no model for reading type {reading_type!r}")


def robust_score(history: Sequence[float], value: float, *, min_history: int) -> float | None:
    """0.6745 |value - median| / MAD over ``history`` (Iglewicz and Hoaglin); None with fewer
    than ``min_history`` readings. A history whose MAD is 0 scores any other value inf."""
    if len(history) < min_history:
        return None
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    if mad == 0:
        return 0.0 if value == median else math.inf
    return 0.6745 * abs(value - median) / mad


def calm(states: Sequence[Sequence[Reading]], outliers: OutlierSettings, *, limit: float) -> None:
    """Make every reading but the planted outliers score below ``limit`` against its history
    in each of ``states`` (the silver rows at some point), until none does: the flagged rows
    are then exactly the planted ones.

    A reading that scores too high is pulled to half the limit from the median, and a history
    with a MAD of 0 (half its values equal: any other value would score inf) is untied."""
    for _ in range(_CALM_ROUNDS):
        changed = False
        for state in states:
            series: dict[tuple[str, str], list[Reading]] = defaultdict(list)
            for reading in sorted(state, key=lambda r: r.at):
                series[(reading.device.member_id, reading.reading_type)].append(reading)
            for readings in series.values():
                changed = _calm_series(readings, outliers, limit) or changed
        if not changed:
            return
    raise RuntimeError(f"readings still score {limit} or more after {_CALM_ROUNDS} rounds")


def _calm_series(readings: Sequence[Reading], outliers: OutlierSettings, limit: float) -> bool:
    changed = False
    for index, reading in enumerate(readings):
        history = readings[max(0, index - outliers.window) : index]
        values = [r.value for r in history]
        score = robust_score(values, reading.value, min_history=outliers.min_history)
        if score is None or score < limit or (reading.role == "outlier" and score != math.inf):
            continue
        median = statistics.median(values)
        mad = statistics.median(abs(x - median) for x in values)
        step = 10.0 ** -decimals(reading.unit)
        if mad == 0:
            tied = next(r for r in reversed(history) if r.value == median and r.role != "outlier")
            tied.value = round(tied.value + (step if reading.value > median else -step), 3)
        else:
            sign = 1 if reading.value > median else -1
            pulled = median + sign * max(step, 0.5 * limit * mad / 0.6745)
            reading.value = round(pulled, decimals(reading.unit))
            if reading.secondary is not None:
                reading.secondary = min(reading.secondary, round(reading.value) - 15)
        changed = True
    return changed
