"""The landing reader against csv-spectrum and against structurally broken records."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.config.models import ClientConfig, ColumnSpec
from lakehouse.errors import LandingFileError
from lakehouse.landing.reader import CORRUPT_COLUMN, RECORD_COLUMN, read_landing_csv

SPECTRUM = Path(__file__).resolve().parents[2] / "fixtures" / "csv-spectrum"
# Upstream's expected JSON for this case carries a different phone number than its CSV
# (1234567890 vs 2095257564); the CSV is the input, so the CSV's value is the truth.
UPSTREAM_ERRATA = {"location_coordinates": {"Contact Phone Number": "2095257564"}}


def _client(headers: list[str], **file: object) -> ClientConfig:
    """A generic all-string client for these headers (the first column is the merge key)."""
    columns = [
        ColumnSpec(name=re.sub(r"[^a-z0-9]+", "_", h.lower()).strip("_"), source=h) for h in headers
    ]
    columns[0] = columns[0].model_copy(update={"required": True})
    return ClientConfig.model_validate(
        {
            "client_id": "spectrum",
            "dataset": "spectrum",
            "columns": [c.model_dump() for c in columns],
            "merge_key": [columns[0].name],
            "file": file,
        }
    )


def _expected(name: str) -> list[dict[str, str]]:
    data = json.loads((SPECTRUM / "json" / f"{name}.json").read_text(encoding="utf-8"))
    rows = data if isinstance(data, list) else [data]
    return [{**row, **UPSTREAM_ERRATA.get(name, {})} for row in rows]


CASES = sorted(p.stem for p in (SPECTRUM / "csvs").glob("*.csv"))


@pytest.mark.parametrize("name", CASES)
def test_csv_spectrum_records_come_out_exactly(spark: SparkSession, name: str) -> None:
    expected = _expected(name)
    headers = list(expected[0])
    client = _client(headers)
    read = read_landing_csv(spark, SPECTRUM / "csvs" / f"{name}.csv", client)
    try:
        rows = read.frame.orderBy(RECORD_COLUMN).collect()
    finally:
        read.release()
    got = [{spec.header: row[spec.name] for spec in client.columns} for row in rows]
    assert got == expected
    assert [row[RECORD_COLUMN] for row in rows] == list(range(1, len(expected) + 1))
    assert all(row[CORRUPT_COLUMN] is None for row in rows)


def test_wrong_field_counts_are_flagged_not_padded(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n", encoding="utf-8")
    read = read_landing_csv(spark, path, _client(["a", "b", "c"]))
    rows = read.frame.orderBy(RECORD_COLUMN).collect()
    read.release()
    assert [(r[RECORD_COLUMN], r[CORRUPT_COLUMN]) for r in rows] == [
        (1, None),
        (2, "4,5"),
        (3, "6,7,8,9"),
        (4, None),
    ]


def test_record_numbers_are_dense_across_partitions(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "".join(f"{i},x\n" for i in range(1, 5001)), encoding="utf-8")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    try:
        read = read_landing_csv(spark, path, _client(["a", "b"], multiline=False))
        assert read.frame.rdd.getNumPartitions() > 1
        pairs = [(int(r["a"]), r[RECORD_COLUMN]) for r in read.frame.collect()]
        read.release()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert sorted(pairs) == [(i, i) for i in range(1, 5001)]


def test_a_small_file_is_read_in_one_task_and_one_spark_job(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = tmp_path / "small.csv"
    path.write_text("a,b\n" + "".join(f"{i},x\n" for i in range(1, 301)), encoding="utf-8")
    sc = spark.sparkContext
    sc.setJobGroup("small-read", "small-read")
    try:
        read = read_landing_csv(spark, path, _client(["a", "b"], multiline=False))
    finally:
        sc.setJobGroup("other", "other")
    # One action (the materialising count): no per-split count collected, no shuffle to
    # spread the rows (they stay in the one partition they were read in).
    tracker = sc.statusTracker()
    names = [
        stage.name
        for job in tracker.getJobIdsForGroup("small-read")
        for stage in map(tracker.getStageInfo, getattr(tracker.getJobInfo(job), "stageIds", []))
        if stage is not None
    ]
    assert names and not [n for n in names if n.startswith("collect at")], names
    assert read.frame.rdd.getNumPartitions() == 1
    pairs = [(int(r["a"]), r[RECORD_COLUMN]) for r in read.frame.collect()]
    read.release()
    assert sorted(pairs) == [(i, i) for i in range(1, 301)]


def test_other_delimiter_and_bom(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes("\ufeffid|name\n1|Ann|\n2|Bo\n".encode())
    read = read_landing_csv(spark, path, _client(["id", "name"], delimiter="|"))
    rows = read.frame.orderBy(RECORD_COLUMN).collect()
    read.release()
    assert [(r["id"], r["name"], r[CORRUPT_COLUMN] is None) for r in rows] == [
        ("1", "Ann", False),  # trailing delimiter = a third field: malformed
        ("2", "Bo", True),
    ]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty_file"),
        ("a,a,b\n1,2,3\n", "duplicate_header"),
        ("a,c\n1,2\n", "missing_columns"),
    ],
)
def test_unusable_headers_reject_the_file(
    spark: SparkSession, tmp_path: Path, content: str, reason: str
) -> None:
    path = tmp_path / "h.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LandingFileError) as info:
        read_landing_csv(spark, path, _client(["a", "b"]))
    assert info.value.reason == reason
    assert info.value.file == "h.csv"


def test_undeclared_columns_are_not_read(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,secret,b\n1,ssn,2\n", encoding="utf-8")
    read = read_landing_csv(spark, path, _client(["a", "b"]))
    row = read.frame.first()
    read.release()
    assert read.ignored_headers == ("secret",)
    assert row is not None and (row["a"], row["b"]) == ("1", "2")
    assert "secret" not in read.frame.columns


def test_a_headerless_file_names_no_data_in_its_rejection(
    spark: SparkSession, tmp_path: Path
) -> None:
    # The first data row stands where the header should be; its values repeat ("Lee").
    path = tmp_path / "n.csv"
    path.write_text("AC1,Lee,Lee\nAC2,Kim,Kim\n", encoding="utf-8")
    with pytest.raises(LandingFileError) as info:
        read_landing_csv(spark, path, _client(["id", "first", "last"]))
    assert info.value.reason == "missing_columns"
    assert "Lee" not in str(info.value) and "AC1" not in str(info.value)
    # Which configured headers are missing, and how many unknown ones stand there instead.
    assert "lacks configured column(s): id, first, last" in str(info.value)
    assert "2 header(s) the config does not declare" in str(info.value)  # AC1, Lee
    assert "no configured header is in the first line" in str(info.value)


def test_a_renamed_header_is_named_unless_it_could_be_data(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = tmp_path / "r.csv"
    # "first" was renamed to "First Name"; "Lee" stands in the header too but is also a
    # value of the data rows, so it may be data and is only counted.
    path.write_text("id,First Name,Lee\nAC1,Ann,Lee\nAC2,Bo,Kim\n", encoding="utf-8")
    with pytest.raises(LandingFileError) as info:
        read_landing_csv(spark, path, _client(["id", "first", "last"]))
    assert info.value.reason == "missing_columns"
    assert info.value.message == (
        "header lacks configured column(s): first, last; the file has 2 header(s) the config "
        "does not declare: 'First Name' (1 more not named: they also occur among the first "
        "data rows' values); renamed? compare the file's header with clients/spectrum.yaml"
    )
