"""``lakehouse export`` end to end on a small silver table (delta-rs, no Spark): files private
and neutralised, every export (refused ones too) in audit/pii_events, budget enforced."""

from __future__ import annotations

import csv
import json
import stat
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml

from lakehouse.audit import pii_events_path
from lakehouse.cli import main
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.privacy.ledger import ledger_path

REPO = Path(__file__).resolve().parents[3]
FORMULA = '=HYPERLINK("http://evil","x")'
QUASI = "first_name,last_name,birth_date,zip"


@pytest.fixture(autouse=True)
def _no_lake_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LAKEHOUSE_LAKE_ROOT", "LAKEHOUSE_CLIENTS_DIR", "LAKEHOUSE_ENGINE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def exports(tmp_path: Path) -> Path:
    data = yaml.safe_load((REPO / "conf" / "exports.yaml").read_text(encoding="utf-8"))
    data["profiles"]["members_k5"].pop("l_diversity")
    data["profiles"]["strict"] = {
        **data["profiles"]["members_k5"],
        "k": 50,
        "max_suppression": 0.0,
        "quasi_identifiers": {"birth_date": {"hierarchy": "date", "levels": ["year"]}},
    }
    data["profiles"]["leaky"] = {**data["profiles"]["members_k5"], "columns": ["member_id"]}
    data["profiles"]["leaky"]["quasi_identifiers"] = {"member_id": {"hierarchy": "category"}}
    data["consumers"]["research-team"]["epsilon_budget"] = 1.5
    path = tmp_path / "exports.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _export(lake: Path, exports: Path, profile: str, out: Path) -> int:
    return main(
        [
            "export",
            *("--client", "acme", "--dataset", "members", "--profile", profile),
            *("--out", str(out), "--reason", "INC-17 vendor extract", "--exports", str(exports)),
            *("--lake-root", str(lake), "--clients-dir", str(REPO / "clients")),
        ]
    )


def _events(lake: Path) -> list[dict[str, object]]:
    return DeltaRsEngine().read(pii_events_path(lake)).to_pylist()


def test_k_export_writes_private_neutralised_files_and_audits(
    silver_lake: Callable[[pl.DataFrame], Path],
    frame: pl.DataFrame,
    exports: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = frame.with_columns(
        pl.when(pl.col("plan_code") == "BRONZE")
        .then(pl.lit(FORMULA))
        .otherwise("plan_code")
        .alias("plan_code")
    )
    lake = silver_lake(data)
    out = tmp_path / "out"
    assert _export(lake, exports, "members_k5", out) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["k_achieved"] >= report["k"] == 5
    assert report["rows_in"] == 600 == report["rows_out"] + report["rows_suppressed"]
    parquet, csv_file, report_file = (out / name for name in report["files"])
    for path in (parquet, csv_file, report_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(report_file.read_text(encoding="utf-8"))["levels"] == report["levels"]
    written = pl.read_parquet(parquet)
    assert written.group_by(QUASI.split(",")).len()["len"].min() >= 5  # type: ignore[operator]
    with csv_file.open(encoding="utf-8", newline="") as handle:
        plans = {row["plan_code"] for row in csv.DictReader(handle)}
    assert "'" + FORMULA in plans and FORMULA not in plans
    assert FORMULA in set(written["plan_code"])  # Parquet keeps the value as it is
    (event,) = _events(lake)
    assert (event["event"], event["status"], event["rows"]) == ("export", "SUCCESS", written.height)
    detail = json.loads(str(event["detail"]))
    assert detail["profile"] == "members_k5" and detail["k_achieved"] >= 5
    member_ids = set(frame["member_id"])
    assert not any(str(v) in member_ids for v in event.values())


def test_refused_and_identifying_exports_are_audited_and_write_nothing(
    silver_lake: Callable[[pl.DataFrame], Path],
    frame: pl.DataFrame,
    exports: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = silver_lake(frame)
    out = tmp_path / "out"
    assert _export(lake, exports, "strict", out) == 1
    assert "column 'birth_date'" in capsys.readouterr().err
    assert _export(lake, exports, "leaky", out) == 1
    assert "'token' column" in capsys.readouterr().err
    assert not out.exists() or not list(out.iterdir())
    events = _events(lake)
    assert [e["status"] for e in events] == ["FAILED", "FAILED"]
    assert any("birth_date" in str(e["error"]) for e in events)


def test_dp_export_charges_the_budget_then_refuses(
    silver_lake: Callable[[pl.DataFrame], Path],
    frame: pl.DataFrame,
    exports: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = silver_lake(frame)
    assert _export(lake, exports, "members_by_plan", tmp_path / "out") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["epsilon"], report["spent_before"], report["budget"]) == (1.0, 0.0, 1.5)
    assert _export(lake, exports, "members_by_plan", tmp_path / "out") == 1  # 1 + 1 > 1.5
    assert "has spent epsilon 1 of 1.5" in capsys.readouterr().err
    charges = DeltaRsEngine().read(ledger_path(lake)).to_pylist()
    assert [(c["consumer"], c["epsilon"]) for c in charges] == [("research-team", 1.0)]
    assert sorted(str(e["status"]) for e in _events(lake)) == ["FAILED", "SUCCESS"]


def test_check_on_silver_and_on_the_export(
    silver_lake: Callable[[pl.DataFrame], Path],
    frame: pl.DataFrame,
    exports: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lake = silver_lake(frame)
    base = ["export", "--check", "--client", "acme", "--dataset", "members", "--quasi", QUASI]
    where = ["--lake-root", str(lake), "--clients-dir", str(REPO / "clients"), "--json"]
    assert main([*base, *where]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert raw["min_class"] == 1 and raw["unique_share"] > 0.9
    assert _export(lake, exports, "members_k5", tmp_path / "out") == 0
    files = json.loads(capsys.readouterr().out)["files"]
    assert main([*base, *where, "--file", str(tmp_path / "out" / files[1])]) == 0
    assert json.loads(capsys.readouterr().out)["min_class"] >= 5
    assert main([*base, *where[:-1]]) == 0
    assert "unique rows" in capsys.readouterr().out


def test_export_needs_profile_out_and_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--client", "acme", "--dataset", "members"]) == 1
    assert "--profile, --out, --reason" in capsys.readouterr().err
