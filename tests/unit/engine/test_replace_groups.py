"""``TableEngine.replace_groups`` for every engine: key groups replaced in one commit, equal
groups left alone (no commit), emptied groups deleted, rows outside the groups refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse.engine.base import MergeResult, TableEngine
from lakehouse.errors import EngineError

KEYS = ("client_id", "member_id", "hour")
SCHEMA = pa.schema(
    [
        ("client_id", pa.string()),
        ("member_id", pa.string()),
        ("hour", pa.timestamp("us", tz="UTC")),
        ("n", pa.int64()),
        ("mean", pa.float64()),  # nullable: compared NULL-safe
        ("source_version", pa.int64()),
    ]
)

# (client_id, member_id, hour of 2026-01-15, n, mean, source_version)
Row = tuple[str, str, int, int, float | None, int]


def _hour(hour: int) -> dt.datetime:
    return dt.datetime(2026, 1, 15, hour, tzinfo=dt.UTC)


def _rows(*rows: Row) -> pa.Table:
    return pa.Table.from_pylist(
        [
            dict(zip(SCHEMA.names, (c, m, _hour(h), n, v, s), strict=True))
            for c, m, h, n, v, s in rows
        ],
        SCHEMA,
    )


def _groups(*keys: tuple[str, str, int]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"client_id": c, "member_id": m, "hour": _hour(h)} for c, m, h in keys],
        pa.schema([SCHEMA.field(k) for k in KEYS]),
    )


def _keys(table: pa.Table) -> pa.Table:
    return table.select(list(KEYS))


def _stored(path: Path) -> set[Row]:
    rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return {
        (r["client_id"], r["member_id"], r["hour"].hour, r["n"], r["mean"], r["source_version"])
        for r in rows
    }


def _replace(engine: TableEngine, path: Path, data: pa.Table, groups: pa.Table) -> MergeResult:
    return engine.replace_groups(
        path,
        data,
        keys=KEYS,
        groups=groups,
        partition_column="client_id",
        ignore=("source_version",),
        metadata={"gold_source_version": "7"},
    )


@pytest.fixture()
def seeded(engine: TableEngine, tmp_path: Path) -> Path:
    path = tmp_path / "gold" / "hourly"
    data = _rows(("a", "m1", 1, 2, 1.5, 1), ("a", "m1", 2, 1, None, 1), ("b", "m2", 1, 3, 4.0, 1))
    first = _replace(engine, path, data, _keys(data))
    assert first == MergeResult(inserted=3, updated=0, version=0)
    assert engine.history(path, limit=1)[0].metadata == {"gold_source_version": "7"}
    return path


def test_only_the_named_groups_change_in_one_commit(engine: TableEngine, seeded: Path) -> None:
    late = _rows(("a", "m1", 2, 2, 3.0, 2))
    result = _replace(engine, seeded, late, _keys(late))
    assert result == MergeResult(inserted=0, updated=1, version=1, deleted=0)
    assert _stored(seeded) == {
        ("a", "m1", 1, 2, 1.5, 1),  # untouched: still the version it was computed from
        ("a", "m1", 2, 2, 3.0, 2),
        ("b", "m2", 1, 3, 4.0, 1),
    }
    commit = engine.history(seeded, limit=1)[0]
    assert (commit.operation, commit.inserted, commit.updated, commit.deleted) == (
        "MERGE",
        0,
        1,
        0,
    )
    assert commit.metadata == {"gold_source_version": "7"}


def test_equal_groups_commit_nothing(engine: TableEngine, seeded: Path) -> None:
    """Only ``ignore``d columns differ (NULL means included): no commit, no version."""
    same = _rows(("a", "m1", 1, 2, 1.5, 9), ("a", "m1", 2, 1, None, 9))
    assert _replace(engine, seeded, same, _keys(same)) == MergeResult(0, 0, None)
    assert engine.version(seeded) == 0


def test_groups_without_rows_are_deleted_and_new_ones_inserted(
    engine: TableEngine, seeded: Path
) -> None:
    data = _rows(("b", "m2", 5, 1, 2.0, 2))
    result = _replace(engine, seeded, data, _groups(("a", "m1", 1), ("b", "m2", 5), ("c", "m", 1)))
    assert result == MergeResult(inserted=1, updated=0, version=1, deleted=1)
    assert _stored(seeded) == {
        ("a", "m1", 2, 1, None, 1),
        ("b", "m2", 1, 3, 4.0, 1),
        ("b", "m2", 5, 1, 2.0, 2),
    }


def test_a_mean_becoming_null_is_a_change(engine: TableEngine, seeded: Path) -> None:
    data = _rows(("b", "m2", 1, 3, None, 2))
    assert _replace(engine, seeded, data, _keys(data)).updated == 1
    assert ("b", "m2", 1, 3, None, 2) in _stored(seeded)


def test_no_table_and_nothing_to_write_creates_nothing(engine: TableEngine, tmp_path: Path) -> None:
    path = tmp_path / "gold" / "none"
    assert _replace(engine, path, _rows(), _groups(("a", "m1", 1))) == MergeResult(0, 0, None)
    assert not engine.exists(path)


def test_rows_outside_the_groups_and_repeated_keys_are_refused(
    engine: TableEngine, seeded: Path
) -> None:
    outside = _rows(("a", "secret-token", 1, 1, 1.0, 2))
    with pytest.raises(EngineError, match="outside the replaced groups") as raised:
        _replace(engine, seeded, outside, _groups(("a", "m1", 1)))
    assert "secret-token" not in str(raised.value)
    twice = _rows(("a", "m1", 1, 1, 1.0, 2), ("a", "m1", 1, 2, 1.0, 2))
    with pytest.raises(EngineError, match="repeated key"):
        _replace(engine, seeded, twice, _groups(("a", "m1", 1)))
    assert engine.version(seeded) == 0
