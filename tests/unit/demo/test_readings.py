"""The demo's readings files: JSON lines shaped by the YAML, exact invalid and silver counts.

Counts are checked against a small reference validator written here from the readings
dataset's ``measurements:`` (units, ranges, diastolic, types) and the members' birth dates,
independently of the generator's own bookkeeping. Values are read as the pipeline's JSON-lines
reader reads them: numbers and strings both as their text.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig
from lakehouse.demo import DemoDataset, DemoFile, build_demo
from lakehouse.demo.readings_invalid import READINGS_INVALID

_OFFSET = re.compile(r"(Z|[+-][0-9]{2}:[0-9]{2})$")
_DEVICE = re.compile(r"DEV-[0-9A-F]{6}")
Key = tuple[str, str, dt.datetime]


@pytest.fixture(scope="module")
def configs() -> dict[str, ClientConfig]:
    return load_clients(Path("clients"))


@pytest.fixture(scope="module")
def demo(configs: dict[str, ClientConfig]) -> DemoDataset:
    return build_demo(configs)


@pytest.fixture(scope="module")
def readings(configs: dict[str, ClientConfig]) -> ClientConfig:
    return configs["acme_readings"]


def _files(demo: DemoDataset) -> tuple[DemoFile, DemoFile]:
    first, second = (f for f in demo.files if f.dataset == "readings")
    return first, second


def _decode(line: str) -> dict[str, Any]:
    # As lakehouse.landing.json_lines reads it: a number arrives as its own text.
    record: dict[str, Any] = json.loads(line, parse_int=str, parse_float=str)
    return record


def _records(demo_file: DemoFile) -> list[dict[str, Any]]:
    return [_decode(line) for line in demo_file.content.decode("utf-8").splitlines()]


def _births(demo: DemoDataset, configs: dict[str, ClientConfig]) -> dict[str, dt.date]:
    """Member id -> birth date, from acme's member files (the valid spellings)."""
    config = configs["acme"]
    headers = [c.header for c in config.columns]
    births: dict[str, dt.date] = {}
    for demo_file in demo.files:
        if demo_file.client_id != "acme" or demo_file.dataset != "members":
            continue
        text = demo_file.content.decode("utf-8")
        for row in csv.DictReader(io.StringIO(text, newline=""), fieldnames=headers):
            for pattern in ("%Y-%m-%d", "%m/%d/%Y"):
                try:
                    births[row["MemberID"].strip().upper()] = dt.datetime.strptime(
                        row["DOB"] or "", pattern
                    ).date()
                except ValueError:
                    continue
    return births


def _instant(text: str) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None


def _problem(
    record: dict[str, Any], config: ClientConfig, births: dict[str, dt.date]
) -> str | None:
    """Why the pipeline must quarantine ``record`` (a reference, not the pipeline)."""
    settings = config.measurements
    assert settings is not None
    found: list[str] = []
    spec = settings.types.get(str(record["type"]).lower())
    if spec is None:
        return "unknown_type"
    conversion = spec.units().get(str(record["unit"]).casefold())
    if conversion is None:
        found.append("unknown_unit")
    elif float(record["value"]) * conversion.factor + conversion.offset not in spec.valid:
        found.append("out_of_range")
    if spec.secondary is not None:
        diastolic = record.get("diastolic")
        if diastolic is None:
            found.append("missing_diastolic")
        elif float(diastolic) not in spec.secondary.valid:
            found.append("secondary_out_of_range")
        elif spec.secondary.below_value and float(diastolic) >= float(record["value"]):
            found.append("diastolic_not_below")
    instant = _instant(record["timestamp"])
    if instant is None:
        found.append("invalid_timestamp")
    elif instant > dt.datetime.now(dt.UTC):
        found.append("future_timestamp")
    elif record["memberId"] in births and instant.year < births[record["memberId"]].year:
        found.append("before_birth")  # silver/members keeps the year of birth
    # One planted problem per record: a second one would be a value broken by accident.
    assert len(found) <= 1, (record, found)
    return found[0] if found else None


def _key(record: dict[str, Any]) -> Key | None:
    instant = _instant(record["timestamp"])
    if instant is None:
        return None
    return str(record["memberId"]).upper(), str(record["type"]).lower(), instant


def _canonical(record: dict[str, Any], config: ClientConfig) -> float:
    assert config.measurements is not None
    spec = config.measurements.types[record["type"]]
    conversion = spec.units()[record["unit"].casefold()]
    return float(record["value"]) * conversion.factor + conversion.offset


def _valid(
    demo_file: DemoFile, config: ClientConfig, births: dict[str, dt.date]
) -> dict[Key, dict[str, Any]]:
    found: dict[Key, dict[str, Any]] = {}
    for record in _records(demo_file):
        key = _key(record)
        if _problem(record, config, births) is None and key is not None:
            found[key] = record
    return found


