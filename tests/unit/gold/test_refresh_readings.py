"""``refresh_gold`` for readings_hourly and readings_trend against real Delta tables (delta-rs):
first build, exactly once, only the touched hour or member recomputed, updates and deletes,
a purged feed, forced clients, no source yet, and the ``lakehouse gold`` command."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse.cli import main
from lakehouse.config.gold import GoldSettings, ReadingsHourlySpec, ReadingsTrendSpec
from lakehouse.config.models import Settings
from lakehouse.engine import TableEngine, get_engine
from lakehouse.engine.base import CDF_ON
from lakehouse.gold import refresh_gold, watermark

DAY = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
HOURLY, TREND = "readings_hourly", "readings_trend"

# (client, member token, type, day, hour, minute, value, is_outlier)
Reading = tuple[str, str, str, int, int, int, float, bool]


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(
        lake_root=tmp_path / "lake",
        landing_dir=tmp_path / "landing",
        gold=GoldSettings(
            readings_hourly=ReadingsHourlySpec(),
            readings_trend=ReadingsTrendSpec(window_days=7, smooth_days=2, min_days=3),
        ),
    )


@pytest.fixture()
def engine(settings: Settings) -> TableEngine:
    return get_engine(settings)


def _readings(*rows: Reading) -> pa.Table:
    """silver/readings rows, as the ingest's contract has them."""
    units = {"glucose": "mg/dL", "heart_rate": "bpm", "blood_pressure": "mmHg"}
    return pa.Table.from_pylist(
        [
            {
                "client_id": c,
                "member_id": m,
                "device_id": f"dev-{m}",
                "reading_type": kind,
                "value": value,
                "diastolic": 80.0 if kind == "blood_pressure" else None,
                "unit": units[kind],
                "measured_at": DAY + dt.timedelta(days=day, hours=hour, minutes=minute),
                "typical_flag": None,
                "is_outlier": outlier,
                "outlier_score": None,
                "outlier_method": "iqr",
                "member_known": True,
                "_row_hash": f"h{value}",
                "_creation_date": (DAY + dt.timedelta(days=day)).date(),
                "_sequence": 0,
                "_source_file": "readings_20260110.csv",
                "_run_id": "ingest-1",
                "_updated_at": DAY,
            }
            for c, m, kind, day, hour, minute, value, outlier in rows
        ],
        pa.schema(
            [
                ("client_id", pa.string()),
                ("member_id", pa.string()),
                ("device_id", pa.string()),
                ("reading_type", pa.string()),
                ("value", pa.float64()),
                ("diastolic", pa.float64()),
                ("unit", pa.string()),
                ("measured_at", pa.timestamp("us", tz="UTC")),
                ("typical_flag", pa.string()),
                ("is_outlier", pa.bool_()),
                ("outlier_score", pa.float64()),
                ("outlier_method", pa.string()),
                ("member_known", pa.bool_()),
                ("_row_hash", pa.string()),
                ("_creation_date", pa.date32()),
                ("_sequence", pa.int32()),
                ("_source_file", pa.string()),
                ("_run_id", pa.string()),
                ("_updated_at", pa.timestamp("us", tz="UTC")),
            ]
        ),
    )


def _silver(settings: Settings) -> Path:
    return settings.table_path("silver", "readings")


def _append(settings: Settings, engine: TableEngine, *rows: Reading) -> None:
    engine.append(
        _silver(settings), _readings(*rows), partition_by=["client_id"], configuration=CDF_ON
    )


