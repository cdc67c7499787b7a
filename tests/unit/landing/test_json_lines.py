"""The JSON-lines landing reader: exact raw records, malformed lines kept, whole-file rejects."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.config.models import ClientConfig
from lakehouse.errors import LandingFileError
from lakehouse.landing.json_lines import parse_json_lines
from lakehouse.landing.read import read_landing
from lakehouse.landing.reader import CORRUPT_COLUMN, RECORD_COLUMN
from lakehouse.landing.records import FileProblem, ParseStats

COLUMNS = [
    {"name": "member_id", "source": "id", "required": True},
    {"name": "first_name", "source": "name.first"},
    {"name": "last_name", "source": "name.last"},
    {"name": "age", "source": "age"},
    {"name": "active", "source": "active"},
]


def _client(**file: object) -> ClientConfig:
    return ClientConfig.model_validate(
        {
            "client_id": "jay",
            "dataset": "members",
            "columns": COLUMNS,
            "merge_key": ["member_id"],
            "file": {"format": "jsonl", **file},
        }
    )


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "jay_2026-01-05.jsonl"
    path.write_bytes(text.encode(encoding))
    return path


LINES = [
    # nested keys, a number's own text, a boolean, unicode, an undeclared key
    '{"id": "J1", "name": {"first": "Zoë", "last": "Ng", "middle": "Q"}, "age": 1.50, '
    '"active": true, "note": "x"}',
    '{"id": "J2", "name": null, "age": null, "active": false}',  # nulls
    '{"id": "J3"}',  # missing keys
    "",  # a blank line is not a record
    '["J4"]',  # not an object
    '{"id": "J5", "id": "J6"}',  # duplicate key
    '{"id": "J7", "name": {"first": {"given": "A"}}}',  # object where a value is expected
    '{"id": "J8", "name": "Ann Lee"}',  # a value where an object is expected
    "{not json",
    '{"id": "J9", "age": NaN}',
    '{"id": "J10", "name": {"first": "", "last": "\\u00e9\\n"}, "age": -0, "active": 1e3}',
]


def test_records_come_out_exactly(spark: SparkSession, tmp_path: Path) -> None:
    path = _write(tmp_path, "\n".join(LINES) + "\r\n")
    read = read_landing(spark, path, _client())
    try:
        rows = [r.asDict() for r in read.frame.orderBy(RECORD_COLUMN).collect()]
        assert read.rows == len(rows) == 10
    finally:
        read.release()
    values = [(r["member_id"], r["first_name"], r["last_name"], r["age"], r["active"]) for r in rows]
    malformed = (None, None, None, None, None)
    assert values == [
        ("J1", "Zoë", "Ng", "1.50", "true"),
        ("J2", None, None, None, "false"),
        ("J3", None, None, None, None),
        malformed,
        malformed,
        malformed,
        malformed,
        malformed,
        malformed,
        ("J10", "", "é\n", "-0", "1e3"),
    ]
    corrupt = [r[CORRUPT_COLUMN] for r in rows]
    assert corrupt == [None, None, None, *LINES[4:10], None]
    assert [r[RECORD_COLUMN] for r in rows] == list(range(1, 11))
    assert set(rows[0]) == {c["name"] for c in COLUMNS} | {CORRUPT_COLUMN, RECORD_COLUMN}


def test_undeclared_keys_are_counted_never_named(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path, '{"id": "J1", "ssn": "123-45-6789", "name": {"nick": "Al"}}\n')
    stats = ParseStats()
    assert list(parse_json_lines(path, _client(), stats)) == [
        (("J1", None, None, None, None), None)
    ]
    assert stats.unknown == {"ssn", "name.nick"}
    with caplog.at_level(logging.WARNING):
        read_landing(spark, path, _client()).release()
    warnings = [r for r in caplog.records if "does not declare" in r.getMessage()]
    assert [getattr(r, "undeclared_fields", None) for r in warnings] == [2]
    assert not any("ssn" in r.getMessage() or "nick" in str(r.__dict__) for r in caplog.records)


def test_a_byte_order_mark_and_another_encoding(tmp_path: Path) -> None:
    bom = _write(tmp_path, '\ufeff{"id": "J1"}\n')
    assert [v[0] for v, _ in parse_json_lines(bom, _client(), ParseStats())] == ["J1"]
    latin = _write(tmp_path, '{"id": "J1", "name": {"first": "José"}}\n', encoding="latin-1")
    records = list(parse_json_lines(latin, _client(encoding="latin-1"), ParseStats()))
    assert records[0][0][:2] == ("J1", "José")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\n \n", "empty_file"),
        ('[{"id": "J1"},\n {"id": "J2"}]\n', "unparseable_json"),  # a JSON array
        ('{\n  "id": "J1"\n}\n', "unparseable_json"),  # pretty-printed
    ],
)
def test_whole_file_problems_reject_the_file(tmp_path: Path, text: str, reason: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(FileProblem) as info:
        list(parse_json_lines(path, _client(), ParseStats()))
    assert info.value.reason == reason
    assert '"id"' not in info.value.message  # never the file's content


def test_a_file_in_the_wrong_encoding_is_rejected_not_mangled(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = _write(tmp_path, '{"id": "J1", "name": {"first": "José"}}\n', encoding="latin-1")
    with pytest.raises(LandingFileError) as info:
        read_landing(spark, path, _client())
    assert info.value.reason == "invalid_encoding"
    assert (info.value.client, info.value.file) == ("jay", path.name)
    assert "José" not in str(info.value)


def test_sources_are_checked_against_the_format() -> None:
    bad = [*COLUMNS, {"name": "names", "source": "name"}]  # parent of name.first
    with pytest.raises(ValueError, match="holds another column's value"):
        ClientConfig.model_validate(
            {
                "client_id": "jay",
                "dataset": "members",
                "columns": bad,
                "merge_key": ["member_id"],
                "file": {"format": "jsonl"},
            }
        )
    with pytest.raises(ValueError, match="applies to csv files"):
        _client(delimiter=";")
