"""``summarise_members``: age bands from every silver form of a birth date, k-suppression."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from lakehouse.config.gold import MembersSummarySpec
from lakehouse.gold.members_summary import SUMMARY_SCHEMA, age_band, summarise_members

AS_OF = dt.date(2026, 1, 15)
SPEC = MembersSummarySpec(k=3, band_years=10, top_age=90)
SCHEMA = {
    "client_id": pl.String,
    "plan_code": pl.String,
    "age_band": pl.String,
    "members": pl.Int64,
    "suppressed": pl.Boolean,
    "k": pl.Int32,
    "source_version": pl.Int64,
}


def _bands(values: list[str | None], spec: MembersSummarySpec = SPEC) -> list[str]:
    frame = pl.DataFrame(
        {"birth": values, "as_of": [AS_OF] * len(values)},
        schema={"birth": pl.String, "as_of": pl.Date},
    )
    out = frame.select(age_band(pl.col("birth"), pl.col("as_of"), spec).alias("band"))
    return list(out["band"])


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        ("1980", "40-49"),  # a year: the age reached in 2026 (46)
        ("2026", "0-9"),
        ("1936", "90+"),  # age 90 reaches the top band
        ("1937", "80-89"),
        ("2030", "unknown"),  # after the file's date
        ("1976-01-15", "50-59"),  # an ISO date: completed years (50 on the day)
        ("1976-01-16", "40-49"),  # one day short of 50
        ("90+", "90+"),
        ("85+", "unknown"),  # cannot be placed in 80-89 or 90+
        ("40-49", "40-49"),
        ("40-44", "40-49"),  # a narrower band fits
        ("80-89", "80-89"),
        ("35-44", "unknown"),  # straddles two bands
        ("95-99", "90+"),
        (None, "unknown"),
        ("M*****", "unknown"),  # a masked or tokenised value
        ("  1980 ", "40-49"),
    ],
)
def test_age_band(birth: str | None, band: str) -> None:
    assert _bands([birth]) == [band]


def test_bands_follow_the_configured_width_and_top() -> None:
    spec = MembersSummarySpec(band_years=5, top_age=80)
    assert _bands(["1980", "1946", "40-49", "40-44", "80+"], spec) == [
        "45-49",
        "80+",
        "unknown",  # a 10-year band does not fit 5-year ones
        "40-44",
        "80+",
    ]


def _silver(rows: list[tuple[str, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "client_id": [r[0] for r in rows],
            "plan_code": [r[1] for r in rows],
            "birth_date": [r[2] for r in rows],
            "_creation_date": [AS_OF] * len(rows),
        },
        schema={
            "client_id": pl.String,
            "plan_code": pl.String,
            "birth_date": pl.String,
            "_creation_date": pl.Date,
        },
    )


def test_summary_counts_and_suppresses_small_cells() -> None:
    rows = [("a", "GOLD", "1980")] * 4 + [("a", "GOLD", "1990"), ("b", None, "40-49")] * 3
    summary = summarise_members(_silver(rows), SPEC, source_version=7)
    expected = pl.DataFrame(
        {
            "client_id": ["a", "a", "b"],
            "plan_code": ["GOLD", "GOLD", "unknown"],
            "age_band": ["30-39", "40-49", "40-49"],
            "members": [3, 4, 3],
            "suppressed": [False, False, False],
            "k": [3, 3, 3],
            "source_version": [7, 7, 7],
        },
        schema=SCHEMA,
    )
    assert_frame_equal(summary, expected)
    small = summarise_members(_silver(rows[:6]), SPEC, source_version=7)
    assert small.filter(pl.col("age_band") == "30-39").row(0, named=True) == {
        "client_id": "a",
        "plan_code": "GOLD",
        "age_band": "30-39",
        "members": None,  # 1 member < k: no count
        "suppressed": True,
        "k": 3,
        "source_version": 7,
    }


def test_summary_of_no_rows_has_the_schema() -> None:
    empty = summarise_members(pl.DataFrame(), SPEC, source_version=0)
    assert empty.is_empty() and empty.to_arrow().schema.names == SUMMARY_SCHEMA.names
