"""The generalisation search: reaches k (checked by grouping the output independently), stays
within the suppression limit or refuses naming the column, honours l-diversity, is minimal."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from lakehouse.errors import PrivacyRefused
from lakehouse.privacy.exporter import PreparedExport, write
from lakehouse.privacy.hierarchies import ladder
from lakehouse.privacy.kanon import anonymise
from lakehouse.privacy.profiles import KAnonymityProfile

QUASI = ["first_name", "last_name", "birth_date", "zip"]


def profile(**changes: Any) -> KAnonymityProfile:
    spec: dict[str, Any] = {
        "method": "k_anonymity",
        "clients": ["acme"],
        "dataset": "members",
        "consumer": "vendor",
        "columns": [*QUASI, "plan_code"],
        "quasi_identifiers": {
            "first_name": {"hierarchy": "category"},
            "last_name": {"hierarchy": "category"},
            "birth_date": {"hierarchy": "date", "levels": ["year", "5y", "10y", "20y"]},
            "zip": {"hierarchy": "zip"},
        },
        "k": 5,
        "max_suppression": 0.05,
    }
    spec.update(changes)
    return KAnonymityProfile.model_validate(spec)


def test_the_raw_frame_is_not_k_anonymous(frame: pl.DataFrame) -> None:
    assert frame.group_by(QUASI).len()["len"].min() == 1


@pytest.mark.parametrize("k", [2, 5, 10, 25])
def test_written_parquet_is_k_anonymous_by_independent_grouping(
    frame: pl.DataFrame, tmp_path: Path, k: int
) -> None:
    result = anonymise(frame, profile(k=k), name="t")
    files = write(PreparedExport("t", result.frame, {}), tmp_path / "out")
    written = pl.read_parquet(files[0])
    sizes = written.group_by(QUASI).len()["len"]
    assert written.height == result.rows_out > 0
    assert sizes.min() is not None and sizes.min() >= k  # type: ignore[operator]
    assert result.k_achieved == sizes.min()
    assert result.rows_in == result.rows_out + result.rows_suppressed == frame.height
    assert result.rows_suppressed <= 0.05 * frame.height


def test_levels_are_reported_by_name(frame: pl.DataFrame) -> None:
    result = anonymise(frame, profile(), name="t")
    assert set(result.levels) == set(QUASI)
    allowed = {"as stored", "*", "year", "5y", "10y", "20y", "zip3", "000"}
    assert set(result.levels.values()) <= allowed
    # member_id and phone are not output columns: never in the release
    assert result.frame.columns == [*QUASI, "plan_code"]


def _feasible(frame: pl.DataFrame, prof: KAnonymityProfile, node: tuple[int, ...]) -> bool:
    """Independent check: generalise with the hierarchies, group, count small classes."""
    columns = list(prof.quasi_identifiers)
    data = frame.with_columns(
        [
            ladder(frame[c], prof.quasi_identifiers[c])[lv].alias(c)
            for c, lv in zip(columns, node, strict=True)
        ]
    )
    sizes = data.group_by(columns).len()["len"]
    small = int(sizes.filter(sizes < prof.k).sum())
    return small <= int(prof.max_suppression * frame.height)


def test_chosen_node_has_the_least_total_generalisation(
    make_members: Callable[..., pl.DataFrame],
) -> None:
    frame = make_members(300, seed=3)
    prof = profile(k=4, max_suppression=0.02)
    result = anonymise(frame, prof, name="t")
    heights = [len(q.effective_levels) for q in prof.quasi_identifiers.values()]

    def cost(node: tuple[int, ...]) -> Fraction:
        return sum((Fraction(lv, h) for lv, h in zip(node, heights, strict=True)), Fraction(0))

    assert _feasible(frame, prof, result.node)
    cheaper = [
        n
        for n in itertools.product(*(range(h + 1) for h in heights))
        if cost(n) < cost(result.node)
    ]
    assert cheaper and not any(_feasible(frame, prof, n) for n in cheaper)


def test_refuses_naming_the_column_at_its_top_level(frame: pl.DataFrame) -> None:
    # birth_date may only go to its year: ~70 years over 600 rows cannot make classes of 30
    qis = {
        "first_name": {"hierarchy": "category"},
        "last_name": {"hierarchy": "category"},
        "birth_date": {"hierarchy": "date", "levels": ["year"]},
        "zip": {"hierarchy": "zip"},
    }
    with pytest.raises(PrivacyRefused) as caught:
        anonymise(frame, profile(k=30, quasi_identifiers=qis, max_suppression=0.01), name="p")
    assert caught.value.column == "birth_date" and caught.value.profile == "p"
    assert "quasi_identifiers.birth_date.levels" in str(caught.value)
    # values never appear in the error
    assert not any(v in str(caught.value) for v in ("1970", "GOLD", "941"))


def test_suppression_fills_the_gap_up_to_the_limit(
    make_members: Callable[..., pl.DataFrame],
) -> None:
    frame = make_members(500, seed=11)
    lone = pl.DataFrame(
        {
            c: [v]
            for c, v in zip(
                frame.columns, ["x", "Q*", "Q*", "1850", "", "999", "GOLD"], strict=True
            )
        }
    )
    data = pl.concat([frame, lone])
    result = anonymise(data, profile(k=5, max_suppression=0.05), name="t")
    assert 1 <= result.rows_suppressed <= int(0.05 * data.height)  # the 1850 row at least
    assert result.frame.group_by(QUASI).len()["len"].min() >= 5  # type: ignore[operator]


def test_l_diversity_every_class_holds_l_plans(frame: pl.DataFrame) -> None:
    # make plans follow the zip: without l-diversity a class could hold one plan only
    skewed = frame.with_columns(
        pl.when(pl.col("zip") == "941")
        .then(pl.lit("GOLD"))
        .otherwise(pl.col("plan_code"))
        .alias("plan_code")
    )
    prof = profile(k=5, l_diversity={"column": "plan_code", "l": 2})
    result = anonymise(skewed, prof, name="t")
    plans = result.frame.group_by(QUASI).agg(pl.col("plan_code").n_unique())["plan_code"]
    assert plans.min() >= 2  # type: ignore[operator]
    assert result.l_achieved == plans.min()
    plain = anonymise(skewed, profile(k=5), name="t")
    homogeneous = plain.frame.group_by(QUASI).agg(pl.col("plan_code").n_unique())["plan_code"]
    assert homogeneous.min() == 1 or plain.node != result.node
