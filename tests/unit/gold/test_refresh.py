"""``refresh_gold`` against real Delta tables (delta-rs, no Spark): first build, exactly once,
only changed clients recomputed, recomputation after a vacuumed feed, audit and locks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse.config.gold import GoldSettings, MembersSummarySpec
from lakehouse.config.models import Settings
from lakehouse.engine import TableEngine, get_engine
from lakehouse.engine.base import CDF_ON
from lakehouse.errors import LakehouseError, LockBusyError
from lakehouse.gold import gold_audit_path, refresh_gold, watermark
from lakehouse.ingest.lock import ClientLock

D = dt.date(2026, 1, 15)


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(
        lake_root=tmp_path / "lake",
        landing_dir=tmp_path / "landing",
        gold=GoldSettings(members_summary=MembersSummarySpec(k=2)),
    )


@pytest.fixture()
def engine(settings: Settings) -> TableEngine:
    return get_engine(settings)


def _members(client: str, *rows: tuple[str, str, str]) -> pa.Table:
    """Silver rows of ``client``: (member token, plan, birth year)."""
    return pa.table(
        {
            "client_id": pa.array([client] * len(rows), pa.string()),
            "member_id": pa.array([r[0] for r in rows], pa.string()),
            "plan_code": pa.array([r[1] for r in rows], pa.string()),
            "birth_date": pa.array([r[2] for r in rows], pa.string()),
            "phone": pa.array(["******0000"] * len(rows), pa.string()),
            "_creation_date": pa.array([D] * len(rows), pa.date32()),
        }
    )


def _silver(settings: Settings) -> Path:
    return settings.table_path("silver", "members")


def _append(settings: Settings, engine: TableEngine, table: pa.Table) -> None:
    engine.append(_silver(settings), table, partition_by=["client_id"], configuration=CDF_ON)


def _gold(settings: Settings) -> dict[tuple[str, str, str], int | None]:
    rows = DeltaTable(str(settings.gold_path("members_summary"))).to_pyarrow_table().to_pylist()
    return {(r["client_id"], r["plan_code"], r["age_band"]): r["members"] for r in rows}


def _gold_files(settings: Settings, client: str) -> set[str]:
    files = DeltaTable(str(settings.gold_path("members_summary"))).file_uris()
    return {f for f in files if f"client_id={client}" in f}


@pytest.fixture()
def built(settings: Settings, engine: TableEngine) -> Settings:
    _append(settings, engine, _members("a", ("a1", "GOLD", "1980"), ("a2", "GOLD", "1981")))
    _append(settings, engine, _members("b", ("b1", "GOLD", "1980"), ("b2", "GOLD", "1950")))
    [result] = refresh_gold(settings, engine, run_id="r1")
    assert (result.mode, result.reason, result.clients) == ("full", "first build", ("a", "b"))
    assert result.source_to == 1 and result.gold_version == 0
    return settings


def test_first_build_then_a_rerun_commits_nothing(built: Settings, engine: TableEngine) -> None:
    assert _gold(built) == {
        ("a", "GOLD", "40-49"): 2,
        ("b", "GOLD", "40-49"): None,  # one member < k = 2
        ("b", "GOLD", "70-79"): None,
    }
    assert watermark(built, engine, "members_summary") == 1
    [again] = refresh_gold(built, engine, run_id="r2")
    assert (again.mode, again.committed) == ("current", False)
    assert engine.version(built.gold_path("members_summary")) == 0
    audit = engine.read(gold_audit_path(built)).to_pylist()
    assert [(r["run_id"], r["mode"], json.loads(r["clients"])) for r in audit] == [
        ("r1", "full", ["a", "b"])
    ]


def test_only_the_changed_client_is_recomputed(built: Settings, engine: TableEngine) -> None:
    a_files = _gold_files(built, "a")
    _append(built, engine, _members("b", ("b3", "GOLD", "1982")))  # silver version 2
    [result] = refresh_gold(built, engine, run_id="r2")
    assert (result.mode, result.source_from, result.source_to) == ("incremental", 2, 2)
    assert result.clients == ("b",) and result.gold_version == 1
    assert _gold(built)[("b", "GOLD", "40-49")] == 2
    assert _gold_files(built, "a") == a_files  # a's rows were not rewritten
    commit = engine.history(built.gold_path("members_summary"), limit=1)[0]
    assert commit.metadata["gold_source_version"] == "2" and commit.metadata["run_id"] == "r2"
    assert refresh_gold(built, engine, run_id="r3")[0].mode == "current"


def test_a_change_that_leaves_the_summary_equal_commits_nothing(
    built: Settings, engine: TableEngine
) -> None:
    DeltaTable(str(_silver(built))).update(
        predicate="member_id = 'a1'", updates={"phone": "'******1111'"}
    )
    [result] = refresh_gold(built, engine, run_id="r2")
    assert (result.mode, result.clients, result.committed) == ("incremental", ("a",), False)
    assert engine.version(built.gold_path("members_summary")) == 0
    assert watermark(built, engine, "members_summary") == 2  # the checkpoint moved on
    assert refresh_gold(built, engine, run_id="r3")[0].mode == "current"


def test_a_vacuumed_change_feed_recomputes_every_client(
    built: Settings, engine: TableEngine
) -> None:
    silver = _silver(built)
    engine.delete(silver, "member_id = 'a2'")  # its change file is then vacuumed
    engine.vacuum_full(silver)
    engine.purge_history(silver)
    [result] = refresh_gold(built, engine, run_id="r2")
    assert result.mode == "full" and "unavailable" in (result.reason or "")
    assert result.clients == ("a", "b")
    assert _gold(built)[("a", "GOLD", "40-49")] is None  # one member left


def test_a_client_without_silver_rows_leaves_gold(built: Settings, engine: TableEngine) -> None:
    engine.delete(_silver(built), "client_id = 'b'")
    [result] = refresh_gold(built, engine, run_id="r2")
    assert result.clients == ("b",) and result.rows == 0
    assert {key[0] for key in _gold(built)} == {"a"}


def test_forced_clients_are_recomputed_without_changes(
    built: Settings, engine: TableEngine
) -> None:
    [result] = refresh_gold(built, engine, run_id="r2", force_clients=["a"])
    assert (result.mode, result.clients, result.committed) == ("incremental", ("a",), False)


def test_full_and_unknown_tables(built: Settings, engine: TableEngine) -> None:
    [result] = refresh_gold(built, engine, run_id="r2", full=True)
    assert (result.mode, result.reason, result.committed) == ("full", "requested (--full)", False)
    with pytest.raises(LakehouseError, match="not configured: readings_hourly") as raised:
        refresh_gold(built, engine, run_id="r3", tables=["readings_hourly"])
    assert "members_summary" in (raised.value.fix or "")


def test_no_silver_no_gold(settings: Settings, engine: TableEngine) -> None:
    [result] = refresh_gold(settings, engine, run_id="r1")
    assert (result.mode, result.committed) == ("no_source", False)
    assert not engine.exists(settings.gold_path("members_summary"))


def test_one_refresh_of_a_table_at_a_time(built: Settings, engine: TableEngine) -> None:
    with (
        ClientLock(built.lock_dir, "gold-members_summary", run_id="other"),
        pytest.raises(LockBusyError, match="gold-members_summary"),
    ):
        refresh_gold(built, engine, run_id="r2")
