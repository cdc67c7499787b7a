"""``dp_counts``: differentially private counts, sums and means per group, with OpenDP.

The privacy unit is one row (a member's silver row); neighbouring datasets differ by adding
or removing one row (OpenDP's symmetric distance, ``d_in = 1``).

- Groups are the product of the profile's declared categories, never read from the data,
  so which groups appear reveals nothing; rows outside them are counted in no group.
- count: OpenDP's count-by-categories (one row changes one count by one) with discrete
  Laplace noise calibrated by OpenDP to the query's epsilon.
- sum: per group, values clamped into the profile's bounds, summed, Laplace noise; the
  groups are disjoint, so the per-group releases together cost the query's epsilon
  (parallel composition). Rows whose value is not a number are left out (a row-wise filter
  does not raise the sensitivity).
- mean: half the epsilon to a noisy sum of the values less the low bound (the sensitivity
  is then the bounds' width), half to a noisy count, per group; low bound plus their
  ratio, clipped into the bounds (post-processing costs nothing).
An export's epsilon is the sum of its queries' (sequential composition); the ledger
(``lakehouse.privacy.ledger``) charges it before anything is computed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from lakehouse.errors import PrivacyError
from lakehouse.privacy.profiles import DpCountsProfile, DpQuery

__all__ = ["DpRelease", "release_counts"]

_SEP = "\x1f"
_GROUP = "__group"


@dataclass(frozen=True)
class DpRelease:
    frame: pl.DataFrame  # one row per declared group: group columns, then one per query
    epsilon: dict[str, float]  # query name -> epsilon the OpenDP map certifies
    rows_in: int
    groups: int


def _opendp() -> Any:
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def _calibrated(dp: Any, build: Callable[[float], Any], epsilon: float) -> Any:
    """The measurement with the smallest noise scale whose privacy map gives ``epsilon``."""
    scale = dp.binary_search_param(build, d_in=1, d_out=epsilon)
    measurement = build(scale)
    return measurement


def _counts(
    dp: Any, keys: list[str], categories: list[str], epsilon: float
) -> tuple[list[int], float]:
    space = dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance()

    def build(scale: float) -> Any:
        return (
            space
            >> dp.t.then_count_by_categories(categories=categories, null_category=True)
            >> dp.m.then_laplace(scale=scale)
        )

    measurement = _calibrated(dp, build, epsilon)
    noisy = measurement(keys)[:-1]  # the last count is of rows outside every group
    return [max(int(v), 0) for v in noisy], float(measurement.map(1))


def _per_group(
    dp: Any,
    groups: Sequence[list[float]],
    epsilon: float,
    bounds: tuple[float, float],
    *,
    stat: str,
) -> tuple[list[float], float]:
    """A noisy sum (or count) of each group's values; one epsilon for all (disjoint)."""
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance()

    def build(scale: float) -> Any:
        if stat == "count":
            return space >> dp.t.then_count() >> dp.m.then_laplace(scale=scale)
        return space >> dp.t.then_clamp(bounds) >> dp.t.then_sum() >> dp.m.then_laplace(scale=scale)

    measurement = _calibrated(dp, build, epsilon)
    return [float(measurement(values)) for values in groups], float(measurement.map(1))


def _values(frame: pl.DataFrame, query: DpQuery, profile_name: str) -> pl.DataFrame:
    column = query.column or ""
    if column not in frame.columns:
        raise PrivacyError(
            "column not in the table",
            profile=profile_name,
            column=column,
            fix=f"choose a query column from {sorted(frame.columns)}",
        )
    values = frame[column].cast(pl.String, strict=False).cast(pl.Float64, strict=False)
    return frame.select(_GROUP).with_columns(values.alias("__v")).drop_nulls("__v")


def release_counts(frame: pl.DataFrame, profile: DpCountsProfile, *, name: str) -> DpRelease:
    """One noisy row per declared group (see the module docstring).

    Raises:
        PrivacyError: a group or query column is not in ``frame``.
    """
    dp = _opendp()
    columns = list(profile.group_by)
    for column in columns:
        if column not in frame.columns:
            raise PrivacyError(
                "group_by column not in the table",
                profile=name,
                column=column,
                fix=f"choose group_by columns from {sorted(frame.columns)}",
            )
    combos = list(itertools.product(*(profile.group_by[c] for c in columns)))
    categories = [_SEP.join(combo) for combo in combos]
    keyed = frame.with_columns(
        pl.concat_str(
            [pl.col(c).cast(pl.String, strict=False).fill_null("") for c in columns],
            separator=_SEP,
        ).alias(_GROUP)
    )
    out: dict[str, list[Any]] = {c: [combo[i] for combo in combos] for i, c in enumerate(columns)}
    spent: dict[str, float] = {}
    for query in profile.queries:
        if query.stat == "count":
            out[query.name], spent[query.name] = _counts(
                dp, keyed[_GROUP].to_list(), categories, query.epsilon
            )
            continue
        assert query.bounds is not None  # the profile validated it
        values = _values(keyed, query, name)
        by_group = {k: v for k, v in values.group_by(_GROUP).agg(pl.col("__v")).iter_rows()}
        groups = [list(by_group.get(c, [])) for c in categories]
        low, high = query.bounds
        if query.stat == "sum":
            out[query.name], spent[query.name] = _per_group(
                dp, groups, query.epsilon, query.bounds, stat="sum"
            )
            continue
        # Values shifted by the public low bound: the sum's sensitivity is the bounds'
        # width, not the largest magnitude (a birth year's mean: 126, not 2026).
        shifted = [[v - low for v in values] for values in groups]
        half = query.epsilon / 2
        sums, eps_sum = _per_group(dp, shifted, half, (0.0, high - low), stat="sum")
        counts, eps_count = _per_group(dp, groups, half, query.bounds, stat="count")
        out[query.name] = [
            min(max(low + s / c, low), high) if c >= 1 else None
            for s, c in zip(sums, counts, strict=True)
        ]
        spent[query.name] = eps_sum + eps_count
    return DpRelease(
        frame=pl.DataFrame(out), epsilon=spent, rows_in=frame.height, groups=len(combos)
    )
