"""Seeded biometric readings for a client's demo members: a ``measurements:`` dataset's files.

``ReadingsPlan`` gives about 40 of the client's members one or two devices (``vitals``) and
writes what they measured as JSON lines, one reading per line, keyed as the dataset's columns'
``source`` say. Wave 1 is a week of readings in one file. Wave 2, a later and smaller file,
brings new readings and the cases the pipeline must get right:

* a device re-sending its last day of wave 1 byte for byte (the merge leaves those rows as
  they are), and one re-sent reading with a corrected value (an update of its row);
* a *late* reading whose member, type and hour already have a wave-1 reading;
* readings of a member id of the right shape that no member file holds (member_known false);
* a few clear outliers (a heart rate of 180 against a history around 65) for members with
  plenty of earlier readings of the type; every other reading stays well inside the outlier
  threshold, so the flagged rows are exactly the planted ones.

Each file also carries a known number of invalid readings (``READINGS_INVALID``), each
breaking one rule. No file holds two readings with the same (member, type, time): duplicates
only go across files. Same seed, same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from lakehouse.config.models import ClientConfig
from lakehouse.demo.members import Member
from lakehouse.demo.readings_invalid import READINGS_INVALID, plant_invalid_readings
from lakehouse.demo.readings_json import JsonLayout
from lakehouse.demo.vitals import (
    DEVICE_TYPES,
    SCHEDULE,
    Device,
    Physiology,
    Reading,
    ReadingKey,
    calm,
    decimals,
    natural,
)
from lakehouse.errors import ConfigError

__all__ = ["READINGS_INVALID", "ExpectedReadings", "ReadingKey", "ReadingsFile", "ReadingsPlan"]

_MEMBERS = 40
_WAVE1_DAYS = 7
_WAVE2_DAYS = 3
_WAVE2_SHARE = 0.6  # devices that sync again before the wave-2 file
_DEVICE_WEIGHTS = {"wearable": 6, "bp_cuff": 3, "glucometer": 3, "thermometer": 1, "scale": 2}
# Share of devices reporting a type in its first other unit (mmol/L, degF, lb).
_OTHER_UNIT_SHARE = {"glucose": 0.3, "temperature": 0.35, "weight": 0.35}
_SKEWED_DEVICES = 3
_RESENDING_DEVICES = 2
# Planted outliers, as a jump from the member's median in canonical units.
_OUTLIER_JUMP = {"heart_rate": 115.0, "glucose": 300.0, "spo2": -15.0}
_OUTLIER_HISTORY = 10  # earlier readings of the type a planted outlier needs
_NATURAL_LIMIT = 2.5  # natural readings score below this (the threshold is 3.5)


@dataclass(frozen=True)
class ExpectedReadings:
    """What silver/readings must hold after both waves."""

    rows: int  # distinct (member, type, measured_at) keys
    unknown_member_rows: int  # rows whose member is in no member file: member_known false
    unknown_member_id: str
    outliers: frozenset[ReadingKey]  # the planted outliers; no other row is one
    corrected: frozenset[ReadingKey]  # re-sent in wave 2 with a new value
    late: frozenset[ReadingKey]  # wave-2 readings in an hour wave 1 already has
    resent: int  # wave-1 lines re-sent byte-identical in wave 2 (no new rows)


@dataclass(frozen=True)
class ReadingsFile:
    """One readings file and the counts the pipeline must reproduce."""

    name: str
    wave: int
    content: bytes
    data_records: int
    invalid_reasons: tuple[tuple[str, int], ...]  # planted kind -> records, sorted

    @property
    def invalid_records(self) -> int:
        return sum(count for _, count in self.invalid_reasons)


class ReadingsPlan:
    """One readings dataset's two files; deterministic for a given seed.

    Args:
        config: the readings dataset (``measurements`` set).
        members: members with a valid record in the client's first member file.
        key_format: (prefix, digits) of the client's member ids (``AC``, 7).
        timezone: the members' IANA time zone (local offsets in timestamps).
        taken: the client's member files: the unknown member's id is in none of them.

    Raises:
        ConfigError: a required column the generator cannot fill, or no type it can model.
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        members: Sequence[Member],
        key_format: tuple[str, int],
        timezone: str,
        seed: int,
        taken: Collection[bytes],
    ) -> None:
        if config.measurements is None:
            raise ValueError(f"{config.feed} is not a measurements dataset")
        self.config = config
        self.settings = config.measurements
        self.layout = JsonLayout.of(config, self.settings)
        self.types = [t for t in self.settings.types if t in SCHEDULE]
        if not self.types:
            raise ConfigError(
                "the demo generator models none of these reading types",
                path=f"clients/{config.client_id}.yaml",
                key=f"datasets.{config.dataset}.measurements.types",
                expected=f"some of {', '.join(SCHEDULE)}",
                found=", ".join(self.settings.types),
            )
        # Its own stream: the member files stay byte-identical with or without readings.
        self.rng = random.Random(f"{seed}:{config.feed}")
        self.zone = ZoneInfo(timezone)
        adults = [m for m in members if m.birth_date.year <= 2007]
        chosen = sorted(self.rng.sample(adults, min(_MEMBERS, len(adults))), key=_member_id)
        self.births = {m.member_id: m.birth_date for m in chosen}
        self.bodies = {m.member_id: Physiology.draw(self.rng) for m in chosen}
        self._device_ids: set[str] = set()
        self.devices = self._devices([m.member_id for m in chosen])
        self.unknown_id = self._unknown_id(key_format, taken)
        self.bodies[self.unknown_id] = Physiology.draw(self.rng)
        self.first_day = dt.date.min

    def build(
        self, wave1: dt.date, wave2: dt.date
    ) -> tuple[ReadingsFile, ReadingsFile, ExpectedReadings]:
        """The wave-1 file created on ``wave1``, the wave-2 file on ``wave2``, and silver."""
        rng = self.rng
        days1 = [wave1 - dt.timedelta(days=n) for n in range(_WAVE1_DAYS, 0, -1)]
        days2 = [wave2 - dt.timedelta(days=n) for n in range(_WAVE2_DAYS, 0, -1)]
        self.first_day = days1[0]
        first = [r for d in self.devices for r in self._series(d, days1)]
        syncing = sorted(
            rng.sample(range(len(self.devices)), round(_WAVE2_SHARE * len(self.devices)))
        )
        second = [r for i in syncing for r in self._series(self.devices[i], days2)]
        stranger = self._device(self.unknown_id, "wearable")
        second += [
            dataclasses.replace(r, role="unknown_member")
            for r in self._series(stranger, days2[-1:])
        ]
        reasons1 = plant_invalid_readings(first, self, counts=READINGS_INVALID[1], rng=rng)
        reasons2 = plant_invalid_readings(second, self, counts=READINGS_INVALID[2], rng=rng)
        valid1 = [r for r in first if r.invalid is None]
        resent = self._resent(valid1, days1[-1])
        resent_keys = {r.key for r in resent}
        # A cuff (or else any device) re-sends one reading with a corrected value.
        others = [r for r in valid1 if r.key not in resent_keys and r.reading_type != "weight"]
        source = rng.choice([r for r in others if r.secondary is not None] or others)
        correction = dataclasses.replace(source, role="corrected")
        late = self._late(valid1)
        outliers = self._outlier_slots([*valid1, *second], second)
        second += [correction, late]
        state1 = valid1
        state2 = [r for r in valid1 if r is not source] + [r for r in second if r.invalid is None]
        calm([state2, state1], self.settings.outliers, limit=_NATURAL_LIMIT)
        for reading in outliers:
            reading.role = "outlier"
            reading.value = self._outlier_value(reading, state2)
        step = 10.0 ** -decimals(source.unit)
        correction.value = source.value + rng.choice((-3, -2, 2, 3)) * step
        calm([state2, state1], self.settings.outliers, limit=_NATURAL_LIMIT)
        if correction.value == source.value:  # smoothed back: still a correction
            correction.value += step
        lines1 = [self.layout.line(r, self.timestamp(r)) for r in sorted(first, key=_order)]
        lines2 = [self.layout.line(r, self.timestamp(r)) for r in sorted(second, key=_order)]
        at = rng.randrange(len(lines2) + 1)
        lines2[at:at] = [self.layout.line(r, self.timestamp(r)) for r in sorted(resent, key=_order)]
        final = {r.key for r in state2}
        expected = ExpectedReadings(
            rows=len(final),
            unknown_member_rows=sum(k.member_id == self.unknown_id for k in final),
            unknown_member_id=self.unknown_id,
            outliers=frozenset(r.key for r in outliers),
            corrected=frozenset({correction.key}),
            late=frozenset({late.key}),
            resent=len(resent),
        )
        return (
            self._file(wave1, 1, lines1, reasons1),
            self._file(wave2, 2, lines2, reasons2),
            expected,
        )

    def timestamp(self, reading: Reading, at: dt.datetime | None = None) -> str:
        """``at`` (default: the reading's) as the reading's device writes it."""
        moment = reading.at if at is None else at
        if reading.device.zulu:
            return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return moment.astimezone(self.zone).isoformat()

    def local(self, at: dt.datetime) -> dt.datetime:
        return at.astimezone(self.zone)

    def birth(self, member_id: str) -> dt.date | None:
        return self.births.get(member_id)

    def _devices(self, member_ids: Sequence[str]) -> list[Device]:
        rng = self.rng
        kinds = [k for k, types in DEVICE_TYPES.items() if set(types) & set(self.types)]
        weights = [_DEVICE_WEIGHTS[k] for k in kinds]
        devices: list[Device] = []
        for member_id in member_ids:
            wanted = min(len(kinds), 2 if rng.random() < 0.5 else 1)
            picked: list[str] = []
            while len(picked) < wanted:
                kind = rng.choices(kinds, weights=weights)[0]
                if kind not in picked:
                    picked.append(kind)
            devices += [self._device(member_id, kind) for kind in picked]
        # Every other unit the config accepts is in use at least once.
        for reading_type in self.types:
            for unit in self.settings.types[reading_type].convert:
                users = [d for d in devices if unit in (u for _, u in d.units)]
                owners = [i for i, d in enumerate(devices) if reading_type in dict(d.units)]
                if owners and not users:
                    index = owners[0]
                    units = tuple(
                        (t, unit if t == reading_type else u) for t, u in devices[index].units
                    )
                    devices[index] = dataclasses.replace(devices[index], units=units)
        for index in rng.sample(range(len(devices)), min(_SKEWED_DEVICES, len(devices))):
            seconds = rng.choice((-1, 1)) * rng.randint(2 * 60, 9 * 60)
            devices[index] = dataclasses.replace(devices[index], skew=dt.timedelta(seconds=seconds))
        return devices

    def _device(self, member_id: str, kind: str) -> Device:
        rng = self.rng
        device_id = f"DEV-{rng.randrange(16**6):06X}"
        while device_id in self._device_ids:
            device_id = f"DEV-{rng.randrange(16**6):06X}"
        self._device_ids.add(device_id)
        units: list[tuple[str, str]] = []
        for reading_type in DEVICE_TYPES[kind]:
            if reading_type not in self.types:
                continue
            spec = self.settings.types[reading_type]
            others = list(spec.convert)
            share = _OTHER_UNIT_SHARE.get(reading_type, 0.0)
            units.append(
                (reading_type, others[0] if others and rng.random() < share else spec.unit)
            )
        return Device(
            device_id=device_id,
            kind=kind,
            member_id=member_id,
            units=tuple(units),
            zulu=rng.random() < 0.25,
            skew=dt.timedelta(0),
            string_values=rng.random() < 0.15,
            compact=rng.random() < 0.3,
            null_secondary=rng.random() < 0.5,
        )

    def _unknown_id(self, key_format: tuple[str, int], taken: Collection[bytes]) -> str:
        """A member id of the right shape in no member file (a member not delivered yet)."""
        prefix, digits = key_format
        texts = [content.lower() for content in taken]
        while True:
            candidate = f"{prefix}{self.rng.randrange(10**digits):0{digits}d}"
            needle = candidate.lower().encode()
            if candidate not in self.births and not any(needle in text for text in texts):
                return candidate

    def _series(self, device: Device, days: Iterable[dt.date]) -> list[Reading]:
        rng = self.rng
        body = self.bodies[device.member_id]
        found: list[Reading] = []
        for day in days:
            for reading_type, unit in device.units:
                hours, skip = SCHEDULE[reading_type]
                for hour in hours:
                    if rng.random() < skip:
                        continue
                    clock = dt.time(hour, rng.randrange(60), rng.randrange(60))
                    local = dt.datetime.combine(day, clock, tzinfo=self.zone)
                    canonical = natural(reading_type, body, local, (day - self.first_day).days, rng)
                    found.append(self._reading(device, reading_type, unit, local, *canonical))
        return found

    def _reading(
        self,
        device: Device,
        reading_type: str,
        unit: str,
        local: dt.datetime,
        value: float,
        secondary: float | None,
    ) -> Reading:
        spec = self.settings.types[reading_type]
        margin = 0.02 * (spec.valid.high - spec.valid.low)
        value = min(max(value, spec.valid.low + margin), spec.valid.high - margin)
        if spec.secondary is not None and secondary is not None:
            low, high = spec.secondary.valid.low, spec.secondary.valid.high
            secondary = round(min(max(secondary, low + 5), high - 5, value - 15))
        at = local.astimezone(dt.UTC) + device.skew
        return Reading(
            device, reading_type, at, self.to_unit(reading_type, unit, value), secondary, unit
        )

    def to_unit(self, reading_type: str, unit: str, canonical: float) -> float:
        """``canonical`` in ``unit``, rounded as a device reporting in it would."""
        conversion = self.settings.types[reading_type].units()[unit.casefold()]
        return round((canonical - conversion.offset) / conversion.factor, decimals(unit))

    def _resent(self, valid: Sequence[Reading], last_day: dt.date) -> list[Reading]:
        """Every valid reading of the last wave-1 day of a few devices, sent again."""
        last = [r for r in valid if self.local(r.at).date() == last_day]
        # Wearables first: a watch re-syncing its day re-sends a dozen readings or more.
        wearables = sorted({r.device.device_id for r in last if r.device.kind == "wearable"})
        devices = wearables or sorted({r.device.device_id for r in last})
        again = set(self.rng.sample(devices, min(_RESENDING_DEVICES, len(devices))))
        return [r for r in last if r.device.device_id in again]

    def _late(self, valid: Sequence[Reading]) -> Reading:
        """A reading synced late into an hour (member, type, UTC hour) wave 1 already has."""
        natural = [r for r in valid if r.role == "natural" and r.at.minute < 30]
        slots = [r for r in natural if r.reading_type == "heart_rate"] or natural
        source = self.rng.choice(slots)
        minute = self.rng.randint(source.at.minute + 10, 59)
        at = source.at.replace(minute=minute, second=self.rng.randrange(60))
        return dataclasses.replace(source, at=at, role="late")

    def _outlier_slots(self, valid: Sequence[Reading], second: Sequence[Reading]) -> list[Reading]:
        """One wave-2 reading per outlier type, each of another member with history."""
        chosen: list[Reading] = []
        members: set[str] = set()
        for reading_type in (t for t in _OUTLIER_JUMP if t in self.types):
            times: dict[str, list[dt.datetime]] = defaultdict(list)
            for reading in valid:
                if reading.reading_type == reading_type:
                    times[reading.device.member_id].append(reading.at)
            candidates = [
                r
                for r in second
                if r.reading_type == reading_type
                and r.role == "natural"
                and r.invalid is None
                and r.device.member_id not in members
                and sum(t < r.at for t in times[r.device.member_id]) >= _OUTLIER_HISTORY
            ]
            if candidates:
                pick = self.rng.choice(candidates)
                chosen.append(pick)
                members.add(pick.device.member_id)
        return chosen

    def _outlier_value(self, reading: Reading, state: Sequence[Reading]) -> float:
        history = [r.value for r in state if r.key[:2] == reading.key[:2] and r.at < reading.at]
        median = statistics.median(history[-self.settings.outliers.window :])
        conversion = self.settings.types[reading.reading_type].units()[reading.unit.casefold()]
        spec = self.settings.types[reading.reading_type]
        canonical = (
            median * conversion.factor + conversion.offset + _OUTLIER_JUMP[reading.reading_type]
        )
        canonical = min(max(canonical, spec.valid.low + 1), spec.valid.high - 1)
        return self.to_unit(reading.reading_type, reading.unit, canonical)

    def _file(
        self, created: dt.date, wave: int, lines: Sequence[str], reasons: Counter[str]
    ) -> ReadingsFile:
        date = created.strftime(self.config.file.name_date_format)
        content = "".join(f"{line}\n" for line in lines).encode(self.config.file.encoding)
        return ReadingsFile(
            name=f"{self.config.feed}_{date}.{self.config.file.extension}",
            wave=wave,
            content=content,
            data_records=len(lines),
            invalid_reasons=tuple(sorted(reasons.items())),
        )


def _member_id(member: Member) -> str:
    return member.member_id


def _order(reading: Reading) -> tuple[dt.datetime, str, str]:
    return reading.at, reading.device.device_id, reading.reading_type
