"""The ``TableEngine`` protocol against real Delta tables under tmp_path, for every engine:
idempotent appends, typed commit records, SCD1 merges from Spark frames, CDF, reads.

Only protocol methods are called; the Delta table itself is inspected with ``deltalake``
(the format, whichever engine wrote it). Engine-specific tests live in ``test_<engine>.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from lakehouse.engine.base import CommitRecord, MergeResult, MergeSpec, TableEngine
from lakehouse.errors import EngineError

D = dt.date(2026, 1, 15)
ORDER = ["_creation_date", "_sequence"]
CDF_META = ["_change_type", "_commit_version", "_commit_timestamp"]
SCHEMA = (
    "client_id string, k string, _row_hash string, _creation_date date, _sequence int, v string"
)

# (client_id, k, _row_hash, _creation_date, _sequence, v)
Row = tuple[str, str, str, dt.date, int, str]


def _arrow(*rows: Row) -> pa.Table:
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * 6
    return pa.table(
        {
            "client_id": pa.array(columns[0], pa.string()),
            "k": pa.array(columns[1], pa.string()),
            "_row_hash": pa.array(columns[2], pa.string()),
            "_creation_date": pa.array(columns[3], pa.date32()),
            "_sequence": pa.array(columns[4], pa.int32()),
            "v": pa.array(columns[5], pa.string()),
        }
    )


def _spec(client: str = "acme", app_id: str | None = None) -> MergeSpec:
    return MergeSpec(
        partition_column="client_id",
        partition_value=client,
        key_columns=["k"],
        hash_column="_row_hash",
        order_columns=ORDER,
        app_id=app_id,
    )


def _rows(table: pa.Table, *columns: str) -> list[tuple[Any, ...]]:
    """Rows as tuples of ``columns`` (default: the source columns), sorted."""
    names = columns or ("client_id", "k", "_row_hash", "_creation_date", "_sequence", "v")
    data = table.select(list(names)).to_pylist()
    return sorted(tuple(row[n] for n in names) for row in data)


@pytest.fixture()
def source(spark: SparkSession) -> Any:
    """``source(*rows)``: the rows as a Spark frame, the type merges take."""

    def make(*rows: Row) -> DataFrame:
        return spark.createDataFrame(list(rows), SCHEMA)

    return make


@pytest.fixture()
def silver(tmp_path: Path) -> Path:
    return tmp_path / "silver" / "members"


@pytest.fixture()
def seeded(engine: TableEngine, silver: Path, source: Any) -> Path:
    """Version 0 creates the table, version 1 inserts k1 and k2 as of (D, 1)."""
    result = engine.merge_scd1(
        silver,
        source(("acme", "1", "h1", D, 1, "a"), ("acme", "2", "h2", D, 1, "b")),
        _spec(),
        retries=0,
    )
    assert result == MergeResult(inserted=2, updated=0, version=1)
    return silver


def test_missing_table(engine: TableEngine, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert engine.exists(missing) is False
    assert engine.version(missing) is None
    assert engine.committed(missing, "app") is None
    assert engine.history(missing) == []
    with pytest.raises(EngineError, match="does not exist"):
        engine.read(missing)
    with pytest.raises(EngineError, match="does not exist"):
        engine.read_cdf(missing, starting_version=0)


# --- append: idempotent by app id -----------------------------------------------------------


def test_a_repeated_app_id_appends_nothing(engine: TableEngine, tmp_path: Path) -> None:
    bronze = tmp_path / "bronze"
    data = _arrow(("acme", "1", "h1", D, 0, "a"), ("acme", "2", "h2", D, 0, "b"))
    assert engine.committed(bronze, "acme:file-1") is None

    assert engine.append(bronze, data, partition_by=["client_id"], app_id="acme:file-1") is True
    assert engine.version(bronze) == 0
    assert engine.committed(bronze, "acme:file-2") is None

    assert engine.append(bronze, data, partition_by=["client_id"], app_id="acme:file-1") is False
    assert engine.version(bronze) == 0
    assert _rows(engine.read(bronze)) == _rows(data)
    assert len(engine.history(bronze)) == 1


def test_a_repeated_app_id_appends_no_frame(
    engine: TableEngine, tmp_path: Path, source: Any
) -> None:
    bronze = tmp_path / "bronze"
    df = source(("acme", "1", "h1", D, 0, "a"), ("acme", "2", "h2", D, 0, "b"))
    assert engine.append_frame(bronze, df, partition=("client_id", "acme"), app_id="f1") is True
    assert engine.append_frame(bronze, df, partition=("client_id", "acme"), app_id="f1") is False
    assert engine.version(bronze) == 0
    assert engine.read(bronze).num_rows == 2
    # The app id is the engine's to check: a plain append of the same rows adds them again.
    assert engine.append_frame(bronze, df, partition=("client_id", "acme")) is True
    assert engine.read(bronze).num_rows == 4


def test_other_app_ids_and_plain_appends_add_rows(engine: TableEngine, tmp_path: Path) -> None:
    bronze = tmp_path / "bronze"
    data = _arrow(("acme", "1", "h1", D, 0, "a"))
    assert engine.append(bronze, data, app_id="acme:file-1")
    assert engine.append(bronze, data, app_id="acme:file-2")
    assert engine.append(bronze, data)
    assert engine.append(bronze, data)
    assert engine.version(bronze) == 3
    assert engine.read(bronze).num_rows == 4
    first, second = engine.committed(bronze, "acme:file-1"), engine.committed(bronze, "acme:file-2")
    assert first is not None and second is not None
    assert (first.version, second.version) == (0, 1)


def test_append_partitions_configuration_and_metadata(engine: TableEngine, tmp_path: Path) -> None:
    bronze = tmp_path / "bronze"
    data = _arrow(("acme", "1", "h1", D, 0, "a"), ("globex", "1", "h9", D, 0, "z"))
    engine.append(
        bronze,
        data,
        partition_by=["client_id"],
        configuration={"delta.enableChangeDataFeed": "true"},
        metadata={"run_id": "run-7", "file": "acme_2026-01-15.csv"},
    )
    metadata = DeltaTable(str(bronze)).metadata()
    assert metadata.partition_columns == ["client_id"]
    assert metadata.configuration == {"delta.enableChangeDataFeed": "true"}
    assert (bronze / "client_id=acme").is_dir() and (bronze / "client_id=globex").is_dir()
    [commit] = engine.history(bronze)
    assert (commit.operation, commit.version, commit.app_id) == ("WRITE", 0, None)
    # Exactly what was passed: none of the engine's own bookkeeping.
    assert commit.metadata == {"run_id": "run-7", "file": "acme_2026-01-15.csv"}
    assert (commit.inserted, commit.updated, commit.deleted) == (2, None, None)


def test_append_merges_new_columns(engine: TableEngine, tmp_path: Path) -> None:
    bronze = tmp_path / "bronze"
    engine.append(bronze, _arrow(("acme", "1", "h1", D, 0, "a")))
    wider = _arrow(("acme", "2", "h2", D, 0, "b")).append_column("extra", pa.array(["x"]))
    engine.append(bronze, wider)
    table = engine.read(bronze)
    assert "extra" in table.schema.names
    assert _rows(table, "k", "extra") == [("1", None), ("2", "x")]


def test_append_failure_is_an_engine_error(engine: TableEngine, tmp_path: Path) -> None:
    bronze = tmp_path / "bronze"
    with pytest.raises(EngineError, match=r"append to .*bronze failed") as info:
        engine.append(bronze, _arrow(("acme", "1", "h1", D, 0, "a")), partition_by=["nope"])
    assert info.value.__cause__ is not None
    assert engine.exists(bronze) is False


# --- commit records -----------------------------------------------------------------------


def test_committed_is_the_record_of_the_app_ids_commit(engine: TableEngine, tmp_path: Path) -> None:
    bronze = tmp_path / "bronze"
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    engine.append(bronze, _arrow(("acme", "1", "h1", D, 0, "a")), metadata={"run_id": "r0"})
    engine.append(
        bronze,
        _arrow(("acme", "2", "h2", D, 0, "b"), ("acme", "3", "h3", D, 0, "c")),
        app_id="acme:file-2",
        metadata={"run_id": "r1", "source_file": "acme_2026-01-15.csv"},
    )
    engine.append(bronze, _arrow(("acme", "4", "h4", D, 0, "d")), metadata={"run_id": "r2"})
    commit = engine.committed(bronze, "acme:file-2")
    assert isinstance(commit, CommitRecord)
    assert (commit.version, commit.operation, commit.app_id) == (1, "WRITE", "acme:file-2")
    assert commit.metadata == {"run_id": "r1", "source_file": "acme_2026-01-15.csv"}
    assert commit.inserted == 2
    assert commit.timestamp is not None and commit.timestamp.tzinfo is not None
    assert before <= commit.timestamp <= dt.datetime.now(dt.UTC)
    assert engine.committed(bronze, "acme:file-9") is None
    assert [c.app_id for c in engine.history(bronze)] == [None, "acme:file-2", None]


def test_committed_finds_a_merge_and_its_counts(
    engine: TableEngine, seeded: Path, source: Any
) -> None:
    changes = source(("acme", "1", "h1-new", D, 2, "a2"), ("acme", "3", "h3", D, 2, "c"))
    engine.merge_scd1(seeded, changes, _spec(app_id="acme:f2"), retries=0, metadata={"n": "1"})
    commit = engine.committed(seeded, "acme:f2")
    assert commit is not None
    assert (commit.version, commit.operation, commit.app_id) == (2, "MERGE", "acme:f2")
    assert (commit.inserted, commit.updated, commit.deleted) == (1, 1, 0)
    assert commit.metadata == {"n": "1"}


def test_committed_is_the_newest_commit_of_an_app_id(
    engine: TableEngine, seeded: Path, source: Any
) -> None:
    """A backfill merges a file again under the same app id: its commit is the one to report."""
    spec = _spec(app_id="acme:f2")
    engine.merge_scd1(seeded, source(("acme", "3", "h3", D, 2, "c")), spec, retries=0)
    engine.merge_scd1(seeded, source(("acme", "3", "h3b", D, 3, "c2")), spec, retries=0)
    commit = engine.committed(seeded, "acme:f2")
    assert commit is not None
    assert (commit.version, commit.inserted, commit.updated) == (3, 0, 1)


def test_app_ids_survive_purge_history(engine: TableEngine, tmp_path: Path) -> None:
    bronze = tmp_path / "bronze"
    data = _arrow(("acme", "1", "h1", D, 0, "a"))
    engine.append(bronze, data, app_id="acme:file-1")
    engine.append(bronze, data, app_id="acme:file-2")
    assert engine.purge_history(bronze) >= 1
    # The record may be gone with the log; the replay must still be refused.
    assert engine.append(bronze, data, app_id="acme:file-1") is False
    assert engine.read(bronze).num_rows == 2


def test_delete_is_recorded_with_its_count(engine: TableEngine, seeded: Path) -> None:
    assert engine.delete(seeded, "k = '1'", metadata={"reason": "erasure"}) == 1
    latest = engine.history(seeded, limit=1)[0]
    assert (latest.version, latest.operation, latest.deleted) == (2, "DELETE", 1)
    assert latest.metadata == {"reason": "erasure"}


# --- merge_scd1 ---------------------------------------------------------------------------


def test_merge_creates_a_cdf_table_partitioned_by_client(engine: TableEngine, seeded: Path) -> None:
    metadata = DeltaTable(str(seeded)).metadata()
    assert metadata.partition_columns == ["client_id"]
    assert metadata.configuration == {"delta.enableChangeDataFeed": "true"}
    assert engine.version(seeded) == 1
    assert _rows(engine.read(seeded)) == [
        ("acme", "1", "h1", D, 1, "a"),
        ("acme", "2", "h2", D, 1, "b"),
    ]


def test_merge_of_an_empty_source_commits_nothing(
    engine: TableEngine, silver: Path, source: Any
) -> None:
    result = engine.merge_scd1(silver, source(), _spec(), retries=0)
    assert result == MergeResult(inserted=0, updated=0, version=None)
    assert result.committed is False
    assert engine.exists(silver) is False


def test_merge_inserts_new_keys_and_updates_changed_ones(
    engine: TableEngine, seeded: Path, source: Any
) -> None:
    next_day = D + dt.timedelta(days=1)
    result = engine.merge_scd1(
        seeded,
        source(
            ("acme", "1", "h1-new", next_day, 0, "a2"),  # changed, newer: update
            ("acme", "2", "h2", next_day, 0, "b"),  # unchanged hash: left alone
            ("acme", "3", "h3", next_day, 0, "c"),  # new key: insert
        ),
        _spec(),
        retries=0,
    )
    assert result == MergeResult(inserted=1, updated=1, version=2)
    assert result.committed is True
    assert _rows(engine.read(seeded)) == [
        ("acme", "1", "h1-new", next_day, 0, "a2"),
        # An equal hash keeps the stored row, including its older (date, sequence).
        ("acme", "2", "h2", D, 1, "b"),
        ("acme", "3", "h3", next_day, 0, "c"),
    ]


@pytest.mark.parametrize(
    ("created", "sequence", "applied"),
    [
        (D - dt.timedelta(days=1), 9, False),  # older date: never mind the sequence
        (D, 0, False),  # same date, lower sequence: older
        (D, 1, True),  # same file position, different content: the later run wins
        (D, 2, True),  # same date, higher sequence
        (D + dt.timedelta(days=1), 0, True),  # newer date, lower sequence
    ],
    ids=["older-date", "same-date-lower-seq", "same-date-same-seq", "higher-seq", "newer-date"],
)
def test_late_data_rule(
    engine: TableEngine,
    seeded: Path,
    source: Any,
    created: dt.date,
    sequence: int,
    applied: bool,
) -> None:
    result = engine.merge_scd1(
        seeded, source(("acme", "1", "h1-changed", created, sequence, "late")), _spec(), retries=0
    )
    stored = _rows(engine.read(seeded, key_filter=("k", ["1"])))
    if applied:
        assert result == MergeResult(inserted=0, updated=1, version=2)
        assert stored == [("acme", "1", "h1-changed", created, sequence, "late")]
    else:
        assert result == MergeResult(inserted=0, updated=0, version=None)
        assert stored == [("acme", "1", "h1", D, 1, "a")]
        assert engine.version(seeded) == 1


def test_replay_of_the_same_source_commits_nothing(
    engine: TableEngine, seeded: Path, source: Any
) -> None:
    changes = source(("acme", "1", "h1-new", D, 2, "a2"), ("acme", "3", "h3", D, 2, "c"))
    first = engine.merge_scd1(seeded, changes, _spec(app_id="acme:f2"), retries=0)
    assert first == MergeResult(inserted=1, updated=1, version=2)
    before = engine.read(seeded)

    replay = engine.merge_scd1(seeded, changes, _spec(app_id="acme:f2"), retries=0)
    assert replay == MergeResult(inserted=0, updated=0, version=None)
    assert replay.committed is False
    assert engine.version(seeded) == 2
    assert len(engine.history(seeded)) == 3
    assert _rows(engine.read(seeded)) == _rows(before)


def test_merge_records_app_id_and_metadata(engine: TableEngine, seeded: Path, source: Any) -> None:
    engine.merge_scd1(
        seeded,
        source(("acme", "3", "h3", D, 2, "c")),
        _spec(app_id="acme:acme_2026-01-15_2.csv"),
        retries=0,
        metadata={"token_key_id": "tok-2026-01"},
    )
    latest = engine.history(seeded, limit=1)[0]
    assert (latest.operation, latest.version) == ("MERGE", 2)
    assert latest.app_id == "acme:acme_2026-01-15_2.csv"
    assert latest.metadata == {"token_key_id": "tok-2026-01"}
    assert engine.committed(seeded, "acme:acme_2026-01-15_2.csv") == latest


def test_change_data_feed(engine: TableEngine, seeded: Path, source: Any) -> None:
    engine.merge_scd1(
        seeded,
        source(("acme", "1", "h1-new", D, 2, "a2"), ("acme", "2", "h2", D, 2, "b")),
        _spec(),
        retries=0,
    )
    cdf = engine.read_cdf(seeded, starting_version=1)
    assert set(CDF_META) <= set(cdf.schema.names)
    changes = _rows(cdf, "_commit_version", "_change_type", "k", "_row_hash", "v")
    assert changes == [
        (1, "insert", "1", "h1", "a"),
        (1, "insert", "2", "h2", "b"),
        (2, "update_postimage", "1", "h1-new", "a2"),
        (2, "update_preimage", "1", "h1", "a"),
    ]
    only_update = engine.read_cdf(seeded, starting_version=2, ending_version=2)
    assert _rows(only_update, "_change_type", "k") == [
        ("update_postimage", "1"),
        ("update_preimage", "1"),
    ]
    assert _rows(engine.read_cdf(seeded, starting_version=1, ending_version=1), "k") == [
        ("1",),
        ("2",),
    ]


def test_change_data_feed_of_some_columns(engine: TableEngine, seeded: Path, source: Any) -> None:
    engine.merge_scd1(seeded, source(("acme", "1", "h1-new", D, 2, "a2")), _spec(), retries=0)
    cdf = engine.read_cdf(seeded, starting_version=2, columns=["client_id"])
    assert set(cdf.schema.names) == {"client_id", *CDF_META}
    assert _rows(cdf, "client_id", "_change_type") == [
        ("acme", "update_postimage"),
        ("acme", "update_preimage"),
    ]


def test_change_data_feed_after_a_full_vacuum_is_an_engine_error(
    engine: TableEngine, seeded: Path, source: Any
) -> None:
    engine.merge_scd1(seeded, source(("acme", "1", "h1-new", D, 2, "a2")), _spec(), retries=0)
    engine.vacuum_full(seeded)  # the update's change file is gone
    with pytest.raises(EngineError, match="cannot be read") as raised:
        engine.read_cdf(seeded, starting_version=2)
    assert "a2" not in str(raised.value) and "full vacuum" in (raised.value.fix or "")


def _counts(*rows: tuple[str, int]) -> pa.Table:
    return pa.table(
        {
            "client_id": pa.array([r[0] for r in rows], pa.string()),
            "n": pa.array([r[1] for r in rows], pa.int64()),
        }
    )


def test_replace_partitions_in_one_commit(engine: TableEngine, tmp_path: Path) -> None:
    path = tmp_path / "gold" / "counts"
    first = engine.replace_partitions(
        path, _counts(("a", 1), ("b", 2), ("c", 3)), column="client_id", values=["a", "b", "c"]
    )
    assert first == 0 and engine.version(path) == 0
    untouched = {f for f in DeltaTable(str(path)).file_uris() if "client_id=c" in f}
    version = engine.replace_partitions(
        path, _counts(("a", 10)), column="client_id", values=["a", "b"], metadata={"m": "1"}
    )
    assert version == 1
    assert _rows(engine.read(path), "client_id", "n") == [("a", 10), ("c", 3)]
    assert untouched <= set(DeltaTable(str(path)).file_uris())  # c's file was not rewritten
    assert engine.history(path, limit=1)[0].metadata == {"m": "1"}
    # Emptying partitions is a replace by nothing.
    engine.replace_partitions(path, _counts(), column="client_id", values=["a"])
    assert _rows(engine.read(path), "client_id", "n") == [("c", 3)]


def test_replace_partitions_refuses_rows_outside_the_values(
    engine: TableEngine, tmp_path: Path
) -> None:
    path = tmp_path / "gold" / "counts"
    engine.replace_partitions(path, _counts(("a", 1)), column="client_id", values=["a"])
    with pytest.raises(EngineError, match="row outside") as raised:
        engine.replace_partitions(path, _counts(("b", 987654)), column="client_id", values=["a"])
    assert "987654" not in str(raised.value)
    assert engine.version(path) == 0


def test_two_clients_merge_into_one_table(engine: TableEngine, seeded: Path, source: Any) -> None:
    globex = engine.merge_scd1(
        seeded,
        source(("globex", "1", "g1", D, 0, "x"), ("globex", "9", "g9", D, 0, "y")),
        _spec("globex"),
        retries=0,
    )
    # The same key in another client's partition is another member.
    assert globex == MergeResult(inserted=2, updated=0, version=2)
    assert (seeded / "client_id=acme").is_dir() and (seeded / "client_id=globex").is_dir()

    acme_update = engine.merge_scd1(
        seeded, source(("acme", "1", "h1-new", D, 2, "a2")), _spec(), retries=0
    )
    assert acme_update == MergeResult(inserted=0, updated=1, version=3)
    assert _rows(engine.read(seeded), "client_id", "k", "v") == [
        ("acme", "1", "a2"),
        ("acme", "2", "b"),
        ("globex", "1", "x"),
        ("globex", "9", "y"),
    ]


def test_partition_value_with_a_quote(engine: TableEngine, silver: Path, source: Any) -> None:
    rows = source(("o'neil", "1", "h", D, 0, "v"))
    spec = _spec("o'neil")
    assert engine.merge_scd1(silver, rows, spec, retries=0).inserted == 1
    assert engine.merge_scd1(silver, rows, spec, retries=0).committed is False
    assert engine.read(silver, partition=("client_id", "o'neil")).num_rows == 1


def test_source_rows_outside_the_partition_are_refused(
    engine: TableEngine, seeded: Path, source: Any
) -> None:
    with pytest.raises(EngineError):
        engine.merge_scd1(
            seeded, source(("globex", "1", "g1", D, 0, "x")), _spec("acme"), retries=0
        )
    assert engine.version(seeded) == 1


# --- read and history ---------------------------------------------------------------------


@pytest.fixture()
def two_clients(engine: TableEngine, seeded: Path, source: Any) -> Path:
    engine.merge_scd1(
        seeded,
        source(
            ("globex", "1", "g1", D, 0, "x"),
            ("globex", "2", "g2", D, 0, "y"),
            ("globex", "3", "g3", D, 0, "z"),
        ),
        _spec("globex"),
        retries=0,
    )
    return seeded


def test_read_partition(engine: TableEngine, two_clients: Path) -> None:
    globex = engine.read(two_clients, partition=("client_id", "globex"))
    assert _rows(globex, "client_id", "k") == [("globex", "1"), ("globex", "2"), ("globex", "3")]
    assert engine.read(two_clients, partition=("client_id", "initech")).num_rows == 0


def test_read_key_filter(engine: TableEngine, two_clients: Path) -> None:
    picked = engine.read(two_clients, key_filter=("k", ["1", "3", "404"]))
    assert _rows(picked, "client_id", "k") == [("acme", "1"), ("globex", "1"), ("globex", "3")]
    assert engine.read(two_clients, key_filter=("k", [])).num_rows == 0


def test_read_partition_key_filter_and_columns(engine: TableEngine, two_clients: Path) -> None:
    table = engine.read(
        two_clients,
        columns=["k", "v"],
        partition=("client_id", "globex"),
        key_filter=("k", ["2", "3"]),
    )
    assert table.schema.names == ["k", "v"]
    assert _rows(table, "k", "v") == [("2", "y"), ("3", "z")]


def test_history_is_typed_and_newest_first(engine: TableEngine, two_clients: Path) -> None:
    history = engine.history(two_clients)
    assert all(isinstance(commit, CommitRecord) for commit in history)
    assert [(c.version, c.operation) for c in history] == [
        (2, "MERGE"),
        (1, "MERGE"),
        (0, "CREATE TABLE"),
    ]
    assert (history[0].inserted, history[0].updated, history[0].deleted) == (3, 0, 0)
    assert [c.version for c in engine.history(two_clients, limit=2)] == [2, 1]


def test_a_new_nullable_column_enters_by_merge_and_by_staged_append(
    engine: TableEngine, seeded: Path, spark: SparkSession
) -> None:
    """Schema evolution of silver: a column the table lacks is added by a merge (and by a
    Spark-staged append); rows written before it read NULL; ``schema`` reports it."""
    wider = SCHEMA + ", care_plan string"
    changes = spark.createDataFrame([("acme", "2", "h2b", D, 2, "b2", "CP")], wider)
    result = engine.merge_scd1(seeded, changes, _spec(), retries=0)
    assert (result.inserted, result.updated) == (0, 1)
    rows = {r["k"]: r["care_plan"] for r in engine.read(seeded).to_pylist()}
    assert rows == {"1": None, "2": "CP"}
    staged = spark.createDataFrame(
        [("acme", "3", "h3", D, 3, "c", "CP3", 7)], wider + ", visits bigint"
    )
    assert engine.append_frame(seeded, staged, partition=("client_id", "acme"))  # rows unknown
    schema = engine.schema(seeded)
    assert schema is not None
    assert pa.types.is_int64(schema.field("visits").type) and schema.field("visits").nullable
    assert engine.schema(seeded.parent / "none") is None
