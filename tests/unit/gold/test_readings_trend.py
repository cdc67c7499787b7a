"""``trends``: the window, the daily means, the slope and the classification rule."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from lakehouse.config.gold import ReadingsTrendSpec
from lakehouse.gold.readings_trend import TREND_KEYS, TREND_SCHEMA, trends

DAY0 = dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)
SPEC = ReadingsTrendSpec()  # window 14 days, smooth 3, min 4, stable 0.5%/day, volatile 0.15


def _readings(
    kind: str, values: list[float], *, member: str = "m1", outliers: set[int] = frozenset()
) -> pl.DataFrame:
    """One reading a day from DAY0 (index = day), ``outliers``: the flagged days."""
    n = len(values)
    return pl.DataFrame(
        {
            "client_id": ["c"] * n,
            "member_id": [member] * n,
            "reading_type": [kind] * n,
            "measured_at": [DAY0 + dt.timedelta(days=i) for i in range(n)],
            "value": values,
            "unit": ["u"] * n,
            "is_outlier": [i in outliers for i in range(n)],
        },
        schema_overrides={"measured_at": pl.Datetime("us", "UTC"), "value": pl.Float64},
    )


def _one(rows: pl.DataFrame, spec: ReadingsTrendSpec = SPEC) -> dict[str, object]:
    [row] = trends(rows, spec, source_version=4).to_dicts()
    return row


def test_a_straight_line_gives_its_slope_and_moving_averages() -> None:
    row = _one(_readings("glucose", [140.0 - 4 * i for i in range(10)]))
    assert row["slope"] == pytest.approx(-4.0)
    assert row["first_average"] == pytest.approx(136.0)  # days 0-2: 140, 136, 132
    assert row["last_average"] == pytest.approx(108.0)  # days 7-9: 112, 108, 104
    assert row["residual_cv"] == pytest.approx(0.0, abs=1e-12)
    assert (row["days"], row["readings"], row["outliers_excluded"]) == (10, 10, 0)
    assert row["as_of"] == dt.date(2026, 1, 10)
    assert row["window_start"] == dt.date(2025, 12, 28)
    assert (row["window_days"], row["better"], row["trend"]) == (14, "lower", "improving")


@pytest.mark.parametrize(
    ("kind", "step", "trend"),
    [
        ("glucose", -2.0, "improving"),  # lower is better, falling
        ("blood_pressure", 2.0, "declining"),  # lower is better, rising
        ("spo2", 0.8, "improving"),  # higher is better, rising
        ("spo2", -0.8, "declining"),
        ("temperature", 0.5, "changing"),  # no better direction
        ("steps", 50.0, "changing"),  # a type not in `better` counts as none
        ("heart_rate", 0.1, "stable"),  # 0.1/day on ~70: 0.14% a day
        ("weight", 0.0, "stable"),
    ],
)
def test_direction_by_the_type(kind: str, step: float, trend: str) -> None:
    base = {"spo2": 95.0, "temperature": 36.5, "heart_rate": 70.0, "weight": 80.0}.get(kind, 120)
    assert _one(_readings(kind, [base + step * i for i in range(8)]))["trend"] == trend


def test_scatter_around_the_line_is_volatile() -> None:
    row = _one(_readings("heart_rate", [60.0, 100.0] * 4))
    assert row["trend"] == "volatile" and row["residual_cv"] > SPEC.volatile_cv  # type: ignore[operator]


def test_too_few_days_is_insufficient() -> None:
    assert _one(_readings("glucose", [150.0, 120.0, 90.0]))["trend"] == "insufficient"
    [one] = trends(_readings("glucose", [99.0]), SPEC, source_version=1).to_dicts()
    assert (one["days"], one["slope"], one["trend"]) == (1, None, "insufficient")


def test_outliers_are_left_out_of_the_averages_but_set_as_of() -> None:
    values = [100.0] * 6 + [400.0, 100.0]  # day 6 an outlier spike, day 7 the last reading
    row = _one(_readings("glucose", values, outliers={6}))
    assert (row["days"], row["readings"], row["outliers_excluded"]) == (7, 7, 1)
    assert row["slope"] == pytest.approx(0.0) and row["trend"] == "stable"
    only_outlier_last = _one(_readings("glucose", [*[100.0] * 5, 300.0], outliers={5}))
    assert only_outlier_last["as_of"] == dt.date(2026, 1, 6)  # the outlier's day


def test_a_group_of_outliers_only_is_insufficient() -> None:
    row = _one(_readings("glucose", [300.0, 310.0], outliers={0, 1}))
    assert (row["days"], row["readings"], row["outliers_excluded"]) == (0, 0, 2)
    assert (row["mean_value"], row["slope"], row["residual_cv"]) == (None, None, None)
    assert row["trend"] == "insufficient"


def test_readings_before_the_window_do_not_count() -> None:
    old = [500.0] * 20  # days 0-19, then a steady fortnight
    row = _one(_readings("glucose", old + [100.0] * 14))
    assert (row["days"], row["mean_value"], row["trend"]) == (14, 100.0, "stable")
    assert row["window_start"] == dt.date(2026, 1, 21)


def test_several_readings_a_day_make_one_daily_mean() -> None:
    rows = pl.concat(
        [
            _readings("glucose", [100.0 + i for i in range(5)]),
            _readings("glucose", [110.0 + i for i in range(5)]).with_columns(
                pl.col("measured_at") + pl.duration(hours=3)
            ),
        ]
    )
    row = _one(rows)
    assert (row["days"], row["readings"]) == (5, 10)
    assert row["mean_value"] == pytest.approx(107.0) and row["slope"] == pytest.approx(1.0)


def test_groups_are_per_member_and_type_and_the_schema_holds() -> None:
    rows = pl.concat(
        [
            _readings("glucose", [100.0] * 5, member="a"),
            _readings("glucose", [100.0] * 5, member="b"),
            _readings("heart_rate", [70.0] * 5, member="a"),
        ]
    )
    out = trends(rows, SPEC, source_version=9)
    assert out.select(TREND_KEYS).rows() == [
        ("c", "a", "glucose"),
        ("c", "a", "heart_rate"),
        ("c", "b", "glucose"),
    ]
    assert out.to_arrow().cast(TREND_SCHEMA).schema == TREND_SCHEMA
    assert out.get_column("source_version").to_list() == [9, 9, 9]
    assert trends(rows.clear(), SPEC, source_version=1).columns == TREND_SCHEMA.names


def test_thresholds_come_from_the_spec() -> None:
    rows = _readings("glucose", [100.0 + 0.4 * i for i in range(8)])  # ~0.4% a day
    assert _one(rows)["trend"] == "stable"
    assert _one(rows, ReadingsTrendSpec(stable_slope=0.001))["trend"] == "declining"
    assert _one(rows, ReadingsTrendSpec(better={"glucose": "higher"}, stable_slope=0.001))[
        "trend"
    ] == ("improving")
    with pytest.raises(ValueError, match="min_days"):
        ReadingsTrendSpec(window_days=3, min_days=5)
