"""Measurement checks: units, ranges, secondary values, future and pre-birth readings, known
members, typical flags and outlier scores, on real Spark frames."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config.measurements import MeasurementSettings
from lakehouse.config.models import ClientConfig
from lakehouse.validation import REASONS
from lakehouse.validation.measurements import (
    flag_outliers,
    measurement_reasons,
    member_checks,
    normalise_units,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=UTC)
T0 = dt.datetime(2026, 1, 5, 10, tzinfo=UTC)
SCHEMA = (
    "n int, client_id string, member_id string, reading_type string, value double, "
    "diastolic double, unit string, measured_at timestamp, _reasons array<string>"
)
Row = tuple[Any, ...]


def _row(
    n: int,
    kind: str | None,
    value: float | None,
    unit: str | None,
    *,
    diastolic: float | None = None,
    member: str = "m1",
    at: dt.datetime = T0,
    reasons: tuple[str, ...] = (),
) -> Row:
    return (n, "acme", member, kind, value, diastolic, unit, at, list(reasons))


def _frame(spark: SparkSession, rows: list[Row]) -> DataFrame:
    return spark.createDataFrame(rows, SCHEMA)


def _codes(spark: SparkSession, df: DataFrame, expected: dict[int, list[str]]) -> None:
    actual = df.select("n", F.array_sort(REASONS).alias(REASONS))
    want = spark.createDataFrame(
        [(n, sorted(codes)) for n, codes in expected.items()], actual.schema
    )
    assert_df_equality(actual, want, ignore_row_order=True)


@pytest.fixture(scope="module")
def acme(clients: dict[str, ClientConfig]) -> MeasurementSettings:
    spec = clients["acme_readings"].measurements
    assert spec is not None
    return spec


def _spec(**outliers: int | float) -> MeasurementSettings:
    """A small hand-built spec: pressure in kPa or mmHg (with diastolic), a pulse."""
    return MeasurementSettings.model_validate(
        {
            "secondary_column": "diastolic",
            "types": {
                "pressure": {
                    "unit": "mmHg",
                    "convert": {"kPa": 7.50062},
                    "valid": [60, 260],
                    "secondary": {"valid": [30, 160], "below_value": True},
                },
                "pulse": {"unit": "bpm", "valid": [25, 250], "typical": [50, 110]},
            },
            "outliers": {"threshold": 3.5, "window": 30, "min_history": 8, **outliers},
        }
    )


# --- normalise_units ------------------------------------------------------------------------


def test_units_convert_to_the_canonical_unit(
    spark: SparkSession, acme: MeasurementSettings
) -> None:
    rows = [
        _row(1, "glucose", 5.5, "mmol/L"),
        _row(2, "glucose", 5.5, " MMOL/l "),  # trimmed, case-insensitive
        _row(3, "glucose", 99.0, "mg/dl"),  # canonical, respelled
        _row(4, "temperature", 98.6, "degF"),
        _row(5, "weight", 150.0, "LB"),
        _row(6, "weight", 70.0, "stone"),  # unknown unit: unchanged
        _row(7, "altitude", 5.5, "mmol/L"),  # unknown type: unchanged
        _row(8, "glucose", 5.5, None),
        _row(9, "blood_pressure", 120.0, "mmhg", diastolic=80.0),
    ]
    out = normalise_units(_frame(spark, rows), acme).select("n", "value", "diastolic", "unit")
    expected = spark.createDataFrame(
        [
            (1, 99.088, None, "mg/dL"),
            (2, 99.088, None, "mg/dL"),
            (3, 99.0, None, "mg/dL"),
            (4, 37.0, None, "Cel"),
            (5, 68.0388555, None, "kg"),
            (6, 70.0, None, "stone"),
            (7, 5.5, None, "mmol/L"),
            (8, 5.5, None, None),
            (9, 120.0, 80.0, "mmHg"),
        ],
        out.schema,
    )
    assert_approx_df_equality(out, expected, 1e-4, ignore_row_order=True)
    assert out.columns == ["n", "value", "diastolic", "unit"]


def test_the_secondary_value_converts_with_its_type_only(spark: SparkSession) -> None:
    rows = [
        _row(1, "pressure", 16.0, "kpa", diastolic=10.0),
        _row(2, "pulse", 70.0, "bpm", diastolic=10.0),  # no secondary: left for "unexpected"
    ]
    out = normalise_units(_frame(spark, rows), _spec()).select("n", "value", "diastolic", "unit")
    expected = spark.createDataFrame(
        [(1, 120.00992, 75.0062, "mmHg"), (2, 70.0, 10.0, "bpm")], out.schema
    )
    assert_approx_df_equality(out, expected, 1e-6, ignore_row_order=True)


# --- measurement_reasons --------------------------------------------------------------------


def test_each_measurement_code(spark: SparkSession, acme: MeasurementSettings) -> None:
    rows = [
        _row(1, "heart_rate", 70.0, "bpm"),
        _row(2, "heart_rate", 70.0, "beats"),
        _row(3, "heart_rate", 300.0, "bpm"),
        _row(4, "blood_pressure", 120.0, "mmHg", diastolic=200.0),
        _row(5, "blood_pressure", 120.0, "mmHg"),
        _row(6, "blood_pressure", 120.0, "mmHg", diastolic=125.0),
        _row(7, "blood_pressure", 120.0, "mmHg", diastolic=120.0),
        _row(8, "heart_rate", 70.0, "bpm", diastolic=50.0),
        _row(9, "heart_rate", 70.0, "bpm", at=NOW + dt.timedelta(minutes=11)),
        _row(10, "heart_rate", 70.0, "bpm", at=NOW + dt.timedelta(minutes=10)),  # within skew
        _row(11, "blood_pressure", 300.0, "mmHg", diastolic=20.0),
        _row(12, "glucose", 0.5, "mmol/L"),  # 9 mg/dL after conversion: out of range
    ]
    df = normalise_units(_frame(spark, rows), acme)
    _codes(
        spark,
        measurement_reasons(df, acme, now=NOW),
        {
            1: [],
            2: ["unit:unknown_unit"],
            3: ["value:out_of_range"],
            4: ["diastolic:out_of_range", "diastolic:not_below_value"],
            5: ["diastolic:not_null"],
            6: ["diastolic:not_below_value"],
            7: ["diastolic:not_below_value"],
            8: ["diastolic:unexpected"],
            9: ["measured_at:future_timestamp"],
            10: [],
            11: ["value:out_of_range", "diastolic:out_of_range"],
            12: ["value:out_of_range"],
        },
    )


def test_earlier_failures_are_not_repeated(spark: SparkSession, acme: MeasurementSettings) -> None:
    rows = [
        _row(1, "heart_rate", None, "bpm", reasons=("value:invalid_number",)),
        _row(2, "heart_rate", None, "bpm", reasons=("value:not_null",)),
        _row(3, "altitude", 9000.0, "m", reasons=("reading_type:isin",)),  # unknown type
        _row(4, "heart_rate", 900.0, None, reasons=("unit:not_null",)),  # no range: unit unknown
        _row(5, "heart_rate", 70.0, None),  # a missing unit no check reported yet
        _row(
            6,
            "blood_pressure",
            120.0,
            "mmHg",
            reasons=("diastolic:invalid_number",),  # raw present, unparsable: not "missing"
        ),
        _row(
            7,
            None,
            999.0,
            "x",
            at=NOW + dt.timedelta(days=9),
            diastolic=1.0,
            reasons=("_record:malformed",),
        ),
        _row(8, "heart_rate", 300.0, "bpm", reasons=("member_id:regex",)),  # kept, appended
    ]
    out = measurement_reasons(_frame(spark, rows), acme, now=NOW)
    _codes(
        spark,
        out,
        {
            1: ["value:invalid_number"],
            2: ["value:not_null"],
            3: ["reading_type:isin"],
            4: ["unit:not_null"],
            5: ["unit:unknown_unit"],
            6: ["diastolic:invalid_number"],
            7: ["_record:malformed"],
            8: ["member_id:regex", "value:out_of_range"],
        },
    )
    assert out.where(F.col("typical_flag").isNotNull()).select("n").collect() == [(8,)]


def test_typical_flags(spark: SparkSession, acme: MeasurementSettings) -> None:
    rows = [
        _row(1, "heart_rate", 45.0, "bpm"),
        _row(2, "heart_rate", 50.0, "bpm"),  # inclusive
        _row(3, "heart_rate", 110.0, "bpm"),
        _row(4, "heart_rate", 111.0, "bpm"),
        _row(5, "glucose", 12.0, "mmol/L"),  # 216 mg/dL
        _row(6, "weight", 80.0, "kg"),  # no typical range
        _row(7, "heart_rate", 45.0, "beats"),  # unknown unit: not judged
        _row(8, "heart_rate", None, "bpm", reasons=("value:not_null",)),
    ]
    df = normalise_units(_frame(spark, rows), acme)
    out = measurement_reasons(df, acme, now=NOW).select("n", "typical_flag")
    expected = spark.createDataFrame(
        [
            (1, "low"),
            (2, None),
            (3, None),
            (4, "high"),
            (5, "high"),
            *[(n, None) for n in (6, 7, 8)],
        ],
        out.schema,
    )
    assert_df_equality(out, expected, ignore_row_order=True)


def test_now_must_be_aware(spark: SparkSession, acme: MeasurementSettings) -> None:
    with pytest.raises(ValueError, match="time-zone aware"):
        measurement_reasons(_frame(spark, []), acme, now=dt.datetime(2026, 1, 5, 12))


# --- member_checks --------------------------------------------------------------------------


def _members(spark: SparkSession, rows: list[tuple[str, str, str | None]]) -> DataFrame:
    return spark.createDataFrame(rows, "client_id string, member_id string, birth string")


def test_known_members_and_readings_before_birth(
    spark: SparkSession, acme: MeasurementSettings
) -> None:
    day = dt.timedelta(days=1)
    rows = [
        _row(
            1,
            "heart_rate",
            70.0,
            "bpm",
            member="year",
            at=dt.datetime(1979, 12, 31, 23, tzinfo=UTC),
        ),
        _row(2, "heart_rate", 70.0, "bpm", member="year", at=dt.datetime(1980, 1, 1, tzinfo=UTC)),
        _row(
            3,
            "heart_rate",
            70.0,
            "bpm",
            member="date",
            at=dt.datetime(1980, 5, 5, tzinfo=UTC) - day,
        ),
        _row(4, "heart_rate", 70.0, "bpm", member="date", at=dt.datetime(1980, 5, 5, tzinfo=UTC)),
        _row(5, "heart_rate", 70.0, "bpm", member="band", at=dt.datetime(1900, 1, 1, tzinfo=UTC)),
        _row(6, "heart_rate", 70.0, "bpm", member="nobody", at=dt.datetime(1900, 1, 1, tzinfo=UTC)),
        _row(7, "heart_rate", 70.0, "bpm", member="twice"),
        _row(8, "heart_rate", 70.0, "bpm", member="twice", at=dt.datetime(1985, 1, 1, tzinfo=UTC)),
        _row(
            9,
            "heart_rate",
            70.0,
            "bpm",
            member="year",
            at=dt.datetime(1970, 1, 1, tzinfo=UTC),
            reasons=("_record:malformed",),
        ),
    ]
    members = _members(
        spark,
        [
            ("acme", "year", "1980"),
            ("acme", "date", "1980-05-05"),
            ("acme", "band", "40-49"),
            ("acme", "twice", "1990"),
            ("acme", "twice", "1980-06-01"),  # duplicates: one row, the earlier birth
            ("acme", "twice", None),
            ("other", "nobody", "2000"),  # another client's member
        ],
    )
    out = member_checks(_frame(spark, rows), members, acme, key="member_id")
    assert out.count() == len(rows)
    assert out.columns == [*_frame(spark, []).columns, "member_known"]
    _codes(
        spark,
        out,
        {
            1: ["measured_at:before_birth"],
            2: [],
            3: ["measured_at:before_birth"],
            4: [],
            5: [],
            6: [],
            7: [],
            8: [],
            9: ["_record:malformed"],
        },
    )
    known = out.select("n", "member_known")
    expected = spark.createDataFrame([(n, n != 6) for n in range(1, 10)], known.schema)
    assert_df_equality(known, expected, ignore_row_order=True)


def test_no_members_table_means_unknown_members(
    spark: SparkSession, acme: MeasurementSettings
) -> None:
    rows = [_row(1, "heart_rate", 70.0, "bpm", at=dt.datetime(1900, 1, 1, tzinfo=UTC))]
    out = member_checks(_frame(spark, rows), None, acme, key="member_id")
    actual = out.select("n", REASONS, "member_known")
    assert_df_equality(actual, spark.createDataFrame([(1, [], False)], actual.schema))


def test_birth_not_checked_without_a_birth_column(
    spark: SparkSession, acme: MeasurementSettings
) -> None:
    spec = acme.model_copy(update={"birth_column": None})
    rows = [_row(1, "heart_rate", 70.0, "bpm", at=dt.datetime(1900, 1, 1, tzinfo=UTC))]
    members = spark.createDataFrame([("acme", "m1")], "client_id string, member_id string")
    out = member_checks(_frame(spark, rows), members, spec, key="member_id")
    actual = out.select("n", REASONS, "member_known")
    assert_df_equality(actual, spark.createDataFrame([(1, [], True)], actual.schema))


# --- flag_outliers --------------------------------------------------------------------------

STEADY = [100.0, 102.0, 98.0, 101.0, 99.0, 103.0, 97.0, 100.0, 101.0, 99.0]  # median 100, MAD 1


def _day(d: int) -> dt.datetime:
    """08:00 UTC on day ``d`` of January 2026 (day 0: Dec 31)."""
    return dt.datetime(2026, 1, 1, 8, tzinfo=UTC) + dt.timedelta(days=d - 1)


def _readings(
    member: str, values: list[float], *, first_day: int = 1, kind: str = "glucose", n: int = 0
) -> list[Row]:
    return [
        _row(n + i, kind, v, "mg/dL", member=member, at=_day(first_day + i))
        for i, v in enumerate(values)
    ]


def _scores(
    spark: SparkSession, out: DataFrame, expected: list[tuple[int, bool, float | None]]
) -> None:
    actual = out.select("n", "is_outlier", "outlier_score")
    want = spark.createDataFrame(expected, actual.schema)
    assert_approx_df_equality(actual, want, 1e-3, ignore_row_order=True)


def test_a_spike_after_enough_history_is_an_outlier(
    spark: SparkSession, acme: MeasurementSettings
) -> None:
    history = _frame(
        spark,
        _readings("m1", STEADY)
        + _readings("m2", STEADY[:3])  # too little history
        + _readings("other", [5000.0, 1.0] * 10)  # another member: ignored
        + _readings("m1", [1.0, 900.0] * 5, kind="heart_rate"),  # another type: ignored
    )
    new = _frame(
        spark,
        [
            _row(101, "glucose", 300.0, "mg/dL", member="m1", at=_day(11)),
            # Scored with the new spike in its window: median 100, MAD 1.
            _row(102, "glucose", 101.0, "mg/dL", member="m1", at=_day(12)),
            _row(103, "glucose", 300.0, "mg/dL", member="m2", at=_day(11)),
        ],
    )
    out = flag_outliers(new, history, acme)
    assert out.columns == [*new.columns, "is_outlier", "outlier_score", "outlier_method"]
    assert {r["outlier_method"] for r in out.collect()} == {"mad>3.5/30"}
    _scores(spark, out, [(101, True, 0.6745 * 200), (102, False, 0.6745), (103, False, None)])


def test_without_history_nothing_is_an_outlier(
    spark: SparkSession, acme: MeasurementSettings
) -> None:
    new = _frame(spark, _readings("m1", [*STEADY[:7], 300.0], n=1))  # 7 readings before
    out = flag_outliers(new, None, acme)
    _scores(spark, out, [(i, False, None) for i in range(1, 9)])


def test_mad_zero_uses_the_mean_absolute_deviation(spark: SparkSession) -> None:
    spec = _spec(min_history=3, window=5)
    history = _frame(
        spark,
        _readings("a", [100.0, 100.0, 100.0, 100.0, 130.0], kind="pulse")  # MAD 0, mean AD 6
        + _readings("b", [100.0] * 5, kind="pulse")  # no spread at all
        + _readings("c", [500.0, 100.0, 100.0, 100.0, 100.0, 100.0], kind="pulse"),
    )
    new = _frame(
        spark,
        [
            _row(1, "pulse", 160.0, "bpm", member="a", at=_day(20)),
            _row(2, "pulse", 100.0, "bpm", member="b", at=_day(20)),
            _row(3, "pulse", 150.0, "bpm", member="b", at=_day(21)),
            # 500 is six readings back, outside the window of 5: no spread left (with it, the
            # mean absolute deviation would score this 0.012).
            _row(4, "pulse", 101.0, "bpm", member="c", at=_day(20)),
        ],
    )
    out = flag_outliers(new, history, spec)
    # b's third reading: the second new one (100) joins its window; still no spread.
    _scores(
        spark,
        out,
        [(1, True, 60.0 / (1.253314 * 6.0)), (2, False, 0.0), (3, False, None), (4, False, None)],
    )


def test_a_re_sent_reading_is_counted_once(spark: SparkSession, acme: MeasurementSettings) -> None:
    # Seven readings stored, the seventh re-sent (corrected) with an eighth: the eighth has
    # seven readings before it, one short of min_history (8), if the copy is not counted twice.
    history = _frame(spark, _readings("m1", STEADY[:7]))
    new = _frame(
        spark,
        [
            _row(1, "glucose", 98.5, "mg/dL", member="m1", at=_day(7)),
            _row(2, "glucose", 300.0, "mg/dL", member="m1", at=_day(8)),
        ],
    )
    out = flag_outliers(new, history, acme)
    _scores(spark, out, [(1, False, None), (2, False, None)])
    # One more stored reading before them: now the eighth is scored, against the corrected one.
    longer = _frame(spark, _readings("m1", [100.0, *STEADY[:7]], first_day=0))
    scored = flag_outliers(new, longer, acme).where("n = 2").select("is_outlier").collect()
    assert scored == [(True,)]
