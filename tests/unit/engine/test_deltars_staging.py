"""delta-rs ``append_frame``: Spark writes the files and delta-rs commits them
(``engine/deltars_staging.py``), or, for a frame the caller says is small (``rows=``), the
frame is collected and delta-rs writes it. Both paths must give readers the same table: every
test runs on both, and one mixes them in one table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.engine.deltars import SMALL_FRAME_ROWS, DeltaRsEngine
from lakehouse.engine.deltars_staging import STAGING_DIR

ENGINE = DeltaRsEngine()


@pytest.fixture(params=["spark-write", "collected"])
def rows(request: pytest.FixtureRequest) -> Callable[[int], int | None]:
    """The ``rows=`` hint a caller passes: none (Spark writes) or the frame's row count."""
    return (lambda n: None) if request.param == "spark-write" else (lambda n: n)


def _no_staging_left(table: Path) -> bool:
    return not (table / STAGING_DIR).exists() or not any((table / STAGING_DIR).iterdir())


def _frame(spark: SparkSession, rows: int, client: str = "acme") -> DataFrame:
    return spark.range(rows).select(
        F.lit(client).alias("client_id"),
        F.format_string("AC%07d", "id").alias("member_id"),
        F.col("id").cast("int").alias("n"),
        F.lit(dt.date(2026, 1, 5)).alias("day"),
        F.lit(dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)).cast("timestamp").alias("at"),
        F.array(F.lit("plan_code:isin")).alias("_reasons"),
    )


def test_append_frame_commits_once_with_stats(
    spark: SparkSession, tmp_path: Path, rows: Callable[[int], int | None]
) -> None:
    table = tmp_path / "t"
    df = _frame(spark, 1_000).repartition(3)
    hint = rows(1_000)
    assert ENGINE.append_frame(
        table,
        df,
        partition=("client_id", "acme"),
        app_id="x",
        metadata={"run_id": "r1"},
        rows=hint,
    )
    assert not ENGINE.append_frame(
        table, df, partition=("client_id", "acme"), app_id="x", rows=hint
    )  # replay
    delta = DeltaTable(str(table))
    assert delta.version() == 0 and delta.transaction_version("x") is not None
    assert delta.history(1)[0]["run_id"] == "r1"
    data = ENGINE.read(table)
    assert data.num_rows == 1_000
    assert sorted(data.column("member_id").to_pylist())[:2] == ["AC0000000", "AC0000001"]
    assert data.column("at").to_pylist()[0] == dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    assert data.column("_reasons").to_pylist()[0] == ["plan_code:isin"]
    actions = pa.table(delta.get_add_actions(flatten=True))
    assert sum(actions.column("num_records").to_pylist()) == 1_000
    assert min(actions.column("min.member_id").to_pylist()) == "AC0000000"
    assert set(actions.column("partition.client_id").to_pylist()) == {"acme"}
    assert _no_staging_left(table)


def test_new_columns_are_added_nullable(
    spark: SparkSession, tmp_path: Path, rows: Callable[[int], int | None]
) -> None:
    table = tmp_path / "t"
    ENGINE.append_frame(table, _frame(spark, 5), partition=("client_id", "acme"), rows=rows(5))
    ENGINE.append_frame(
        table,
        _frame(spark, 5, "globex").withColumn("extra", F.lit(1)),
        partition=("client_id", "globex"),
        rows=rows(5),
    )
    schema = DeltaTable(str(table)).schema().to_arrow()
    assert all(schema.field(i).nullable for i in range(len(schema.names)))
    extra = ENGINE.read(table, columns=["client_id", "extra"]).to_pylist()
    assert {(r["client_id"], r["extra"]) for r in extra} == {("acme", None), ("globex", 1)}


def test_rows_outside_the_partition_fail_the_write(
    spark: SparkSession, tmp_path: Path, rows: Callable[[int], int | None]
) -> None:
    table = tmp_path / "t"
    mixed = _frame(spark, 3).unionByName(_frame(spark, 2, "globex"))
    mixed = mixed.withColumn("client_id", F.col("client_id"))  # a column, not a literal
    with pytest.raises(Exception, match="row outside partition client_id=acme"):
        ENGINE.append_frame(table, mixed, partition=("client_id", "acme"), app_id="m", rows=rows(5))
    assert not ENGINE.exists(table)
    assert _no_staging_left(table)  # the failed write left nothing behind
    assert ENGINE.append_frame(
        table,
        mixed.where("client_id = 'globex'"),
        partition=("client_id", "globex"),
        rows=rows(2),
    )
    assert ENGINE.read(table).column("client_id").to_pylist() == ["globex", "globex"]


def test_empty_frame_commits_nothing(
    spark: SparkSession, tmp_path: Path, rows: Callable[[int], int | None]
) -> None:
    table = tmp_path / "t"
    assert not ENGINE.append_frame(
        table, _frame(spark, 0), partition=("client_id", "acme"), app_id="e", rows=rows(0)
    )
    assert not ENGINE.exists(table)


def test_read_frame_reads_only_the_snapshot(spark: SparkSession, tmp_path: Path) -> None:
    table = tmp_path / "t"
    ENGINE.append_frame(table, _frame(spark, 10), partition=("client_id", "acme"))
    ENGINE.append_frame(table, _frame(spark, 4, "globex"), partition=("client_id", "globex"))
    # A crashed writer's file: in the partition folder, never committed.
    stray = table / "client_id=acme" / "stray.parquet"
    stray.write_bytes((next((table / "client_id=acme").glob("*.parquet"))).read_bytes())
    frame = ENGINE.read_frame(spark, table, columns=["member_id"], partition=("client_id", "acme"))
    assert frame is not None and frame.count() == 10
    assert ENGINE.read_frame(spark, table, columns=["n"], partition=("client_id", "x")) is None


def test_both_paths_fill_one_table_alike(spark: SparkSession, tmp_path: Path) -> None:
    """A client's big file is written by Spark, its small ones collected: one schema, and
    the rows read back the same whichever path wrote them."""
    table = tmp_path / "t"
    assert ENGINE.append_frame(table, _frame(spark, 20), partition=("client_id", "acme"))
    schema = DeltaTable(str(table)).schema().to_arrow()
    assert ENGINE.append_frame(
        table, _frame(spark, 20, "globex"), partition=("client_id", "globex"), rows=20
    )
    assert DeltaTable(str(table)).schema().to_arrow() == schema
    data = ENGINE.read(table).sort_by([("client_id", "ascending"), ("member_id", "ascending")])
    acme, globex = (
        data.filter(pc.equal(data.column("client_id"), c)).drop(["client_id"])
        for c in ("acme", "globex")
    )
    assert acme.to_pylist() == globex.to_pylist()


def test_only_frames_the_caller_says_are_small_are_collected(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collected: list[int] = []
    frame_class = type(_frame(spark, 1))  # PySpark's classic DataFrame, not the interface
    to_arrow = frame_class.toArrow

    def counting(self: DataFrame) -> pa.Table:
        table = to_arrow(self)
        collected.append(table.num_rows)
        return table

    monkeypatch.setattr(frame_class, "toArrow", counting)
    table = tmp_path / "t"
    ENGINE.append_frame(table, _frame(spark, 5), partition=("client_id", "acme"))
    ENGINE.append_frame(table, _frame(spark, 6), partition=("client_id", "acme"), rows=6)
    big = SMALL_FRAME_ROWS + 1
    ENGINE.append_frame(table, _frame(spark, big), partition=("client_id", "acme"), rows=big)
    assert collected == [6]
    assert ENGINE.read(table).num_rows == 5 + 6 + big
