"""Operations views on small Delta tables under tmp_path: status, audit, quarantine, history,
silver changes. Only identifiers, counts and reason codes come out."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pytest

from lakehouse.audit import Status
from lakehouse.config import load_clients
from lakehouse.engine.base import MergeSpec
from lakehouse.errors import LakehouseError
from lakehouse.ops import (
    audit_rows,
    client_status,
    dataset_of,
    quarantine_reasons,
    silver_changes,
    table_history,
    to_json,
)

D1, D2 = dt.date(2026, 1, 5), dt.date(2026, 1, 12)


@pytest.fixture(scope="module")
def clients() -> Any:
    from pathlib import Path

    return load_clients(Path(__file__).resolve().parents[3] / "clients")


def _history(lake: Any) -> None:
    lake.audit("acme_2026-01-05.csv", Status.SUCCESS, sha="a" * 64, read=100, quarantined=10)
    lake.audit("acme_2026-01-12.csv", Status.FAILED, minutes=5)
    lake.audit(
        "acme_2026-01-12.csv",
        Status.SUCCESS,
        minutes=10,
        sha="b" * 64,
        read=50,
        quarantined=1,
        run_id="run-2",
    )
    lake.audit(
        "acme_2026-02-03.csv",
        Status.DUPLICATE,
        minutes=11,
        sha="a" * 64,
        run_id="run-2",
        reason="duplicate_of:acme_2026-01-05.csv",
    )
    lake.audit(
        "acme_2026-01-05.csv",
        Status.SUCCESS,
        minutes=20,
        sha="a" * 64,
        read=100,
        quarantined=10,
        run_id="backfill-1",
        reason="backfill",
    )
    lake.audit("globex_20260106.csv", Status.FAILED, client="globex", minutes=30)
    lake.audit(
        "umbrella_2026-01-20.csv",
        Status.REJECTED,
        client="umbrella",
        minutes=31,
        reason="unknown_client",
    )
    lake.audit("report.csv", Status.REJECTED, client=None, minutes=32, reason="misnamed_file")


def test_status_counts_each_file_once_and_flags_failures(lake: Any, clients: Any) -> None:
    _history(lake)
    status = client_status(lake.settings, lake.engine, clients)
    # One row per dataset of a client: acme's readings have had no file yet.
    assert [(r["client_id"], r["dataset"]) for r in status] == [
        ("acme", "members"),
        ("acme", "readings"),
        ("globex", "members"),
        ("umbrella", None),
    ]
    assert status[1]["files_ingested"] == 0 and status[1]["last_file"] is None
    rows = {r["client_id"]: r for r in status if r["dataset"] != "readings"}
    acme = rows["acme"]
    assert acme["files_ingested"] == 2  # the backfill does not double count
    assert (acme["rows_read"], acme["rows_quarantined"]) == (150, 11)
    assert acme["quarantine_rate"] == pytest.approx(11 / 150)
    assert acme["last_file"] == "acme_2026-01-05.csv" and acme["last_status"] == "SUCCESS"
    assert acme["files_failing"] == 0  # the failed attempt was retried successfully
    assert acme["files_over_threshold"] == 0  # acme allows 20 %
    assert acme["silver_rows"] == 0
    assert rows["globex"]["files_failing"] == 1 and rows["globex"]["last_success_at"] is None
    assert rows["umbrella"]["configured"] is False
    json.dumps(list(rows.values()), default=str)


def test_audit_filters(lake: Any) -> None:
    _history(lake)
    settings, engine = lake.settings, lake.engine
    assert len(audit_rows(settings, engine)) == 8
    assert [
        r["status"] for r in audit_rows(settings, engine, client_id="acme", status="FAILED")
    ] == ["FAILED"]
    backfills = audit_rows(settings, engine, run_id="backfill-")
    assert [(r["file_name"], r["reason"]) for r in backfills] == [
        ("acme_2026-01-05.csv", "backfill")
    ]
    assert audit_rows(settings, engine, since=dt.date(2026, 1, 11)) == []
    assert len(audit_rows(settings, engine, since=dt.date(2026, 1, 10))) == 8
    newest = audit_rows(settings, engine, limit=2)
    assert [r["file_name"] for r in newest] == ["umbrella_2026-01-20.csv", "report.csv"]
    with pytest.raises(LakehouseError, match="unknown status 'DONE'"):
        audit_rows(settings, engine, status="DONE")


def test_no_tables_yet_means_empty_views(lake: Any, clients: Any) -> None:
    assert audit_rows(lake.settings, lake.engine) == []
    assert client_status(lake.settings, lake.engine, clients)[0]["files_ingested"] == 0
    assert quarantine_reasons(lake.settings, lake.engine, clients["acme"]) == []
    assert table_history(lake.settings, lake.engine, "silver", "members") == []


def test_quarantine_reasons_are_counted_without_values(lake: Any, clients: Any) -> None:
    lake.quarantine(
        [
            {
                "client_id": "acme",
                "first_name": "Planted-Secret",
                "_reasons": ["birth_date:invalid_date", "phone:invalid_phone"],
                "_source_file": "a.csv",
                "_creation_date": D1,
            },
            {
                "client_id": "acme",
                "first_name": None,
                "_reasons": ["birth_date:invalid_date"],
                "_source_file": "b.csv",
                "_creation_date": D2,
            },
            {
                "client_id": "globex",
                "first_name": None,
                "_reasons": ["zip:regex"],
                "_source_file": "g.csv",
                "_creation_date": D2,
            },
        ]
    )
    rows = quarantine_reasons(lake.settings, lake.engine, clients["acme"])
    assert [(r["reason"], r["rows"], r["files"], r["latest_file"]) for r in rows] == [
        ("birth_date:invalid_date", 2, 2, "b.csv"),
        ("phone:invalid_phone", 1, 1, "a.csv"),
    ]
    assert rows[0]["column"] == "birth_date" and rows[0]["code"] == "invalid_date"
    assert "Planted-Secret" not in json.dumps(rows)
    only_b = quarantine_reasons(lake.settings, lake.engine, clients["acme"], files={"b.csv"})
    assert [(r["reason"], r["rows"]) for r in only_b] == [("birth_date:invalid_date", 1)]


def _silver(lake: Any, spark: Any) -> Any:
    path = lake.settings.table_path("silver", "members")
    schema = pa.schema(
        [
            ("client_id", pa.string()),
            ("member_id", pa.string()),
            ("first_name", pa.string()),
            ("plan_code", pa.string()),
            ("_row_hash", pa.string()),
            ("_creation_date", pa.date32()),
            ("_sequence", pa.int32()),
            ("_source_file", pa.string()),
        ]
    )
    spec = MergeSpec(
        "client_id", "acme", ["member_id"], "_row_hash", ["_creation_date", "_sequence"]
    )

    def merge(rows: list[tuple[str, str, str, str, dt.date, str]], run: str) -> None:
        data = pa.Table.from_pylist(
            [
                {
                    "client_id": "acme",
                    "member_id": m,
                    "first_name": f,
                    "plan_code": p,
                    "_row_hash": h,
                    "_creation_date": d,
                    "_sequence": 0,
                    "_source_file": s,
                }
                for m, f, p, h, d, s in rows
            ],
            schema=schema,
        )
        lake.engine.merge_scd1(
            path,
            spark.createDataFrame(data),
            spec,
            retries=1,
            metadata={"run_id": run, "source_file": "x"},
        )

    merge(
        [("tok1", "Ann", "GOLD", "h1", D1, "a.csv"), ("tok2", "Bo", "GOLD", "h2", D1, "a.csv")],
        "run-1",
    )
    merge([("tok1", "Ann", "SILVER", "h1b", D2, "b.csv")], "run-2")
    return path


def test_silver_changes_leave_pii_columns_out(lake: Any, clients: Any, spark: Any) -> None:
    _silver(lake, spark)
    counts, sample = silver_changes(
        lake.settings, lake.engine, clients["acme"], starting_version=2, ending_version=2
    )
    assert counts == [
        {"version": 2, "change_type": "update_postimage", "rows": 1},
        {"version": 2, "change_type": "update_preimage", "rows": 1},
    ]
    (row,) = sample
    assert row["member_id"] == "tok1" and row["plan_code"] == "SILVER"
    assert "first_name" not in row  # pii: keep -> not shown
    assert row["_source_file"] == "b.csv"


def test_history_names_operation_run_and_metrics(lake: Any, spark: Any) -> None:
    _silver(lake, spark)
    history = table_history(lake.settings, lake.engine, "silver", "members")
    assert [h["version"] for h in history] == [2, 1, 0]
    assert history[0]["operation"] == "MERGE" and history[0]["run_id"] == "run-2"
    assert history[0]["source_file"] == "x" and history[0]["app_id"] is None
    assert history[0]["metrics"] == "inserted=0 updated=1 deleted=0"
    assert (history[0]["inserted"], history[0]["updated"], history[0]["deleted"]) == (0, 1, 0)
    assert history[1]["metrics"].startswith("inserted=2")
    assert history[2]["operation"] == "CREATE TABLE" and history[2]["metrics"] == ""
    assert history[0]["timestamp"].tzinfo is not None
    json.loads(to_json(history))  # what --json prints
    assert len(table_history(lake.settings, lake.engine, "silver", "members", limit=1)) == 1


def test_dataset_of(clients: Any) -> None:
    assert dataset_of(clients) == "members"
    assert dataset_of(clients, "acme") == "members"
    with pytest.raises(LakehouseError, match="unknown client 'nope'"):
        dataset_of(clients, "nope")