def _outliers(rows: dict[Key, dict[str, Any]], config: ClientConfig) -> dict[Key, float]:
    """Key -> modified z-score, for every row with enough history (the config's rule)."""
    assert config.measurements is not None
    rules = config.measurements.outliers
    series: dict[tuple[str, str], list[Key]] = defaultdict(list)
    for key in sorted(rows, key=lambda k: k[2]):
        series[key[:2]].append(key)
    scores: dict[Key, float] = {}
    for keys in series.values():
        values = [_canonical(rows[k], config) for k in keys]
        for index, key in enumerate(keys):
            history = values[max(0, index - rules.window) : index]
            if len(history) < rules.min_history:
                continue
            median = statistics.median(history)
            mad = statistics.median(abs(v - median) for v in history)
            assert mad > 0, key  # a flat history would make any other value an outlier
            scores[key] = 0.6745 * abs(values[index] - median) / mad
    return scores


def test_same_seed_same_bytes(configs: dict[str, ClientConfig], demo: DemoDataset) -> None:
    again, other = _files(build_demo(configs, seed=42)), _files(build_demo(configs, seed=7))
    assert [f.content for f in again] == [f.content for f in _files(demo)]
    assert [f.name for f in other] == [f.name for f in _files(demo)]
    assert all(o.content != d.content for o, d in zip(other, _files(demo), strict=True))


def test_member_files_are_the_same_with_or_without_readings(
    configs: dict[str, ClientConfig], demo: DemoDataset
) -> None:
    members_only = {k: c for k, c in configs.items() if c.measurements is None}
    assert "acme_readings" not in members_only
    without = build_demo(members_only)
    assert [f for f in demo.files if f.dataset == "members"] == list(without.files)
    assert demo.expected_silver_rows() == without.expected_silver_rows()


def test_names_waves_and_sizes(demo: DemoDataset) -> None:
    first, second = _files(demo)
    assert (first.name, first.wave, first.kind) == ("acme_readings_2026-01-08.jsonl", 1, "normal")
    assert (second.name, second.wave, second.kind) == (
        "acme_readings_2026-02-02.jsonl",
        2,
        "update",
    )
    assert first.client_id == second.client_id == "acme"
    assert 2000 <= first.data_records <= 3000
    assert 300 <= second.data_records < first.data_records // 2
    # Wave 1 lands with acme's wave-1 member files, wave 2 after the other wave-2 files.
    names = [f.name for f in demo.files]
    assert names.index("acme_2026-01-05.csv") < names.index(first.name)
    assert [f.wave for f in demo.files] == sorted(f.wave for f in demo.files)
    with pytest.raises(KeyError):
        demo.expected_readings("globex")


def test_every_line_is_a_json_object_with_the_configured_keys(
    demo: DemoDataset, readings: ClientConfig
) -> None:
    sources = {c.header for c in readings.columns}
    required = {c.header for c in readings.columns if c.required}
    for demo_file in _files(demo):
        lines = demo_file.content.decode("utf-8").splitlines()
        assert len(lines) == demo_file.data_records
        for line in lines:
            record = _decode(line)
            assert required <= set(record) <= sources, line
            assert all(v is None or isinstance(v, str) for v in record.values())
            assert re.fullmatch(r"AC[0-9]{7}", record["memberId"])
            assert _DEVICE.fullmatch(record["deviceId"])


def test_invalid_counts_match_a_reference_validator(
    configs: dict[str, ClientConfig], demo: DemoDataset, readings: ClientConfig
) -> None:
    births = _births(demo, configs)
    for demo_file in _files(demo):
        found = Counter(
            p for r in _records(demo_file) if (p := _problem(r, readings, births)) is not None
        )
        assert sum(found.values()) == demo_file.invalid_records
        assert found == dict(demo_file.invalid_reasons) == READINGS_INVALID[demo_file.wave]


def test_no_key_twice_in_a_file(demo: DemoDataset) -> None:
    for demo_file in _files(demo):
        keys = [k for r in _records(demo_file) if (k := _key(r)) is not None]
        assert len(keys) == len(set(keys)), demo_file.name


def test_timestamps_carry_offsets_but_the_planted_ones(
    configs: dict[str, ClientConfig], demo: DemoDataset, readings: ClientConfig
) -> None:
    births = _births(demo, configs)
    endings = Counter[str]()
    for demo_file in _files(demo):
        for record in _records(demo_file):
            match = _OFFSET.search(record["timestamp"])
            planted = _problem(record, readings, births) == "invalid_timestamp"
            assert (match is None) == planted, record
            endings[match[1] if match else ""] += 1
    # Mostly acme's local offset in January, some devices in UTC.
    assert set(endings) == {"-05:00", "Z", ""}
    assert endings["-05:00"] > endings["Z"] > 100


