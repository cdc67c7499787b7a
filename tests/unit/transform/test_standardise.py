"""standardise / standardise_column: dispatch by declared type on whole client files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from typing import get_args

import pytest
from chispa import assert_df_equality
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakehouse.config.models import ClientConfig, ColumnSpec, ColumnType
from lakehouse.transform import standardise, standardise_column

RAW_MEMBERS = [
    # member_id, first, last, dob, phone, email, zip, plan
    (
        " ac0000001 ",
        "o'brien-SMITH",
        "  mary  ",
        "1985-07-04",
        "(212) 555-0123",
        " Mary@Example.COM",
        "2134",
        "gold",
    ),
    ("AC0000002", "JOSÉ", "álvarez", "02/29/2000", "+44 20 7946 0958", "x", "12345-6789", "Silver"),
    ("AC0000003", "  ", "\u00a0", "2019-02-29", "555-0123", "", "123", " "),
    (None, None, None, None, None, None, None, None),
]
MEMBER_COLUMNS = ["member_id", "first_name", "last_name", "birth_date", "phone", "email", "zip"]


def test_standardise_acme_file(spark: SparkSession, clients: dict[str, ClientConfig]) -> None:
    acme = clients["acme"]
    raw = spark.createDataFrame(
        [(*row, f"line {i}") for i, row in enumerate(RAW_MEMBERS)],
        [*MEMBER_COLUMNS, "plan_code", "_source_line"],
    )
    expected = spark.createDataFrame(
        [
            (
                "AC0000001",
                "O'Brien-Smith",
                "Mary",
                dt.date(1985, 7, 4),
                "+12125550123",
                "mary@example.com",
                "02134",
                "GOLD",
                "line 0",
            ),
            (
                "AC0000002",
                "José",
                "Álvarez",
                dt.date(2000, 2, 29),
                "+442079460958",
                None,
                "12345",
                "SILVER",
                "line 1",
            ),
            ("AC0000003", None, None, None, None, None, None, None, "line 2"),
            (None, None, None, None, None, None, None, None, "line 3"),
        ],
        StructType(
            [
                *(StructField(name, StringType()) for name in MEMBER_COLUMNS[:3]),
                StructField("birth_date", DateType()),
                *(StructField(name, StringType()) for name in MEMBER_COLUMNS[4:]),
                StructField("plan_code", StringType()),
                StructField("_source_line", StringType()),
            ]
        ),
    )
    result = standardise(raw, acme.columns, acme.phone_region)
    assert_df_equality(result, expected, ignore_nullable=True, ignore_row_order=True)
    # With a run's memo, the expressions built for one frame serve the next (another file's
    # rows) and give what a fresh build gives.
    memo: dict[Hashable, object] = {}
    standardise(raw.limit(1), acme.columns, acme.phone_region, memo=memo)
    assert len(memo) == 1
    again = standardise(raw, acme.columns, acme.phone_region, memo=memo)
    assert len(memo) == 1
    assert_df_equality(again, expected, ignore_nullable=True, ignore_row_order=True)


def test_standardise_globex_formats(spark: SparkSession, clients: dict[str, ClientConfig]) -> None:
    globex = clients["globex"]
    # The structured columns (free-text columns have their own tests).
    specs = [column for column in globex.columns if column.type != "string"][:9]
    names = [column.name for column in specs]
    raw = spark.createDataFrame(
        [
            (
                "gx-000001",
                "anna",
                "MÜLLER",
                "04.07.1985",
                "2125550123",
                "A@B.DE",
                "02134",
                "bronze",
                "1234567890",
            ),
            (
                "GX-000002",
                "li",
                "wang",
                "19850704",
                "1-800-FLOWERS",
                "li@x.cn",
                "2134-5678",
                "gold",
                " ",
            ),
        ],
        names,
    )
    result = standardise(raw, specs, globex.phone_region).collect()
    assert [tuple(row) for row in result] == [
        (
            "GX-000001",
            "Anna",
            "Müller",
            dt.date(1985, 7, 4),
            "+12125550123",
            "a@b.de",
            "02134",
            "BRONZE",
            "1234567890",
        ),
        (
            "GX-000002",
            "Li",
            "Wang",
            dt.date(1985, 7, 4),
            "+18003569377",
            "li@x.cn",
            None,
            "GOLD",
            None,
        ),
    ]


def test_every_type_dispatches(spark: SparkSession) -> None:
    specs = [
        ColumnSpec(name="s_none", type="string"),
        ColumnSpec(name="s_lower", type="string", case="lower"),
        ColumnSpec(name="s_title", type="string", case="title"),
        ColumnSpec(name="c_upper", type="code", case="upper"),
        ColumnSpec(name="n", type="name"),
        ColumnSpec(name="i", type="integer"),
        ColumnSpec(name="x", type="number"),
        ColumnSpec(name="d", type="date", formats=("dd.MM.yyyy",)),
        ColumnSpec(name="t", type="timestamp"),
        ColumnSpec(name="p", type="phone"),
        ColumnSpec(name="e", type="email"),
        ColumnSpec(name="z", type="zip"),
    ]
    raw = spark.createDataFrame(
        [
            (
                " A  b ",
                " A  b ",
                "hello  WORLD",
                "gx-1",
                "de la CRUZ",
                "1,024",
                "-1.5e2",
                "01.02.2003",
                "2003-02-01T12:00:00+02:00",
                "212.555.0123",
                "Me@X.org",
                "90210-1234",
            ),
        ],
        [spec.name for spec in specs],
    )
    standardised = raw.select(
        *(standardise_column(F.col(s.name), s, "US").alias(s.name) for s in specs)
    )
    assert [field.dataType for field in standardised.schema.fields] == [
        *[StringType()] * 5,
        LongType(),
        DoubleType(),
        DateType(),
        TimestampType(),
        *[StringType()] * 3,
    ]
    # An instant as epoch microseconds: collected datetimes would be in the test's local zone.
    result = standardised.withColumn("t", F.unix_micros("t"))
    assert tuple(result.first() or ()) == (
        "A b",
        "a b",
        "Hello World",
        "GX-1",
        "De La Cruz",
        1024,
        -150.0,
        dt.date(2003, 2, 1),
        int(dt.datetime(2003, 2, 1, 10, tzinfo=dt.UTC).timestamp()) * 1_000_000,
        "+12125550123",
        "me@x.org",
        "90210",
    )


def test_blank_is_null_for_every_type(spark: SparkSession) -> None:
    specs = [
        ColumnSpec(
            name=f"c_{column_type}",
            type=column_type,
            formats=("yyyy-MM-dd",) if column_type == "date" else (),
        )
        for column_type in get_args(ColumnType)  # every type, timestamp included
    ]
    blanks = ["", " ", "\t", "\u00a0\u2003", "\r\n", None]
    raw = spark.createDataFrame(
        [(blank,) * len(specs) for blank in blanks], [s.name for s in specs]
    )
    result = standardise(raw, specs, "US")
    assert all(value is None for row in result.collect() for value in row)


def test_missing_column_is_named(spark: SparkSession) -> None:
    raw = spark.createDataFrame([("x",)], ["first_name"])
    with pytest.raises(ValueError, match="last_name"):
        standardise(raw, [ColumnSpec(name="last_name", type="name")], "US")


def test_duplicate_spec_is_refused(spark: SparkSession) -> None:
    raw = spark.createDataFrame([("x",)], ["first_name"])
    spec = ColumnSpec(name="first_name", type="name")
    with pytest.raises(ValueError, match="more than once"):
        standardise(raw, [spec, spec], "US")


TYPES = st.sampled_from(
    ["string", "code", "name", "integer", "number", "date", "phone", "email", "zip"]
)
RAW_VALUES = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["2020-02-29", "212-555-0123", "02134", "1,234"]),
)


@settings(max_examples=6, deadline=None)
@given(
    types=st.lists(TYPES, min_size=1, max_size=6),
    extra=st.integers(0, 3),
    rows=st.integers(0, 6),
    data=st.data(),
)
def test_standardise_keeps_rows_and_column_order(
    spark: SparkSession, types: list[str], extra: int, rows: int, data: st.DataObject
) -> None:
    specs = [
        ColumnSpec(name=f"c{i}", type=t, formats=("yyyy-MM-dd",) if t == "date" else ())
        for i, t in enumerate(types)
    ]
    # Unspecified columns interleaved with specified ones must stay where they are, untouched.
    names = [spec.name for spec in specs] + [f"keep{i}" for i in range(extra)]
    names = data.draw(st.permutations(names))
    values = [tuple(data.draw(RAW_VALUES) for _ in names) for _ in range(rows)]
    raw = spark.createDataFrame(values, StructType([StructField(n, StringType()) for n in names]))
    result = standardise(raw, specs, "US")
    assert result.columns == names
    collected = result.collect()  # one job: these run once per Hypothesis example
    assert len(collected) == rows
    kept = [i for i, name in enumerate(names) if name.startswith("keep")]
    assert [[row[i] for i in kept] for row in collected] == [[v[i] for i in kept] for v in values]
