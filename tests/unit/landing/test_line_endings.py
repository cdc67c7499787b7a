"""Line endings: counted in the checksum pass, told apart from quoted data, and how Spark is
told to split records (and what it repairs after, or the file rejected) for every mix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from lakehouse.config.models import ClientConfig, FileFormat
from lakehouse.errors import LandingFileError
from lakehouse.landing import line_endings
from lakehouse.landing.checksum import scan_file
from lakehouse.landing.line_endings import (
    DROP,
    STRIP_NONE,
    EndingCounter,
    LineEndings,
    Run,
    count_line_endings,
    record_terminators,
    scan_records,
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


def _records(
    spark: SparkSession, path: Path, *, multiline: bool = True
) -> list[tuple[object, ...]]:
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


_EIGHT = [(i, str(i), f"v{i}", False) for i in range(1, 9)]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # CRLF first, LF after: split on \r\n, Spark would merge the rest into one record.
        (b"a,b\r\n" + b"".join(b"%d,v%d\n" % (i, i) for i in range(1, 9)), _EIGHT),
        # LF first, CRLF after: split on \n, Spark would keep a stray \r in the last value.
        (b"a,b\n" + b"".join(b"%d,v%d\r\n" % (i, i) for i in range(1, 9)), _EIGHT),
        # All three kinds and blank lines, no quoted line break: read line-based.
        (
            b"a,b\r\n1,v1\n2,v2\r3,v3\r\n\r\n4,v4\n\n5,v5\r6,v6\r\n7,v7\n8,v8",
            _EIGHT,
        ),
        # Beyond the header probe.
        (
            b"a,b\r\n1,x\r\n2," + b"y" * 1_200_000 + b"\r\n3,z\n4,w\n",
            [
                (1, "1", "x", False),
                (2, "2", "y" * 1_200_000, False),
                (3, "3", "z", False),
                (4, "4", "w", False),
            ],
        ),
    ],
    ids=["crlf_first", "lf_first", "all_three", "late_lf"],
)
def test_mixed_record_terminators_without_quoted_breaks_ingest(
    spark: SparkSession, tmp_path: Path, content: bytes, expected: list[tuple[object, ...]]
) -> None:
    path = tmp_path / "acme_2026-01-01.csv"
    path.write_bytes(content)
    assert _records(spark, path) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # CRLF header, LF records, quoted \r\n and \n kept exactly.
        (
            b'a,b\r\n1,"x\r\ny"\n2,"p\nq"\n3,z\n',
            [(1, "1", "x\r\ny", False), (2, "2", "p\nq", False), (3, "3", "z", False)],
        ),
        # LF first, then CRLF records: the \r of each CRLF record's unquoted last field goes,
        # a quoted value ending in \r stays, an unquoted empty last field stays NULL.
        (
            b'a,b\n1,"x\ny"\n2,"w\r"\n3,v\r\n4,"u\r"\r\n5,\r\n6,"t"\r\n',
            [
                (1, "1", "x\ny", False),
                (2, "2", "w\r", False),
                (3, "3", "v", False),
                (4, "4", "u\r", False),
                (5, "5", None, False),
                (6, "6", "t", False),
            ],
        ),
        # Blank \r\n lines are skipped as in a CRLF file; a short record keeps its flag; the
        # final terminator lost its \n.
        (
            b'a,b\n1,"x\ny"\n\r\n2,y\r\n\r\n3\r\n4,z\r',
            [
                (1, "1", "x\ny", False),
                (2, "2", "y", False),
                (3, "3", None, True),
                (4, "4", "z", False),
            ],
        ),
    ],
    ids=["crlf_header", "lf_then_crlf", "blank_lines"],
)
def test_mixed_crlf_and_lf_with_quoted_breaks_ingest_exactly(
    spark: SparkSession, tmp_path: Path, content: bytes, expected: list[tuple[object, ...]]
) -> None:
    path = tmp_path / "acme_2026-01-01.csv"
    path.write_bytes(content)
    assert _records(spark, path) == expected


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'a,b\r1,"x\ny"\n2,y\r', "bare \\r record ends cannot be told"),
        (
            b'a,b\n1,"x\ny"\n' + b"".join(b'%d,"w\r"\n%d,v\r\n' % (i, i) for i in range(40)),
            "more than 64 times",
        ),
    ],
    ids=["cr_with_quoted_breaks", "too_many_switches"],
)
def test_mixes_no_separator_reads_reject_the_file(
    spark: SparkSession, tmp_path: Path, content: bytes, detail: str
) -> None:
    path = tmp_path / "acme_2026-01-01.csv"
    path.write_bytes(content)
    with pytest.raises(LandingFileError) as rejected:
        read_landing_csv(spark, path, _client())
    assert rejected.value.reason == "mixed_line_endings"
    assert rejected.value.message.startswith("records end in more than one way (")
    assert detail in rejected.value.message


def test_a_line_based_read_takes_mixed_endings(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\r\n1,x\n2,y\r3,z\r\n")
    assert _records(spark, path, multiline=False) == [
        (1, "1", "x", False),
        (2, "2", "y", False),
        (3, "3", "z", False),
    ]


@pytest.mark.parametrize("chunk", [1, 2, 3, 4096])
def test_the_repair_plan_does_not_depend_on_where_chunks_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(line_endings, "_CHUNK", chunk)
    path = tmp_path / "f.csv"
    path.write_bytes(b'a,b\n1,"x\ny"\n2,"w\r"\n3,v\r\n\r\n4,"u\r"\r\n5,\r\n')
    scan = scan_records(path, FileFormat(), columns=2)
    assert scan.terminators == LineEndings(crlf=4, lf=3)
    assert scan.quoted_breaks == 3  # \n, \r, \r inside quotes
    assert scan.runs == (
        Run(0, 1, STRIP_NONE, 0),  # "w\r" (record 1) is data: strip nothing
        Run(2, 2, 1, 0),  # ends \r\n after an unquoted value: strip field 1's last \r
        Run(3, 3, DROP, 0),  # the blank \r\n line
        Run(4, 4, STRIP_NONE, 1),  # "u\r" is data
        Run(5, 5, 1, 1),  # an empty unquoted last field: "\r" -> NULL
    )
