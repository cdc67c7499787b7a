"""Line endings: counted in the checksum pass, told apart from quoted data, and what Spark is
told to split records on (or the file rejected) for every mix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.config.models import ClientConfig, FileFormat
from lakehouse.errors import LandingFileError
from lakehouse.landing import line_endings
from lakehouse.landing.checksum import scan_file
from lakehouse.landing.line_endings import (
    EndingCounter,
    LineEndings,
    count_line_endings,
    record_terminators,
)
from lakehouse.landing.reader import CORRUPT_COLUMN, RECORD_COLUMN, read_landing_csv


def _client(*, multiline: bool = True) -> ClientConfig:
    return ClientConfig.model_validate(
        {
            "client_id": "acme",
            "dataset": "members",
            "columns": [{"name": "a", "required": True}, {"name": "b"}],
            "merge_key": ["a"],
            "file": {"multiline": multiline},
        }
    )


def _counted(data: bytes, chunk: int) -> LineEndings:
    counter = EndingCounter()
    for i in range(0, len(data), chunk):
        counter.update(data[i : i + chunk])
    return counter.result()


@pytest.mark.parametrize("chunk", [1, 2, 3, 1000])
def test_counts_do_not_depend_on_where_chunks_end(chunk: int) -> None:
    data = b"a\r\nb\nc\rd\r\n\r\r\n\n"
    assert _counted(data, chunk) == LineEndings(crlf=3, lf=2, cr=2)


def test_the_checksum_pass_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n3,4\n")
    assert scan_file(path, "utf-8").line_endings == LineEndings(crlf=2, lf=1)
    assert count_line_endings(path) == LineEndings(crlf=2, lf=1)


@pytest.mark.parametrize("chunk", [1, 2, 5, 4096])
def test_only_terminators_outside_quotes_end_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(line_endings, "_CHUNK", chunk)
    path = tmp_path / "f.csv"
    # Quoted: a bare \n, a doubled quote before a \r, an empty quoted field, a quote that
    # opens no field (mid-value: data, as Spark reads it).
    path.write_bytes(b'a,b\r\n1,"x\ny"\r\n2,"""q""\rz"\r\n"",ab"c\r\n')
    assert record_terminators(path, FileFormat()) == LineEndings(crlf=4)


def test_a_backslash_escape_keeps_the_quote_inside(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b'a,b\n1,"x\\"\r\ny"\n2,z\n')
    fmt = FileFormat(escape="\\")
    assert record_terminators(path, fmt) == LineEndings(lf=3)


def _records(spark: SparkSession, path: Path, *, multiline: bool = True) -> list[tuple[object, ...]]:
    read = read_landing_csv(spark, path, _client(multiline=multiline))
    rows = sorted(
        (r[RECORD_COLUMN], r["a"], r["b"], r[CORRUPT_COLUMN] is not None)
        for r in read.frame.collect()
    )
    read.release()
    return rows


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"a,b\r1,x\r2,y\r", [(1, "1", "x", False), (2, "2", "y", False)]),  # CR only
        (b'a,b\r1,"x\ry"\r', [(1, "1", "x\ry", False)]),
        (b'a,b\r\n1,"x\ny"\r\n2,z\r\n', [(1, "1", "x\ny", False), (2, "2", "z", False)]),
        (b"a,b\r\n1,x\r\n2,y\r", [(1, "1", "x", False), (2, "2", "y", False)]),  # lost LF
    ],
    ids=["cr_only", "cr_in_quotes", "crlf_lf_in_quotes", "crlf_truncated"],
)
def test_one_record_terminator_reads_every_record(
    spark: SparkSession, tmp_path: Path, content: bytes, expected: list[tuple[object, ...]]
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert _records(spark, path) == expected


@pytest.mark.parametrize(
    "content",
    [
        b"a,b\r\n1,x\n2,y\n",  # CRLF first: Spark would merge the rest into one record
        b"a,b\n1,x\n2,y\r\n",  # LF first: Spark would keep a stray \r in the last value
        b"a,b\r\n1,x\r\n2," + b"y" * 1_200_000 + b"\r\n3,z\n4,w\n",  # beyond the header probe
    ],
    ids=["crlf_first", "lf_first", "late_lf"],
)
def test_mixed_record_terminators_reject_a_multiline_file(
    spark: SparkSession, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "acme_2026-01-01.csv"
    path.write_bytes(content)
    with pytest.raises(LandingFileError) as rejected:
        read_landing_csv(spark, path, _client())
    assert rejected.value.reason == "mixed_line_endings"
    assert "\\r\\n, \\n" in rejected.value.message


def test_a_line_based_read_takes_mixed_endings(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\r\n1,x\n2,y\r3,z\r\n")
    assert _records(spark, path, multiline=False) == [
        (1, "1", "x", False),
        (2, "2", "y", False),
        (3, "3", "z", False),
    ]
