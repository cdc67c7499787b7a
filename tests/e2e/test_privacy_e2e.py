"""Privacy-safe exports on the session's demo lake: no Spark, no spark-submit.

The export reads the demo's acme silver in place: the test's lake links its ``silver`` to
the demo's, so the export's own rows (``audit/pii_events``, ``audit/privacy_budget``) land in
``tmp_path`` and the shared demo lake is left as it was.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from e2e_support import REPO, DemoLake, run

from lakehouse.cli import main
from lakehouse.privacy.profiles import KAnonymityProfile, load_exports

pytestmark = pytest.mark.e2e

QUASI = ["first_name", "last_name", "birth_date", "zip"]


def _lakehouse() -> str:
    """The installed console script (the venv's, next to this interpreter)."""
    script = Path(sys.executable).parent / "lakehouse"
    return str(script) if script.exists() else str(shutil.which("lakehouse"))


@pytest.fixture()
def lake(demo_lake: DemoLake, tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    root.mkdir()
    (root / "silver").symlink_to(demo_lake.workspace.lake / "silver", target_is_directory=True)
    return root


def _acme_silver(demo_lake: DemoLake) -> pl.DataFrame:
    table = DeltaTable(str(demo_lake.workspace.lake / "silver" / "members"))
    frame = pl.from_arrow(table.to_pyarrow_dataset().to_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.filter(pl.col("client_id") == "acme")


def test_k_anonymous_export_of_acme_silver(
    demo_lake: DemoLake, lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = load_exports(REPO / "conf" / "exports.yaml").profiles["members_k5"]
    assert isinstance(profile, KAnonymityProfile)
    silver = _acme_silver(demo_lake)
    env = demo_lake.workspace.env(LAKEHOUSE_LAKE_ROOT=str(lake))
    base = ["export", "--client", "acme", "--dataset", "members"]

    # the raw silver: every member is unique on masked names, birth year and zip3
    check = run([_lakehouse(), *base, "--check", "--quasi", ",".join(QUASI), "--json"], env)
    assert check.returncode == 0, check.stderr
    raw = json.loads(check.stdout)
    assert raw["rows"] == silver.height > 1000
    assert raw["min_class"] == 1 and raw["unique_share"] > 0.95

    out = tmp_path / "out"
    args = ["--profile", "members_k5", "--out", str(out), "--reason", "INC-17 vendor extract"]
    result = run([_lakehouse(), *base, *args], env)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["k"] == profile.k and report["k_achieved"] >= profile.k
    assert report["rows_in"] == silver.height
    assert report["rows_suppressed"] <= profile.max_suppression * silver.height
    assert set(report["levels"]) == set(QUASI)

    # checked independently: group the written Parquet on the quasi-identifiers
    written = pl.read_parquet(out / report["files"][0])
    assert written.height == report["rows_out"]
    assert written.columns == list(profile.columns)
    assert written.group_by(QUASI).len()["len"].min() >= profile.k  # type: ignore[operator]
    plans = written.group_by(QUASI).agg(pl.col("plan_code").n_unique())["plan_code"]
    assert plans.min() >= 2  # type: ignore[operator]

    assert main([*base, "--check", "--quasi", ",".join(QUASI), "--json", "--file",
                 str(out / report["files"][1])]) == 0  # fmt: skip
    measured = json.loads(capsys.readouterr().out)
    assert measured["min_class"] >= profile.k and measured["unique_rows"] == 0

    events = DeltaTable(str(lake / "audit" / "pii_events")).to_pyarrow_table().to_pylist()
    (event,) = events
    assert (event["event"], event["status"], event["client_id"]) == ("export", "SUCCESS", "acme")
    assert event["rows"] == report["rows_out"] and event["reason"] == "INC-17 vendor extract"
    detail = json.loads(event["detail"])
    assert detail["profile"] == "members_k5" and detail["k_achieved"] == report["k_achieved"]
    tokens = set(silver["member_id"].to_list())
    assert not any(str(value) in tokens for value in event.values())


def test_dp_counts_of_acme_silver_charge_the_ledger(
    demo_lake: DemoLake,
    lake: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LAKEHOUSE_LAKE_ROOT", str(lake))
    monkeypatch.setenv("LAKEHOUSE_CLIENTS_DIR", str(REPO / "clients"))
    truth = dict(_acme_silver(demo_lake).group_by("plan_code").len().iter_rows())
    args = ["export", "--client", "acme", "--dataset", "members", "--profile", "members_by_plan"]
    assert main([*args, "--out", str(tmp_path / "dp"), "--reason", "INC-18 plan sizes"]) == 0
    report = json.loads(capsys.readouterr().out)
    released = pl.read_parquet(tmp_path / "dp" / report["files"][0])
    for plan, members in zip(released["plan_code"], released["members"], strict=True):
        assert abs(members - truth[plan]) <= 40  # discrete Laplace, scale 2
    ledger = DeltaTable(str(lake / "audit" / "privacy_budget")).to_pyarrow_table().to_pylist()
    assert [(r["consumer"], r["epsilon"]) for r in ledger] == [("research-team", 1.0)]