def test_unit_mix_and_devices(demo: DemoDataset) -> None:
    records = [r for f in _files(demo) for r in _records(f)]
    units = Counter((r["type"], r["unit"]) for r in records)
    for pair in [("glucose", "mg/dL"), ("glucose", "mmol/L"), ("temperature", "Cel")]:
        assert units[pair] > 0, pair
    for pair in [("temperature", "degF"), ("weight", "kg"), ("weight", "lb")]:
        assert units[pair] > 0, pair
    assert units[("glucose", "mg/dL")] > units[("glucose", "mmol/L")]
    devices: dict[str, set[str]] = defaultdict(set)
    for record in records:
        devices[record["memberId"]].add(record["deviceId"])
    assert 35 <= len(devices) <= 45
    assert {len(d) for d in devices.values()} == {1, 2}
    # Some devices send numbers as JSON strings: the reader sees the same text.
    assert any(b'"value": "' in f.content or b'"value":"' in f.content for f in _files(demo))


def test_values_follow_the_physiology(demo: DemoDataset) -> None:
    first, _ = _files(demo)
    records = [r for r in _records(first) if _instant(r["timestamp"]) is not None]

    def local_hour(record: dict[str, Any]) -> int:
        instant = _instant(record["timestamp"])
        assert instant is not None
        return (instant - dt.timedelta(hours=5)).hour

    heart = [r for r in records if r["type"] == "heart_rate"]
    night = statistics.mean(float(r["value"]) for r in heart if local_hour(r) < 5)
    day = statistics.mean(float(r["value"]) for r in heart if 12 <= local_hour(r) < 19)
    assert night + 5 < day
    pressure = [r for r in records if r["type"] == "blood_pressure" and r.get("diastolic")]
    systolic = [float(r["value"]) for r in pressure]
    assert statistics.correlation(systolic, [float(r["diastolic"]) for r in pressure]) > 0.5
    glucose = [r for r in records if r["type"] == "glucose" and r["unit"] == "mg/dL"]
    fasting = statistics.mean(float(r["value"]) for r in glucose if local_hour(r) < 9)
    after = statistics.mean(float(r["value"]) for r in glucose if local_hour(r) >= 9)
    assert fasting + 20 < after


def test_expected_silver_readings_match_the_reference(
    configs: dict[str, ClientConfig], demo: DemoDataset, readings: ClientConfig
) -> None:
    births = _births(demo, configs)
    first, second = (_valid(f, readings, births) for f in _files(demo))
    final = {**first, **second}
    expected = demo.expected_readings("acme")
    assert expected.rows == len(final)
    unknown = {k for k in final if k[0] not in births}
    assert expected.unknown_member_rows == len(unknown) >= 5
    assert {k[0] for k in unknown} == {expected.unknown_member_id}
    member_files = [f for f in demo.files if f.dataset == "members"]
    assert all(expected.unknown_member_id.encode() not in f.content for f in member_files)
    # Re-sent lines are byte-identical; exactly one re-sent key has a new value.
    lines1 = set(_files(demo)[0].content.decode().splitlines())
    resent = [line for line in _files(demo)[1].content.decode().splitlines() if line in lines1]
    assert len(resent) == expected.resent >= 10
    changed = {k for k in set(first) & set(second) if first[k] != second[k]}
    assert changed == {tuple(k) for k in expected.corrected}
    assert len(set(first) & set(second)) == expected.resent + 1
    # The late reading: new key, in an hour (member, type) wave 1 already has.
    hours = {(k[0], k[1], k[2].replace(minute=0, second=0)) for k in first}
    late = {
        k
        for k in set(second) - set(first)
        if (k[0], k[1], k[2].replace(minute=0, second=0)) in hours
    }
    assert late == {tuple(k) for k in expected.late}


@pytest.mark.parametrize("seed", [42, 7])
def test_outliers_are_exactly_the_planted_ones(
    configs: dict[str, ClientConfig], readings: ClientConfig, seed: int
) -> None:
    demo = build_demo(configs, seed=seed)
    births = _births(demo, configs)
    first, second = (_valid(f, readings, births) for f in _files(demo))
    threshold = readings.measurements.outliers.threshold if readings.measurements else 0
    after_wave1 = _outliers(first, readings)
    assert max(after_wave1.values()) < threshold
    scores = _outliers({**first, **second}, readings)
    flagged = {k for k, score in scores.items() if score > threshold}
    expected = demo.expected_readings("acme")
    assert flagged == {tuple(k) for k in expected.outliers}
    assert {k[1] for k in flagged} == {"heart_rate", "glucose", "spo2"}
    assert all(scores[k] > 2 * threshold for k in flagged)
    for key in flagged:
        earlier = [k for k in {**first, **second} if k[:2] == key[:2] and k[2] < key[2]]
        assert len(earlier) >= 10
