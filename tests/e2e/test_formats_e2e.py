"""A JSON-lines client and an XML client through the whole job, in process: landing ->
bronze -> quarantine / silver, with conservation in the audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import TEST_KEYS, Workspace
from format_clients import (
    FORMAT_CLIENTS,
    jsonl_member,
    jsonl_members,
    write_clients,
    xml_member,
    xml_members,
)
from pyspark.sql import SparkSession

from lakehouse.config import load_clients, load_settings
from lakehouse.ingest.stream import run_ingest
from lakehouse.pii.keys import KeyRing

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_jsonl_and_xml_clients_end_in_silver(
    spark: SparkSession, workspace: Workspace, tmp_path: Path
) -> None:
    clients_dir = write_clients(tmp_path / "clients")
    workspace.landing.mkdir(parents=True)
    jsonl = jsonl_members(
        jsonl_member(1, first="Zoë"),
        jsonl_member(2),
        '{"id": "M0003", "name": {"first": "Al"}, "name": {"first": "Bo"}}',  # duplicate key
        '{"id": "M0004", "dob": "1970-05-05"}',  # first_name missing: required
    )
    xml = xml_members(xml_member(1), xml_member(2, dob="not-a-date"), xml_member(3, first="Ü"))
    (workspace.landing / "jsonco_2026-01-05.jsonl").write_bytes(jsonl)
    (workspace.landing / "xmlco_2026-01-05.xml").write_bytes(xml)
    # A CSV under a JSON-lines client's name: misnamed, never parsed as the wrong format.
    (workspace.landing / "jsonco_2026-01-06.csv").write_bytes(b"id\nM0009\n")

    settings = load_settings(
        REPO / "conf" / "lakehouse.yaml",
        environ=workspace.env(),
        overrides={"clients_dir": clients_dir, "spark": {}},
    )
    clients = load_clients(clients_dir)
    only = tuple(FORMAT_CLIENTS.values())
    result = run_ingest(settings, clients, KeyRing.from_environment(TEST_KEYS), only=only)
    result.raise_for_failures()

    audit = {r["file_name"]: r for r in workspace.table("audit/files").to_pylist()}
    got = {
        name: (r["status"], r["rows_read"], r["rows_valid"], r["rows_quarantined"])
        for name, r in audit.items()
        if r["status"] != "REJECTED"
    }
    assert got == {
        "jsonco_2026-01-05.jsonl": ("SUCCESS", 4, 2, 2),
        "xmlco_2026-01-05.xml": ("SUCCESS", 3, 2, 1),
    }
    misnamed = audit["jsonco_2026-01-06.csv"]
    assert (misnamed["status"], misnamed["reason"]) == ("REJECTED", "misnamed_file")

    quarantine = workspace.table("quarantine/jsonl_members").to_pylist()
    assert sorted(code for q in quarantine for code in q["_reasons"]) == [
        "_record:malformed",
        "first_name:not_null",
    ]
    assert workspace.table("silver/jsonl_members").num_rows == 2
    silver = workspace.table("silver/xml_members").to_pylist()
    assert sorted((r["plan_code"], r["birth_date"]) for r in silver) == [
        ("GOLD", "1970"),
        ("GOLD", "1970"),
    ]
    # PII is protected in silver: no plaintext name, a token for the key.
    assert not {"Ann", "Ü", "M0001"} & {str(v) for r in silver for v in r.values()}
    xml_quarantine = workspace.table("quarantine/xml_members").to_pylist()
    assert [q["_reasons"] for q in xml_quarantine] == [["birth_date:invalid_date"]]
