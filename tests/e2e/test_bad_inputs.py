"""Every kind of bad input in one landing directory: no crash, nothing blocked, all explained."""

from __future__ import annotations

from collections import Counter

import pytest
from bad_inputs import XXE_SECRET, Duplicate, Held, Ignored, Rejected, Rows, write_corpus
from e2e_support import REPO, TEST_KEYS, Workspace, ingest_in_process, run, spark_submit_env
from format_clients import write_clients
from pyspark.sql import SparkSession
from pytest_httpserver import HTTPServer

from lakehouse.config import load_clients
from lakehouse.demo import build_demo

pytestmark = pytest.mark.e2e

SUBMIT = ["spark-submit", "--master", "local[2]", "jobs/ingest.py"]


def test_bad_inputs_are_each_accounted_for(workspace: Workspace, httpserver: HTTPServer) -> None:
    # The XXE cases point at this server: it must receive no request.
    items = write_corpus(
        workspace.landing, workspace.lake.parent / "outside", http_port=httpserver.port
    )
    # A JSON-lines and an XML client beside the shipped ones (tests/e2e/format_clients.py).
    clients_dir = write_clients(workspace.lake.parent / "clients")
    # Another client's good file in the same drop must not be blocked by any of them.
    demo = build_demo(load_clients(REPO / "clients"), members_per_client=100)
    globex = next(f for f in demo.files if f.client_id == "globex")
    (workspace.landing / globex.name).write_bytes(globex.content)
    env = spark_submit_env(workspace, LAKEHOUSE_CLIENTS_DIR=str(clients_dir), **TEST_KEYS)
    result = run(SUBMIT, env, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output

    audit = workspace.table("audit/files").to_pylist()
    by_name = {r["file_name"]: r for r in audit}
    assert Counter(r["file_name"] for r in audit).most_common(1)[0][1] == 1
    assert by_name[globex.name]["status"] in ("SUCCESS", "HELD")
    assert by_name[globex.name]["rows_read"] == globex.data_records
    quarantine = [
        row
        for dataset in ("members", "jsonl_members", "xml_members")
        for row in workspace.table(f"quarantine/{dataset}").to_pylist()
    ]
    handled = 0
    for item in items:
        outcome, row = item.outcome, by_name.get(item.name)
        if isinstance(outcome, Ignored):
            assert row is None, item.kind
        elif isinstance(outcome, Rejected):
            assert row is not None, item.kind
            assert (row["status"], row["reason"]) == ("REJECTED", outcome.reason), item.kind
            assert row["rows_read"] is None, item.kind
        elif isinstance(outcome, Held):
            assert row is not None, item.kind
            assert (row["status"], row["reason"]) == ("HELD", outcome.reason), item.kind
            assert row["rows_read"] == outcome.read and "Nickname" in row["error"], item.kind
        elif isinstance(outcome, Duplicate):
            assert row is not None and row["status"] == "DUPLICATE", item.kind
        else:
            assert isinstance(outcome, Rows)
            assert row is not None and row["status"] in ("SUCCESS", "HELD"), (item.kind, row)
            assert (row["rows_read"], row["rows_quarantined"]) == (outcome.read, outcome.bad), (
                item.kind
            )
            assert row["rows_read"] == row["rows_valid"] + row["rows_quarantined"]
            found = {
                code for q in quarantine if q["_source_file"] == item.name for code in q["_reasons"]
            }
            assert outcome.reasons <= found, (item.kind, found)
        handled += 1
    assert handled == len(items) >= 30
    # Mixed line endings: every record reached silver with its last value (Plan) exact.
    silver = workspace.table("silver/members").to_pylist()
    for item in items:
        if item.kind in ("lf_first_mixed", "crlf_first_mixed", "mixed_with_newline_in_quotes"):
            plans = [r["plan_code"] for r in silver if r["_source_file"] == item.name]
            assert isinstance(item.outcome, Rows) and plans == ["GOLD"] * item.outcome.read
    # Nothing from the link target (outside landing) was read.
    assert not any(r["_source_file"] == "acme_2026-03-22.csv" for r in quarantine)
    # Nothing was fetched for an XML entity: not the local file, not the local server.
    assert httpserver.log == []
    assert XXE_SECRET not in output
    leaked = [
        p
        for p in workspace.lake.rglob("*")
        if p.is_file() and XXE_SECRET.encode() in p.read_bytes()
    ]
    assert leaked == []


def test_a_file_replaced_after_ingest_is_audited_not_ignored(
    spark: SparkSession, workspace: Workspace
) -> None:
    name = "acme_2026-04-01.csv"
    header = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"
    row = "AC0000001,Ann,Lee,1970-05-05,,,10001,gold\n"
    workspace.landing.mkdir(parents=True)
    (workspace.landing / name).write_text(header + row, encoding="utf-8")
    ingest_in_process(workspace, TEST_KEYS)  # the job's code, on this session's Spark
    # Same path, new bytes: Spark's source tracks paths and would never look again.
    (workspace.landing / name).write_text(header + row.replace("gold", "silver"), encoding="utf-8")
    for _ in range(2):  # audited once, not on every run
        ingest_in_process(workspace, TEST_KEYS)
    rows = [r for r in workspace.table("audit/files").to_pylist() if r["file_name"] == name]
    assert sorted((r["status"], r["reason"] or "") for r in rows) == [
        ("REJECTED", "replaced_after_ingest"),
        ("SUCCESS", ""),
    ]
    silver = workspace.table("silver/members").to_pylist()
    assert [r["plan_code"] for r in silver] == ["GOLD"]
