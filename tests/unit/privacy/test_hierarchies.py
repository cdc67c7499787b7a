"""Generalisation hierarchies: each level of each type, and that levels nest."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from lakehouse.privacy.hierarchies import generalise, ladder
from lakehouse.privacy.profiles import QuasiIdentifier


def _levels(values: list[str | None], **spec: object) -> list[list[str | None]]:
    qi = QuasiIdentifier.model_validate(spec)
    return [s.to_list() for s in ladder(pl.Series("c", values), qi)]


def test_date_goes_month_year_bands_star() -> None:
    levels = _levels(
        ["2026-03-14", "1970", "90+", None],
        hierarchy="date",
        levels=["month", "year", "5y", "10y", "*"],
    )
    assert levels == [
        ["2026-03-14", "1970", "90+", None],
        ["2026-03", "1970", "90+", None],
        ["2026", "1970", "90+", None],
        ["2025-2029", "1970-1974", "90+", None],
        ["2020-2029", "1970-1979", "90+", None],
        ["*", "*", "*", "*"],
    ]


def test_date_column_of_dates_is_generalised_too() -> None:
    import datetime as dt

    qi = QuasiIdentifier(hierarchy="date")
    series = pl.Series("d", [dt.date(1984, 7, 1)])
    assert [generalise(series, qi, i).item() for i in range(5)] == [
        "1984-07-01",
        "1984-07",
        "1984",
        "1980-1984",
        "1980-1989",
    ]


def test_zip_goes_zip3_then_000_with_restricted_prefixes() -> None:
    levels = _levels(["94110", "03601", "941", None], hierarchy="zip")
    # 036 is one of HIPAA's restricted prefixes (population 20,000 or fewer)
    assert levels[1] == ["941", "000", "941", None]
    assert levels[2] == ["000", "000", "000", None]


def test_category_groups_then_star() -> None:
    levels = _levels(
        ["GOLD", "SILVER", "BRONZE", "OTHER"],
        hierarchy="category",
        groups={"GOLD": "premium", "SILVER": "premium", "BRONZE": "basic"},
    )
    assert levels[1] == ["premium", "premium", "basic", "*"]
    assert levels[2] == ["*"] * 4
    assert _levels(["A******"], hierarchy="category")[1] == ["*"]


def test_number_ranges_nest_and_keep_top_codes() -> None:
    levels = _levels(["42", "47.5", "40-49", "90+", "n/a"], hierarchy="number", levels=["5", "20"])
    assert levels[1] == ["40-44", "45-49", "40-44", "90+", "n/a"]
    assert levels[2] == ["40-59", "40-59", "40-59", "90+", "n/a"]


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ({"hierarchy": "date"}, ["2001-02-03", "2001-02-28", "2001-11-30", "1999", "90+"]),
        ({"hierarchy": "zip"}, ["10001", "10099", "036", "94110"]),
        ({"hierarchy": "number", "levels": ["5", "10", "50"]}, ["1", "4", "9", "12", "77"]),
    ],
)
def test_rows_equal_at_a_level_stay_equal_at_every_coarser_one(
    spec: dict[str, object], values: list[str]
) -> None:
    levels = _levels(values, **spec)  # type: ignore[arg-type]
    for finer, coarser in itertools.pairwise(levels):
        for i in range(len(values)):
            for j in range(len(values)):
                if finer[i] == finer[j]:
                    assert coarser[i] == coarser[j]