def _gold(settings: Settings, table: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Gold rows by key (hourly: client, member, type, day, hour; trend: client, member, type)."""
    rows = DeltaTable(str(settings.gold_path(table))).to_pyarrow_table().to_pylist()
    if table == TREND:
        return {(r["client_id"], r["member_id"], r["reading_type"]): r for r in rows}
    return {
        (r["client_id"], r["member_id"], r["reading_type"], r["hour"].day, r["hour"].hour): r
        for r in rows
    }


def _results(settings: Settings, engine: TableEngine, run_id: str, **kwargs: Any) -> dict[str, Any]:
    return {r.table: r for r in refresh_gold(settings, engine, run_id=run_id, **kwargs)}


def _last_commit(settings: Settings, engine: TableEngine, table: str) -> tuple[Any, ...]:
    commit = engine.history(settings.gold_path(table), limit=1)[0]
    return commit.operation, commit.inserted, commit.updated, commit.deleted


@pytest.fixture()
def built(settings: Settings, engine: TableEngine) -> Settings:
    _append(
        settings,
        engine,
        *(("a", "m1", "glucose", d, 8, 15, 150.0 - 5 * d, False) for d in range(5)),
        ("a", "m1", "glucose", 4, 9, 0, 130.0, False),
        ("a", "m1", "heart_rate", 4, 9, 30, 66.0, False),
        ("a", "m2", "blood_pressure", 4, 9, 0, 128.0, True),
    )
    _append(settings, engine, ("b", "m3", "glucose", 0, 7, 0, 99.0, False))  # silver v1
    results = _results(settings, engine, "r1")
    for table in (HOURLY, TREND):
        result = results[table]
        assert (result.mode, result.reason, result.clients) == ("full", "first build", ("a", "b"))
        assert (result.source_to, result.gold_version) == (1, 0)
    return settings


def test_first_build_then_a_rerun_commits_nothing(built: Settings, engine: TableEngine) -> None:
    hourly = _gold(built, HOURLY)
    assert len(hourly) == 9
    assert hourly[("a", "m1", "glucose", 14, 9)]["readings"] == 1
    bp = hourly[("a", "m2", "blood_pressure", 14, 9)]
    assert (bp["outliers"], bp["mean_diastolic"], bp["unit"]) == (1, 80.0, "mmHg")
    trend = _gold(built, TREND)
    assert trend[("a", "m1", "glucose")]["trend"] == "improving"  # falling glucose
    assert trend[("a", "m1", "glucose")]["slope"] == pytest.approx(-5.0, abs=1.0)
    assert trend[("a", "m2", "blood_pressure")]["outliers_excluded"] == 1
    assert trend[("b", "m3", "glucose")]["trend"] == "insufficient"
    # Privacy: the member token only; no device id.
    for table in (HOURLY, TREND):
        assert "device_id" not in DeltaTable(str(built.gold_path(table))).schema().to_arrow().names
        assert watermark(built, engine, table) == 1
    again = _results(built, engine, "r2")
    assert {t: (r.mode, r.committed) for t, r in again.items()} == {
        HOURLY: ("current", False),
        TREND: ("current", False),
    }
    assert engine.version(built.gold_path(HOURLY)) == engine.version(built.gold_path(TREND)) == 0


def test_a_late_reading_recomputes_only_its_hour(built: Settings, engine: TableEngine) -> None:
    before = _gold(built, HOURLY)
    _append(built, engine, ("a", "m1", "glucose", 2, 8, 50, 200.0, False))  # silver v2
    results = _results(built, engine, "r2")
    hourly = results[HOURLY]
    assert (hourly.mode, hourly.source_from, hourly.source_to) == ("incremental", 2, 2)
    assert (hourly.clients, hourly.rows, hourly.gold_version) == (("a",), 1, 1)
    # One group rewritten in one commit, which records the watermark.
    assert _last_commit(built, engine, HOURLY) == ("MERGE", 0, 1, 0)
    commit = engine.history(built.gold_path(HOURLY), limit=1)[0]
    assert commit.metadata["gold_source_version"] == "2" and commit.metadata["run_id"] == "r2"
    after = _gold(built, HOURLY)
    late = after.pop(("a", "m1", "glucose", 12, 8))
    assert (late["readings"], late["max_value"], late["source_version"]) == (2, 200.0, 2)
    del before[("a", "m1", "glucose", 12, 8)]
    assert after == before  # every other hour as it was, source_version 1 included
    # The trend recomputed the member's glucose only (still one group).
    assert results[TREND].rows == 1
    assert _last_commit(built, engine, TREND) == ("MERGE", 0, 1, 0)
    rerun = _results(built, engine, "r3")
    assert (rerun[HOURLY].mode, rerun[HOURLY].committed) == ("current", False)
    assert engine.version(built.gold_path(HOURLY)) == 1


def test_a_reading_in_a_new_hour_inserts_one_group(built: Settings, engine: TableEngine) -> None:
    _append(built, engine, ("b", "m3", "glucose", 0, 23, 5, 101.0, False))
    assert _results(built, engine, "r2")[HOURLY].clients == ("b",)
    assert _last_commit(built, engine, HOURLY) == ("MERGE", 1, 0, 0)
    assert _gold(built, HOURLY)[("b", "m3", "glucose", 10, 23)]["mean_value"] == 101.0


def test_an_updated_value_changes_its_group(built: Settings, engine: TableEngine) -> None:
    DeltaTable(str(_silver(built))).update(
        predicate="member_id = 'm1' AND reading_type = 'heart_rate'", updates={"value": "90.0"}
    )
    results = _results(built, engine, "r2")
    assert results[HOURLY].rows == 1 and results[TREND].rows == 1
    assert _gold(built, HOURLY)[("a", "m1", "heart_rate", 14, 9)]["mean_value"] == 90.0
    assert _last_commit(built, engine, HOURLY) == ("MERGE", 0, 1, 0)


def test_a_change_that_leaves_the_groups_equal_commits_nothing(
    built: Settings, engine: TableEngine
) -> None:
    DeltaTable(str(_silver(built))).update(
        predicate="member_id = 'm3'", updates={"device_id": "'dev-new'"}
    )
    results = _results(built, engine, "r2")
    assert {t: (r.mode, r.clients, r.committed) for t, r in results.items()} == {
        HOURLY: ("incremental", ("b",), False),
        TREND: ("incremental", ("b",), False),
    }
    assert watermark(built, engine, HOURLY) == 2  # the checkpoint moved on
    assert _results(built, engine, "r3")[HOURLY].mode == "current"


def test_deleted_rows_delete_their_group(built: Settings, engine: TableEngine) -> None:
    engine.delete(_silver(built), "member_id = 'm1' AND reading_type = 'heart_rate'")
    results = _results(built, engine, "r2")
    assert results[HOURLY].mode == "incremental"
    assert _last_commit(built, engine, HOURLY) == ("MERGE", 0, 0, 1)
    assert ("a", "m1", "heart_rate", 14, 9) not in _gold(built, HOURLY)
    assert ("a", "m1", "heart_rate") not in _gold(built, TREND)


def test_an_erased_member_with_a_purged_feed_is_removed_by_a_full_recompute(
    built: Settings, engine: TableEngine
) -> None:
    silver = _silver(built)
    engine.delete(silver, "member_id = 'm1'")  # as erasure does: delete, then purge the feed
    engine.vacuum_full(silver)
    engine.purge_history(silver)
    results = _results(built, engine, "r2")
    for table in (HOURLY, TREND):
        assert results[table].mode == "full" and "unavailable" in (results[table].reason or "")
        assert results[table].clients == ("a", "b")
        assert {key[1] for key in _gold(built, table)} == {"m2", "m3"}


def test_forced_clients_are_recomputed_without_changes(
    built: Settings, engine: TableEngine
) -> None:
    # Erasure's call: the member's rows were deleted and the feed vacuumed, then the client
    # is forced (here gold is current, so only forcing recomputes anything).
    DeltaTable(str(built.gold_path(HOURLY))).delete("member_id = 'm2'")  # gold out of step
    results = _results(built, engine, "r2", force_clients=["a"])
    hourly = results[HOURLY]
    assert (hourly.mode, hourly.clients, hourly.rows) == ("incremental", ("a",), 1)
    assert ("a", "m2", "blood_pressure", 14, 9) in _gold(built, HOURLY)
    assert (results[TREND].clients, results[TREND].committed) == (("a",), False)


def test_a_configured_table_without_silver_reports_no_source(
    settings: Settings, engine: TableEngine
) -> None:
    results = _results(settings, engine, "r1")
    assert {t: (r.mode, r.committed) for t, r in results.items()} == {
        HOURLY: ("no_source", False),
        TREND: ("no_source", False),
    }
    assert not engine.exists(settings.gold_path(HOURLY))


def test_the_gold_command_refreshes_one_table(
    built: Settings, engine: TableEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _append(built, engine, ("b", "m3", "glucose", 1, 7, 0, 97.0, False))
    conf = Path(__file__).parents[3] / "conf" / "lakehouse.yaml"  # the shipped defaults
    lake = ["--conf", str(conf), "--lake-root", str(built.lake_root)]
    assert main(["gold", *lake, "--table", HOURLY, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["table"], row["mode"], row["clients"]) == (HOURLY, "incremental", ["b"])
    assert watermark(built, engine, TREND) == 1  # not asked for: untouched
