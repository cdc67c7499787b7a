"""Row-level reason codes from the client config, computed distributed (mapInArrow)."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config.models import ClientConfig
from lakehouse.landing.reader import CORRUPT_COLUMN
from lakehouse.transform import standardise
from lakehouse.validation import REASONS, raw_copies, validate

GOOD = ["AC0000001", "Ann", "Lee", "1970-05-05", "(212) 555-0142", "a@b.org", "10001", "gold"]
COLUMNS = [
    "member_id",
    "first_name",
    "last_name",
    "birth_date",
    "phone",
    "email",
    "zip",
    "plan_code",
]
SCHEMA = ", ".join(["n int", *[f"{c} string" for c in COLUMNS], f"{CORRUPT_COLUMN} string"])


def _with(**changes: str | None) -> list[str | None]:
    row: list[str | None] = list(GOOD)
    for name, value in changes.items():
        row[COLUMNS.index(name)] = value
    return row


def _validated(
    spark: SparkSession, client: ClientConfig, rows: list[list[str | None]]
) -> DataFrame:
    data = [(i + 1, *row, None) for i, row in enumerate(rows)]
    df = spark.createDataFrame(data, SCHEMA).withColumn(
        "_creation_date", F.lit(dt.date(2026, 1, 5))
    )
    std = standardise(raw_copies(df, client), client.columns, client.phone_region)
    return validate(std, client, corrupt_column=CORRUPT_COLUMN)


def _reasons(df: DataFrame) -> dict[int, list[str]]:
    return {r["n"]: sorted(r[REASONS]) for r in df.select("n", REASONS).collect()}


def test_each_check_yields_its_reason_code(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    acme = clients["acme"]
    rows = [
        GOOD,
        _with(member_id="AC0000002", last_name="  "),
        _with(member_id="AC0000003", birth_date="31/31/2020"),
        _with(member_id="AC0000004", birth_date="2027-01-01"),
        _with(member_id="AC0000005", birth_date="1850-01-01"),
        _with(member_id="AC0000006", phone="12345"),
        _with(member_id="AC0000007", email="no-at-sign"),
        _with(member_id="XX1"),
        _with(member_id="AC0000009", plan_code="PLATINUM"),
        _with(member_id="AC0000010", zip="12"),
        _with(member_id="AC0000011", phone=None, email=None, zip=None),  # optional blanks
        _with(member_id="AC0000012", first_name=None, birth_date="nope"),
    ]
    assert _reasons(_validated(spark, acme, rows)) == {
        1: [],
        2: ["last_name:not_null"],
        3: ["birth_date:invalid_date"],
        4: ["birth_date:future_date"],
        5: ["birth_date:min_date"],
        6: ["phone:invalid_phone"],
        7: ["email:invalid_email"],
        8: ["member_id:regex"],
        9: ["plan_code:isin"],
        10: ["zip:invalid_zip"],
        11: [],
        12: ["birth_date:invalid_date", "first_name:not_null"],
    }


def test_duplicate_keys_in_one_file_quarantine_every_copy(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    acme = clients["acme"]
    # " ac0000001" standardises to the same key as "AC0000001": still ambiguous.
    rows = [GOOD, _with(member_id=" ac0000001", first_name="Other"), _with(member_id="AC0000002")]
    assert _reasons(_validated(spark, acme, rows)) == {
        1: ["member_id:duplicate_key_in_file"],
        2: ["member_id:duplicate_key_in_file"],
        3: [],
    }


def test_malformed_record_gets_only_the_structure_reason(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    acme = clients["acme"]
    data = [(1, *GOOD, None), (2, "AC0000002", "a", "b", None, None, None, None, None, "x,y")]
    df = spark.createDataFrame(data, SCHEMA).withColumn(
        "_creation_date", F.lit(dt.date(2026, 1, 5))
    )
    std = standardise(raw_copies(df, acme), acme.columns, acme.phone_region)
    out = validate(std, acme, corrupt_column=CORRUPT_COLUMN).select("n", REASONS)
    expected = spark.createDataFrame([(1, []), (2, ["_record:malformed"])], out.schema)
    assert_df_equality(out, expected, ignore_row_order=True)


def test_validation_runs_per_partition_and_keeps_rows(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    acme = clients["acme"]
    rows = [_with(member_id=f"AC{i:07d}") for i in range(400)]
    out = _validated(spark, acme, rows).repartition(4)
    assert out.count() == 400
    assert out.where(F.size(REASONS) > 0).count() == 0


def test_formula_guard_covers_every_text_column(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    acme = clients["acme"]
    rows = [
        _with(member_id="AC0000001", first_name="-2+3+cmd|' /C calc'!A0"),  # "-digit" form
        _with(member_id="AC0000002", last_name="\uff1dHYPERLINK(1)"),  # full-width "="
        _with(member_id="AC0000003", email="=cmd|'/c calc'!a0@example.org"),  # e-mail column
        _with(member_id="AC0000004", plan_code="@SUM(A1)"),  # code column
        _with(member_id="AC0000005", first_name="Lee-Ng", phone="+1 212 555 0142"),
    ]
    reasons = _reasons(_validated(spark, acme, rows))
    assert "first_name:formula" in reasons[1]
    assert "last_name:formula" in reasons[2]
    assert "email:formula" in reasons[3]
    assert "plan_code:formula" in reasons[4]
    assert reasons[5] == []  # hyphenated names and +phones are not formulas


def _readings_client() -> ClientConfig:
    return ClientConfig.model_validate(
        {
            "client_id": "acme",
            "dataset": "readings",
            "columns": [
                {"name": "member_id", "required": True},
                {"name": "measured_at", "type": "timestamp", "required": True},
                {"name": "synced_at", "type": "timestamp", "checks": {"not_in_future": True}},
            ],
            "merge_key": ["member_id", "measured_at"],
        }
    )


def test_timestamp_column_gets_invalid_timestamp(spark: SparkSession) -> None:
    client = _readings_client()
    rows = [
        (1, "m1", "2026-01-05T10:00:00+02:00", "2026-01-05T23:30:00-05:00"),  # UTC: the 6th
        (2, "m2", "2026-01-05T10:00:00", None),  # no offset: ambiguous
        (3, "m3", "2026-02-30T10:00:00Z", None),
        (4, "m4", "  ", None),
        (5, "m5", "2026-01-05T10:00:00Z", "2026-01-06T00:00:00Z"),
        (6, "m6", "2026-01-05T11:00:00Z", "soon"),
    ]
    names = ["member_id", "measured_at", "synced_at", CORRUPT_COLUMN]
    schema = ", ".join(["n int", *[f"{name} string" for name in names]])
    df = spark.createDataFrame([(*row, None) for row in rows], schema).withColumn(
        "_creation_date", F.lit(dt.date(2026, 1, 5))
    )
    std = standardise(raw_copies(df, client), client.columns, client.phone_region)
    out = validate(std, client, corrupt_column=CORRUPT_COLUMN)
    assert out.schema["measured_at"].dataType.simpleString() == "timestamp"
    assert _reasons(out) == {
        1: ["synced_at:future_date"],  # its UTC date is after the file's creation date
        2: ["measured_at:invalid_timestamp"],
        3: ["measured_at:invalid_timestamp"],
        4: ["measured_at:not_null"],
        5: ["synced_at:future_date"],
        6: ["synced_at:invalid_timestamp"],
    }
