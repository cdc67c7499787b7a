"""Seeded, realistic demo landing files for the configured clients.

``build_demo`` tells one story per client in two waves. Wave 1 is what lands before the first
run: a full file, a delta file a week later and, for one client, a ``_1``/``_2`` pair on the
same day whose order matters. Wave 2 lands after that run: a newer delta, a *late* file dated
before everything already ingested (stale versions must not win), a byte-identical re-send
under a new name, a misnamed file and a file from a client nobody configured.

A client's readings dataset (``measurements:``, e.g. ``acme_readings``) gets a week of
device readings of some of its members in wave 1 and a smaller file in wave 2 with re-sends,
a correction, a late reading, an unknown member and planted outliers
(``lakehouse.demo.readings``). Adding it leaves the member files byte-identical.

Every file follows its client's YAML (headers, delimiter, quoting, date formats, file-name
date format) and carries a known number of invalid records, so tests and the demo can check
the pipeline's counts exactly. Same seed, same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import random
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from faker import Faker

from lakehouse.config.models import ClientConfig
from lakehouse.demo.invalid import Row, plant_invalid, rotation
from lakehouse.demo.members import ClientLayout, Member, MemberFactory, render
from lakehouse.demo.readings import ExpectedReadings, ReadingsFile, ReadingsPlan

__all__ = ["DemoDataset", "DemoFile", "build_demo"]

_WAVE1_START = dt.date(2026, 1, 5)  # first client's full file; the next client a day later
_WAVE2_DELTA = dt.date(2026, 2, 2)
_DUPLICATE_DATE = dt.date(2026, 2, 3)
_LATE_DATE = dt.date(2025, 12, 29)  # before every wave-1 file
_UNKNOWN_DATE = dt.date(2026, 1, 20)
_UNKNOWN_CLIENTS = ("umbrella", "initech", "hooli")
_READINGS_AFTER = dt.timedelta(days=3)  # wave-1 readings land this long after the full file
_INVALID_RATE = 0.06
_SPECIAL_NAMES = ("suffix", "delimiter", "nickname", "newline")
# Files whose valid records reach silver; the other kinds are rejected as a whole.
_SILVER_KINDS = frozenset({"normal", "update", "late", "sequence"})


@dataclass(frozen=True)
class DemoFile:
    """One file to drop into landing, with the counts the pipeline must reproduce.

    ``invalid_records`` counts the records the pipeline must quarantine, ``invalid_reasons``
    the planted kinds behind them. Files it must reject as a whole (``duplicate``,
    ``misnamed``, ``unknown_client``) never reach row validation, so theirs is 0.
    ``dataset`` tells a client's member files from its readings files (``readings``).
    """

    name: str
    wave: int
    client_id: str | None
    data_records: int
    invalid_records: int
    kind: str
    content: bytes
    dataset: str = "members"
    invalid_reasons: tuple[tuple[str, int], ...] = ()  # planted kind -> records, sorted


@dataclass(frozen=True)
class DemoDataset:
    """The demo files of every client, in drop order."""

    files: tuple[DemoFile, ...]
    # client_id -> member ids with at least one valid record in a file that reaches silver.
    _silver_ids: tuple[tuple[str, frozenset[str]], ...] = field(default=(), repr=False)
    # (client_id, dataset) -> what that readings dataset's silver table must hold.
    _readings: tuple[tuple[tuple[str, str], ExpectedReadings], ...] = field(default=(), repr=False)

    def write(self, landing_dir: Path, *, waves: Collection[int] = (1, 2)) -> list[Path]:
        """Write the files of ``waves`` into ``landing_dir`` (created if missing).

        A file whose bytes are already on disk is left alone, mtime included, so a rerun is a
        no-op for a file-watching pipeline. Written files get increasing mtimes in drop order,
        each after every file already in the directory, since discovery may order by mtime.

        Returns:
            The paths of the files of ``waves``, written or kept, in drop order.
        """
        landing_dir.mkdir(parents=True, exist_ok=True)
        chosen = sorted((f for f in self.files if f.wave in waves), key=lambda f: f.wave)
        mtimes = [p.stat().st_mtime for p in landing_dir.iterdir() if p.is_file()]
        clock = math.ceil(max([time.time(), *(m + 1 for m in mtimes)]))
        paths: list[Path] = []
        for demo_file in chosen:
            path = landing_dir / demo_file.name
            paths.append(path)
            if path.is_file() and path.read_bytes() == demo_file.content:
                continue
            # Write aside, then rename: a watcher never sees half a file. Spark and the
            # landing discovery both ignore names starting with '.'.
            staging = landing_dir / f".{demo_file.name}.tmp"
            staging.write_bytes(demo_file.content)
            os.utime(staging, (clock, clock))
            staging.replace(path)
            clock += 1
        return paths

    def expected_silver_rows(self) -> dict[str, int]:
        """client_id -> distinct valid members expected in silver after both waves."""
        return {client_id: len(ids) for client_id, ids in self._silver_ids}

    def expected_readings(self, client_id: str, dataset: str = "readings") -> ExpectedReadings:
        """What silver/<dataset> (a readings dataset of ``client_id``) must hold after both
        waves: distinct (member, type, measured_at) rows, those of an unknown member, the
        planted outliers.

        Raises:
            KeyError: the demo has no such readings dataset.
        """
        for key, expected in self._readings:
            if key == (client_id, dataset):
                return expected
        raise KeyError(f"no demo readings for {client_id}/{dataset}")


def build_demo(
    clients: Mapping[str, ClientConfig], *, seed: int = 42, members_per_client: int = 1200
) -> DemoDataset:
    """Build the demo files for ``clients`` (configs by feed, as ``load_clients`` returns
    them); deterministic for a given ``seed``.

    Every client's default dataset gets a full file of ``members_per_client`` members and a
    delta file (~10% updates, ~5% new members). ``globex`` (or else the last client) also gets
    a same-day ``_1``/``_2`` pair; ``acme`` (or else the first client) gets the wave-2 story: a
    delta, a late file, a duplicate and a misnamed file. One unknown-client file completes
    wave 2. Every readings dataset (``measurements:``) of a client with members gets a week of
    readings of some of them in wave 1, three days after the client's full file, and a
    smaller file in wave 2 (``lakehouse.demo.readings``). Other datasets get no files.

    Raises:
        ValueError: no members dataset, or fewer than 100 members per client (too few for the
            story).
        ConfigError: a client has a column the generator cannot fill.
    """
    members = {c.client_id: c for c in clients.values() if _is_members(c)}
    if not members:
        raise ValueError("build_demo needs at least one client configuration")
    if members_per_client < 100:
        raise ValueError(f"members_per_client must be at least 100, got {members_per_client}")
    readings = sorted(
        (c for c in clients.values() if c.measurements is not None and c.client_id in members),
        key=lambda c: c.feed,
    )
    ids = sorted(members)
    story = "acme" if "acme" in members else ids[0]
    pair = "globex" if "globex" in members else ids[-1]
    wave1: list[tuple[dt.date, str, DemoFile]] = []
    wave2: list[DemoFile] = []
    wave2_readings: list[DemoFile] = []
    silver: list[tuple[str, frozenset[str]]] = []
    expected: list[tuple[tuple[str, str], ExpectedReadings]] = []
    for index, client_id in enumerate(ids):
        plan = _ClientPlan(members[client_id], seed=seed, size=members_per_client)
        start = _WAVE1_START + dt.timedelta(days=index)
        full = plan.full_file(start)
        roster = list(plan.current.values())  # valid in the full file: in silver from wave 1
        wave1.append((start, full.name, full))
        if client_id == pair:
            for demo_file in plan.sequence_pair(start + dt.timedelta(days=4)):
                wave1.append((start + dt.timedelta(days=4), demo_file.name, demo_file))
        delta = plan.delta_file(start + dt.timedelta(days=7))
        wave1.append((start + dt.timedelta(days=7), delta.name, delta))
        if client_id == story:
            wave2 += [
                plan.wave2_delta(_WAVE2_DELTA),
                plan.late_file(_LATE_DATE),
                plan.duplicate_of(full, _DUPLICATE_DATE),
                plan.misnamed_file(),
            ]
        silver.append((client_id, frozenset(plan.silver)))
        taken = [f.content for _, _, f in wave1 if f.client_id == client_id]
        taken += [f.content for f in wave2 if f.client_id == client_id]
        for config in (c for c in readings if c.client_id == client_id):
            calendar = config.delivery or members[client_id].delivery
            zone = calendar.timezone if calendar is not None else "UTC"
            readings_plan = ReadingsPlan(
                config,
                members=roster,
                key_format=(plan.layout.key_prefix, plan.layout.key_digits),
                timezone=zone,
                seed=seed,
                taken=taken,
            )
            first, second, outcome = readings_plan.build(start + _READINGS_AFTER, _WAVE2_DELTA)
            demo_first, demo_second = (_readings_file(config, f) for f in (first, second))
            wave1.append((start + _READINGS_AFTER, demo_first.name, demo_first))
            wave2_readings.append(demo_second)
            expected.append(((client_id, config.dataset), outcome))
    known = {c.client_id for c in clients.values()}
    unknown = next(c for c in _UNKNOWN_CLIENTS if c not in known)
    wave2 += [*wave2_readings, _unknown_client_file(unknown, seed=seed)]
    files = tuple(f for _, _, f in sorted(wave1, key=lambda t: t[:2])) + tuple(wave2)
    return DemoDataset(files, _silver_ids=tuple(silver), _readings=tuple(expected))


def _is_members(config: ClientConfig) -> bool:
    """A client's default dataset gets member files (unless it holds readings itself)."""
    return config.feed == config.client_id and config.measurements is None


