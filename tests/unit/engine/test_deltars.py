"""What only the delta-rs engine does: its commit metadata, the partition literal that lets
two clients merge at once, app ids of commits written before they went into the metadata.
The protocol itself is tested for every engine in ``test_protocol.py``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from pyspark.sql import SparkSession

from lakehouse.engine.base import MergeSpec, TableEngine
from lakehouse.engine.deltars import APP_ID_KEY, DeltaRsEngine

ENGINE = DeltaRsEngine()
SCHEMA = (
    "client_id string, k string, _row_hash string, _creation_date date, _sequence int, v string"
)
D = dt.date(2026, 1, 15)


def _spec(client: str, app_id: str | None = None) -> MergeSpec:
    return MergeSpec(
        "client_id", client, ["k"], "_row_hash", ["_creation_date", "_sequence"], app_id
    )


def test_engine_satisfies_the_protocol() -> None:
    table_engine: TableEngine = ENGINE
    assert table_engine.name == "delta-rs"


def test_app_id_is_a_marker_and_commit_metadata(spark: SparkSession, tmp_path: Path) -> None:
    silver = tmp_path / "silver"
    rows = spark.createDataFrame([("acme", "1", "h1", D, 0, "a")], SCHEMA)
    ENGINE.merge_scd1(silver, rows, _spec("acme", "acme:f1"), retries=0, metadata={"run_id": "r"})
    table = DeltaTable(str(silver))
    assert table.transaction_version("acme:f1") == 1
    assert table.history(1)[0][APP_ID_KEY] == "acme:f1"
    assert table.history(1)[0]["run_id"] == "r"


def test_merges_name_the_partition_literal(spark: SparkSession, tmp_path: Path) -> None:
    """The literal is what lets merges into different partitions commit concurrently."""
    silver = tmp_path / "silver"
    rows = spark.createDataFrame([("globex", "1", "g1", D, 0, "x")], SCHEMA)
    ENGINE.merge_scd1(silver, rows, _spec("globex"), retries=0)
    predicate = DeltaTable(str(silver)).history(1)[0]["operationParameters"]["predicate"]
    assert predicate == "client_id = 'globex'"


def test_committed_finds_commits_without_the_app_id_in_their_metadata(tmp_path: Path) -> None:
    """Tables written before the app id went into the metadata: the marker's first version."""
    bronze = tmp_path / "bronze"
    data = pa.table({"client_id": ["acme"], "n": [1]})
    for index in range(5):
        write_deltalake(
            str(bronze),
            data,
            mode="append",
            commit_properties=CommitProperties(
                app_transactions=[Transaction(f"file-{index}", 1)] if index in (0, 3) else None,
                custom_metadata={"run_id": f"r{index}"},
            ),
        )
    for app_id, version in (("file-0", 0), ("file-3", 3)):
        commit = ENGINE.committed(bronze, app_id)
        assert commit is not None
        assert (commit.version, commit.app_id, commit.metadata) == (
            version,
            app_id,
            {"run_id": f"r{version}"},
        )
    assert ENGINE.committed(bronze, "file-1") is None
