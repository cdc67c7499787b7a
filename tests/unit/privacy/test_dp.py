"""dp_counts: noisy yet plausible for the epsilon; the ledger charges and refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.errors import PrivacyBudgetExceeded
from lakehouse.privacy.dp import release_counts
from lakehouse.privacy.ledger import charge, ledger_path, spent
from lakehouse.privacy.profiles import DpCountsProfile

ENGINE = DeltaRsEngine()


def profile(*queries: dict[str, Any]) -> DpCountsProfile:
    return DpCountsProfile.model_validate(
        {
            "method": "dp_counts",
            "clients": ["acme"],
            "dataset": "members",
            "consumer": "research",
            "group_by": {"plan_code": ["GOLD", "SILVER", "BRONZE", "PLATINUM"]},
            "queries": list(queries) or [{"name": "members", "stat": "count", "epsilon": 0.5}],
        }
    )


def test_counts_are_noisy_but_plausible(frame: pl.DataFrame) -> None:
    truth = dict(frame.group_by("plan_code").len().iter_rows())
    runs = [release_counts(frame, profile(), name="p") for _ in range(6)]
    released = [dict(zip(r.frame["plan_code"], r.frame["members"], strict=True)) for r in runs]
    # declared groups only, whatever the data holds (PLATINUM has no member)
    assert all(list(r.frame["plan_code"]) == ["GOLD", "SILVER", "BRONZE", "PLATINUM"] for r in runs)
    noisy = [counts[p] != truth[p] for counts in released for p in truth]
    assert any(noisy), "six runs of three counts all exact: no noise was added"
    # discrete Laplace, scale 1/epsilon = 2: |noise| > 40 has probability about e^-20
    for counts in released:
        assert all(abs(counts[p] - truth[p]) <= 40 for p in truth)
        assert 0 <= counts["PLATINUM"] <= 40
    assert runs[0].epsilon == {"members": pytest.approx(0.5)}


def test_sum_and_mean_are_clamped_and_noisy(frame: pl.DataFrame) -> None:
    prof = profile(
        {"name": "s", "stat": "sum", "column": "birth_date", "bounds": [1900, 2026], "epsilon": 1},
        {"name": "m", "stat": "mean", "column": "birth_date", "bounds": [1900, 2026], "epsilon": 1},
    )
    years = frame.with_columns(pl.col("birth_date").cast(pl.Float64, strict=False)).drop_nulls(
        "birth_date"
    )
    true_mean = dict(years.group_by("plan_code").agg(pl.col("birth_date").mean()).iter_rows())
    release = release_counts(frame, prof, name="p")
    means = dict(zip(release.frame["plan_code"], release.frame["m"], strict=True))
    for plan, mean in true_mean.items():
        assert means[plan] is not None and 1900 <= means[plan] <= 2026
        assert abs(means[plan] - mean) < 30  # sensitivity 126 at epsilon 0.5 over ~190 rows
    assert release.epsilon == {"s": pytest.approx(1.0), "m": pytest.approx(1.0)}


def _charge(lake: Path, epsilon: float, event: str) -> float:
    return charge(
        ENGINE,
        lake_root=lake,
        lock_dir=lake / "_locks",
        event_id=event,
        user="tester",
        client_id="acme",
        dataset="members",
        consumer="research",
        profile="p",
        epsilon=epsilon,
        budget=1.0,
    ).remaining


def test_ledger_records_spent_epsilon_and_refuses_over_budget(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    assert spent(ENGINE, lake, "acme", "members", "research") == 0
    assert _charge(lake, 0.4, "e1") == pytest.approx(0.6)
    assert _charge(lake, 0.6, "e2") == pytest.approx(0.0)  # exactly the budget: allowed
    with pytest.raises(PrivacyBudgetExceeded) as caught:
        _charge(lake, 0.1, "e3")
    assert caught.value.profile == "p" and "research" in str(caught.value)
    assert spent(ENGINE, lake, "acme", "members", "research") == pytest.approx(1.0)
    rows = ENGINE.read(ledger_path(lake)).to_pylist()
    assert sorted(r["event_id"] for r in rows) == ["e1", "e2"]  # the refusal spent nothing
    # other consumers and clients have their own budgets
    assert spent(ENGINE, lake, "globex", "members", "research") == 0
    assert spent(ENGINE, lake, "acme", "members", "vendor") == 0