def _readings_file(config: ClientConfig, readings: ReadingsFile) -> DemoFile:
    return DemoFile(
        name=readings.name,
        wave=readings.wave,
        client_id=config.client_id,
        data_records=readings.data_records,
        invalid_records=readings.invalid_records,
        kind="normal" if readings.wave == 1 else "update",
        content=readings.content,
        dataset=config.dataset,
        invalid_reasons=readings.invalid_reasons,
    )


class _ClientPlan:
    """One client's files, generated in processing order so each builds on the last."""

    def __init__(self, config: ClientConfig, *, seed: int, size: int) -> None:
        self.config = config
        self.layout = ClientLayout.of(config)
        # Per-client streams: adding a client leaves the other clients' files unchanged.
        self.rng = random.Random(f"{seed}:{config.client_id}")
        self.factory = MemberFactory(self.layout, seed=seed, rng=self.rng)
        self.size = size
        self.kinds = rotation(0)
        # What silver holds (the last valid version per member, in processing order), and
        # every member with a valid record in a silver-bound file (late file included).
        self.current: dict[str, Member] = {}
        self.silver: dict[str, None] = {}

    def full_file(self, created: dt.date) -> DemoFile:
        members = [self.factory.new() for _ in range(self.size)]
        # A few names the CSV writer must quote, spread over the file.
        slots = self.rng.sample(range(len(members)), 2 * len(_SPECIAL_NAMES))
        for slot, kind in zip(slots, _SPECIAL_NAMES * 2, strict=True):
            members[slot] = self.factory.special(members[slot], kind)
        return self._data_file(members, created=created, kind="normal", wave=1)

    def delta_file(self, created: dt.date) -> DemoFile:
        members = self._updates(round(0.10 * self.size)) + self._new(round(0.05 * self.size))
        self.rng.shuffle(members)
        return self._data_file(members, created=created, kind="update", wave=1)

    def sequence_pair(self, created: dt.date) -> list[DemoFile]:
        first = self._updates(round(0.04 * self.size)) + self._new(round(0.02 * self.size))
        self.rng.shuffle(first)
        one = self._data_file(first, created=created, kind="sequence", wave=1, sequence=1)
        # _2 changes members that _1 just wrote: applied in the wrong order, _1's values win.
        written = [m.member_id for m in first if self.current.get(m.member_id) is m]
        again = self.rng.sample(written, len(written) * 2 // 5)
        second = [self.factory.changed(self.current[m]) for m in again]
        second += self._new(round(0.01 * self.size))
        self.rng.shuffle(second)
        two = self._data_file(second, created=created, kind="sequence", wave=1, sequence=2)
        return [one, two]

    def wave2_delta(self, created: dt.date) -> DemoFile:
        members = self._updates(max(5, round(0.02 * self.size)))
        return self._data_file(members, created=created, kind="update", wave=2)

    def late_file(self, created: dt.date) -> DemoFile:
        # Stale versions of members silver already holds, plus members it has never seen.
        known = self.rng.sample(list(self.current), max(5, self.size // 60))
        stale = [self.factory.changed(self.current[m]) for m in known]
        members = stale + self._new(max(3, self.size // 120))
        self.rng.shuffle(members)
        return self._data_file(members, created=created, kind="late", wave=2, applies=False)

    def duplicate_of(self, original: DemoFile, created: dt.date) -> DemoFile:
        return DemoFile(
            name=self._name(created),
            wave=2,
            client_id=self.config.client_id,
            data_records=original.data_records,
            invalid_records=0,
            kind="duplicate",
            content=original.content,
        )

    def misnamed_file(self) -> DemoFile:
        # Valid rows of members seen nowhere else: if this file were ingested, silver would
        # show members it should not have.
        rows = [Row(m.member_id, render(m, self.layout, self.rng)) for m in self._new(15)]
        return DemoFile(
            name=f"{self.config.client_id}-report-final.csv",
            wave=2,
            client_id=self.config.client_id,
            data_records=len(rows),
            invalid_records=0,
            kind="misnamed",
            content=self._csv(rows),
        )

    def _updates(self, count: int) -> list[Member]:
        chosen = self.rng.sample(list(self.current), count)
        return [self.factory.changed(self.current[m]) for m in chosen]

    def _new(self, count: int) -> list[Member]:
        return [self.factory.new() for _ in range(count)]

    def _data_file(
        self,
        members: Sequence[Member],
        *,
        created: dt.date,
        kind: str,
        wave: int,
        sequence: int = 0,
        applies: bool = True,
    ) -> DemoFile:
        """Render, plant invalid records, and record what reaches silver.

        ``applies`` is False for the late file: its valid rows are older than silver's, so
        they add new members but do not change the current version of known ones.
        """
        by_id = {m.member_id: m for m in members}
        rows = [Row(m.member_id, render(m, self.layout, self.rng)) for m in members]
        count = max(1, round(_INVALID_RATE * len(rows))) if len(rows) >= 10 else 0
        plant_invalid(
            rows,
            self.layout,
            count=count,
            created=created,
            kinds=self.kinds,
            variant=lambda row: render(
                self.factory.changed(by_id[row.member_id]), self.layout, self.rng
            ),
            rng=self.rng,
        )
        for row in rows:
            if row.valid:
                self.silver[row.member_id] = None
                if applies or row.member_id not in self.current:
                    self.current[row.member_id] = by_id[row.member_id]
        return DemoFile(
            name=self._name(created, sequence),
            wave=wave,
            client_id=self.config.client_id,
            data_records=len(rows),
            invalid_records=sum(not row.valid for row in rows),
            kind=kind,
            content=self._csv(rows),
        )

    def _name(self, created: dt.date, sequence: int = 0) -> str:
        suffix = f"_{sequence}" if sequence else ""
        date = created.strftime(self.config.file.name_date_format)
        return f"{self.config.client_id}_{date}{suffix}.csv"

    def _csv(self, rows: Sequence[Row]) -> bytes:
        file_format = self.config.file
        buffer = io.StringIO()
        writer = csv.writer(
            buffer,
            delimiter=file_format.delimiter,
            quotechar=file_format.quote,
            # The YAML's escape equal to the quote means RFC 4180 doubling ("" inside quotes).
            doublequote=file_format.escape == file_format.quote,
            escapechar=None if file_format.escape == file_format.quote else file_format.escape,
            quoting=csv.QUOTE_MINIMAL,
            lineterminator="\n",
        )
        writer.writerow([column.header for column in self.config.columns])
        for row in rows:
            if row.raw is not None:
                buffer.write(row.raw + "\n")
            else:
                writer.writerow([row.values[column.name] for column in self.config.columns])
        return buffer.getvalue().encode(file_format.encoding)


def _unknown_client_file(client_id: str, *, seed: int) -> DemoFile:
    """A plausible member file from a client with no configuration: rejected as a whole."""
    rng = random.Random(f"{seed}:{client_id}")
    faker = Faker("en_US")
    faker.seed_instance(f"{seed}:{client_id}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["member_id", "first_name", "last_name", "dob", "plan"])
    records = 25
    for number in rng.sample(range(100_000), records):
        birth = faker.date_between(dt.date(1930, 1, 1), dt.date(2020, 12, 31))
        plan = rng.choice(("GOLD", "SILVER", "BRONZE"))
        writer.writerow([f"UM{number:05d}", faker.first_name(), faker.last_name(), birth, plan])
    return DemoFile(
        name=f"{client_id}_{_UNKNOWN_DATE:%Y-%m-%d}.csv",
        wave=2,
        client_id=None,
        data_records=records,
        invalid_records=0,
        kind="unknown_client",
        content=buffer.getvalue().encode("utf-8"),
    )
