"""`python notebooks/ingest_client.py`, unchanged from its Databricks source form, on a copy
of the demo lake with a historical file dropped into landing (old creation date)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pytest
from e2e_support import REPO, DemoLake, run

pytestmark = pytest.mark.e2e

NOTEBOOK = REPO / "notebooks" / "ingest_client.py"
HISTORICAL = "acme_2025-06-30.csv"


def test_notebook_is_databricks_source_format() -> None:
    text = NOTEBOOK.read_text(encoding="utf-8")
    assert text.startswith("# Databricks notebook source\n")
    assert text.count("# COMMAND ----------") >= 5
    assert "# MAGIC %md" in text and "dbutils.widgets" in text


def _historical_file(archive: Path) -> str:
    """Ten members from the first full file as they were, plus two members nobody sent yet."""
    text = (archive / "acme" / "acme_2026-01-05.csv").read_text(encoding="utf-8")
    header, *records = list(csv.reader(io.StringIO(text)))
    plain = [r for r in records if len(r) == len(header) and not any("\n" in f for f in r)]
    new = [
        ["AC9900001", "Hana", "Mori", "1961-03-04", "(415) 555-0101", "", "94110", "gold"],
        ["AC9900002", "Ravi", "Shah", "1977-11-30", "(415) 555-0102", "", "94110", "silver"],
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *plain[:10], *new])
    return out.getvalue()


def test_notebook_runs_a_client_ingest_and_shows_audit_reasons_and_cdf(
    demo_lake: DemoLake, tmp_path: Path
) -> None:
    lake = demo_lake.copy(tmp_path)
    ws = lake.workspace
    (ws.landing / HISTORICAL).write_text(_historical_file(ws.lake / "_archive"), encoding="utf-8")
    silver_version = ws.version("silver/members")
    env = lake.env(
        LAKEHOUSE_NOTEBOOK_CLIENT="acme",
        LAKEHOUSE_NOTEBOOK_DEMO="true",  # demo files again: already seen, only ours is new
        LAKEHOUSE_ARCHIVE_MODE="move",
    )
    result = run([sys.executable, str(NOTEBOOK)], env)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "audit rows of this run" in out and "quarantine reasons of this run" in out
    assert "silver changes, versions" in out
    (audit,) = [r for r in ws.table("audit/files").to_pylist() if r["file_name"] == HISTORICAL]
    assert audit["status"] == "SUCCESS" and audit["rows_read"] == 12
    assert audit["rows_inserted"] == 2  # the two new members
    assert (
        audit["rows_inserted"] + audit["rows_stale"] + audit["rows_unchanged"]
        == 12 - (audit["rows_quarantined"])
    )
    assert ws.version("silver/members") == silver_version + 1
    assert "AC9900001" not in out and "Hana" not in out  # keys tokenised, names left out
    assert "insert" in out
    # move mode: the processed file left landing for the archive, byte for byte
    assert not (ws.landing / HISTORICAL).exists()
    assert (ws.lake / "_archive" / "acme" / HISTORICAL).is_file()
