"""The demo generator: deterministic bytes, YAML-shaped files, and exact invalid counts.

The invalid counts are checked against a small reference validator written here from the
client YAML, independently of the generator: a record the generator meant to be valid but
that breaks a rule (or the reverse) makes the counts disagree.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest

from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig, ColumnSpec
from lakehouse.demo import DemoDataset, DemoFile, build_demo

_DATA_KINDS = {"normal", "update", "late", "sequence"}
_PHONE_SHAPES = {
    "parens": r"\([0-9]{3}\) [0-9]{3}-[0-9]{4}",
    "dashes": r"[0-9]{3}-[0-9]{3}-[0-9]{4}",
    "dots": r"[0-9]{3}\.[0-9]{3}\.[0-9]{4}",
    "digits": r"[0-9]{10}",
    "e164ish": r"\+1 [0-9]{3} [0-9]{3} [0-9]{4}",
    "one_dash": r"1-[0-9]{3}-[0-9]{3}-[0-9]{4}",
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")
_ZIP = re.compile(r"[0-9]{5}(-[0-9]{4})?|[0-9]{4}")
_STRFTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d"}


@pytest.fixture(scope="module")
def configs() -> dict[str, ClientConfig]:
    return load_clients(Path("clients"))


@pytest.fixture(scope="module")
def demo(configs: dict[str, ClientConfig]) -> DemoDataset:
    return build_demo(configs)


def _member_files(demo: DemoDataset) -> list[DemoFile]:
    """The member files (and the unknown client's); readings have tests of their own."""
    return [f for f in demo.files if f.dataset == "members"]


def _member_configs(configs: dict[str, ClientConfig]) -> dict[str, ClientConfig]:
    return {feed: c for feed, c in configs.items() if c.feed == c.client_id}


def _records(demo_file: DemoFile, delimiter: str) -> list[list[str]]:
    text = demo_file.content.decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _config(demo_file: DemoFile, configs: dict[str, ClientConfig]) -> ClientConfig:
    assert demo_file.client_id is not None
    return configs[demo_file.client_id]


def _created(demo_file: DemoFile, config: ClientConfig) -> dt.date:
    date_part = demo_file.name.removeprefix(f"{config.client_id}_").split("_")[0]
    date_part = date_part.removesuffix(".csv")
    return dt.datetime.strptime(date_part, config.file.name_date_format).date()


def _parse_date(value: str, formats: tuple[str, ...]) -> dt.date | None:
    for pattern in formats:
        strftime = re.sub(r"yyyy|MM|dd", lambda m: _STRFTIME[m.group(0)], pattern)
        try:
            parsed = dt.datetime.strptime(value, strftime).date()
        except ValueError:
            continue
        if parsed.strftime(strftime) == value:  # exact spelling, as Spark's MM/dd require
            return parsed
    return None


def _problem(column: ColumnSpec, raw: str, config: ClientConfig, created: dt.date) -> str | None:
    """The reason ``raw`` fails ``column``'s rules, or None (a reference, not the pipeline)."""
    value = raw.strip()
    if not value:
        return "not_null" if column.required else None
    checks = column.checks
    if column.type == "date":
        parsed = _parse_date(value, column.formats)
        if parsed is None:
            return "invalid_date"
        if checks.min_date is not None and parsed < checks.min_date:
            return "min_date"
        if checks.not_in_future and parsed > created:
            return "future_date"
    elif column.type == "phone":
        try:
            number = phonenumbers.parse(value, config.phone_region)
        except phonenumbers.NumberParseException:
            return "invalid_phone"
        if not phonenumbers.is_valid_number(number):
            return "invalid_phone"
    elif column.type == "email" and not _EMAIL.fullmatch(value.lower()):
        return "invalid_email"
    elif column.type == "zip" and not _ZIP.fullmatch(value):
        return "invalid_zip"
    elif column.type == "name" and not any(c.isalpha() for c in value):
        return "not_null"
    code = value.upper() if column.case == "upper" else value
    if checks.regex is not None and not re.fullmatch(checks.regex, code):
        return "regex"
    if checks.isin is not None and code not in checks.isin:
        return "isin"
    return None


def _validate(demo_file: DemoFile, config: ClientConfig) -> tuple[list[str | None], list[str]]:
    """(problem or None per data record, key per data record)."""
    records = _records(demo_file, config.file.delimiter)[1:]
    created = _created(demo_file, config)
    problems: list[str | None] = []
    for record in records:
        if len(record) != len(config.columns):
            problems.append("malformed")
            continue
        found = [
            p
            for c, v in zip(config.columns, record, strict=True)
            if (p := _problem(c, v, config, created)) is not None
        ]
        # One planted problem per record: a second one would be a value broken by accident.
        assert len(found) <= 1, (demo_file.name, found)
        problems.append(found[0] if found else None)
    keys = [record[0].strip().upper() for record in records]
    counts = Counter(k for k in keys if k)
    for index, key in enumerate(keys):
        if counts[key] > 1:
            problems[index] = problems[index] or "duplicate_key"
    return problems, keys


def test_same_seed_same_bytes_other_seed_other_bytes(
    configs: dict[str, ClientConfig], demo: DemoDataset
) -> None:
    again = build_demo(configs, seed=42)
    other = build_demo(configs, seed=7)
    assert again == demo
    assert [f.content for f in again.files] == [f.content for f in demo.files]
    assert [f.name for f in other.files] == [f.name for f in demo.files]
    assert all(o.content != d.content for o, d in zip(other.files, demo.files, strict=True))


def test_data_records_match_what_csv_parses(
    configs: dict[str, ClientConfig], demo: DemoDataset
) -> None:
    malformed = Counter[str]()
    for demo_file in _member_files(demo):
        delimiter = configs[demo_file.client_id].file.delimiter if demo_file.client_id else ","
        records = _records(demo_file, delimiter)
        assert len(records) - 1 == demo_file.data_records, demo_file.name
        width = len(records[0])
        for record in records[1:]:
            if len(record) > width:
                malformed["too_many"] += 1
            elif len(record) < width:
                malformed["too_few"] += 1
    assert malformed["too_many"] >= 2
    assert malformed["too_few"] >= 2


def test_headers_delimiters_and_names_follow_the_yaml(
    configs: dict[str, ClientConfig], demo: DemoDataset
) -> None:
    for demo_file in _member_files(demo):
        if demo_file.client_id is None:
            continue
        config = configs[demo_file.client_id]
        assert demo_file.content.startswith(
            config.file.delimiter.join(c.header for c in config.columns).encode() + b"\n"
        )
        if demo_file.kind != "misnamed":
            _created(demo_file, config)  # raises if the name's date is not in the YAML format
    names = {f.name for f in demo.files}
    assert {"globex_20260110_1.csv", "globex_20260110_2.csv"} <= names
    assert "acme_2026-01-05.csv" in names


def test_invalid_counts_match_a_reference_validator(
    configs: dict[str, ClientConfig], demo: DemoDataset
) -> None:
    reasons = Counter[str]()
    for demo_file in _member_files(demo):
        if demo_file.kind not in _DATA_KINDS:
            continue
        problems, _ = _validate(demo_file, _config(demo_file, configs))
        found = [p for p in problems if p is not None]
        assert len(found) == demo_file.invalid_records, demo_file.name
        reasons.update(found)
    expected = {
        "not_null", "invalid_date", "min_date", "future_date", "invalid_phone",
        "invalid_email", "regex", "isin", "malformed", "duplicate_key",
    }  # fmt: skip
    assert expected <= set(reasons)
    assert reasons["duplicate_key"] % 2 == 0  # both records of each pair


def test_invalid_records_are_spread_and_a_few_percent(demo: DemoDataset) -> None:
    data_files = [f for f in _member_files(demo) if f.kind in _DATA_KINDS]
    assert sum(f.invalid_records > 0 for f in data_files) >= 5
    ratio = sum(f.invalid_records for f in data_files) / sum(f.data_records for f in data_files)
    assert 0.04 <= ratio <= 0.08
    rejected = [f for f in _member_files(demo) if f.kind not in _DATA_KINDS]
    assert all(f.invalid_records == 0 for f in rejected)


def test_expected_silver_rows_match_the_reference(
    configs: dict[str, ClientConfig], demo: DemoDataset
) -> None:
    valid: dict[str, set[str]] = {client_id: set() for client_id in _member_configs(configs)}
    for demo_file in _member_files(demo):
        if demo_file.kind not in _DATA_KINDS:
            continue
        problems, keys = _validate(demo_file, _config(demo_file, configs))
        assert demo_file.client_id is not None
        valid[demo_file.client_id] |= {k for k, p in zip(keys, problems, strict=True) if not p}
    assert demo.expected_silver_rows() == {c: len(ids) for c, ids in valid.items()}
    assert all(1000 < count < 1500 for count in demo.expected_silver_rows().values())


def test_values_are_varied_the_way_client_files_are(
    configs: dict[str, ClientConfig], demo: DemoDataset
) -> None:
    for client_id, config in _member_configs(configs).items():
        by_name = {c.name: i for i, c in enumerate(config.columns)}
        rows = [
            record
            for f in _member_files(demo)
            if f.client_id == client_id and f.kind in _DATA_KINDS
            for record in _records(f, config.file.delimiter)[1:]
            if len(record) == len(config.columns)
        ]
        column = config.column("birth_date")
        dates = [r[by_name["birth_date"]] for r in rows]
        for pattern in column.formats:
            assert any(_parse_date(d, (pattern,)) for d in dates), (client_id, pattern)
        phones = [r[by_name["phone"]] for r in rows]
        for shape, regex in _PHONE_SHAPES.items():
            assert any(re.fullmatch(regex, p) for p in phones), (client_id, shape)
        assert phones.count("") > 10
        emails = [r[by_name["email"]] for r in rows]
        assert any(e != e.strip() for e in emails)
        assert any(e != e.lower() for e in emails)
        zips = {len(r[by_name["zip"]]) for r in rows}
        assert {4, 5, 10} <= zips
        plans = {r[by_name["plan_code"]] for r in rows}
        assert {"GOLD", "gold", "Gold"} & plans and len(plans) > 6
        names = [r[by_name["first_name"]] + r[by_name["last_name"]] for r in rows]
        assert any("\n" in n for n in names)
        assert any(config.file.delimiter in n for n in names)
        assert any('"' in n for n in names)
        assert any(not n.isascii() for n in names)
        assert any("'" in n for n in names)
        assert any("-" in n for n in names)
    npis = {r.split("|")[-1] for r in demo.files[1].content.decode().splitlines()[1:]}
    assert "" in npis and any(len(n) == 10 and n.isdigit() for n in npis)


def test_story_files(configs: dict[str, ClientConfig], demo: DemoDataset) -> None:
    wave1 = [f for f in _member_files(demo) if f.wave == 1]
    duplicate = next(f for f in demo.files if f.kind == "duplicate")
    original = [f for f in wave1 if f.content == duplicate.content]
    assert len(original) == 1 and original[0].name != duplicate.name
    assert duplicate.wave == 2 and duplicate.client_id == original[0].client_id

    late = next(f for f in demo.files if f.kind == "late")
    config = _config(late, configs)
    assert late.wave == 2
    assert all(_created(late, config) < _created(f, configs[f.client_id or ""]) for f in wave1)
    _, late_keys = _validate(late, config)
    ingested = {k for f in wave1 if f.client_id == late.client_id for k in _validate(f, config)[1]}
    assert len(set(late_keys) & ingested) >= 15
    assert len(set(late_keys) - ingested) >= 5

    first, second = (f for f in demo.files if f.kind == "sequence")
    pair_config = _config(first, configs)
    first_keys = set(_validate(first, pair_config)[1])
    assert len(first_keys & set(_validate(second, pair_config)[1])) >= 10

    unknown = next(f for f in demo.files if f.kind == "unknown_client")
    assert unknown.client_id is None and unknown.name == "umbrella_2026-01-20.csv"
    assert unknown.data_records > 0 and unknown.invalid_records == 0
    misnamed = next(f for f in demo.files if f.kind == "misnamed")
    assert not re.fullmatch(r"[a-z][a-z0-9]*_[^_]+(_[0-9]+)?\.csv", misnamed.name)


def test_write_is_idempotent_and_orders_mtimes(demo: DemoDataset, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    first = demo.write(landing, waves=(1,))
    assert [p.name for p in first] == [f.name for f in demo.files if f.wave == 1]
    mtimes = [p.stat().st_mtime_ns for p in first]
    assert mtimes == sorted(mtimes) and len(set(mtimes)) == len(mtimes)

    again = demo.write(landing, waves=(1,))
    assert again == first
    assert [p.stat().st_mtime_ns for p in again] == mtimes

    both = demo.write(landing)
    wave2 = both[len(first) :]
    assert [p.stat().st_mtime_ns for p in both[: len(first)]] == mtimes
    assert min(p.stat().st_mtime_ns for p in wave2) > max(mtimes)
    assert sorted(p.name for p in landing.iterdir()) == sorted(f.name for f in demo.files)
    for path, demo_file in zip(both, demo.files, strict=True):
        assert path.read_bytes() == demo_file.content
