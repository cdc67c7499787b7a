"""Data-quality drift end to end, in-process on the session's Spark: one run of five files of
one client (one micro-batch: each file's baseline holds the run's earlier files), a row-count
collapse HELD with its figures in the audit and the alert, a column suddenly empty alerted
and let through, the next normal file resolving it, then ``release`` of the held file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import REPO, Workspace

from lakehouse.config import load_clients
from lakehouse.config.models import Settings
from lakehouse.ingest.release import release_file
from lakehouse.ingest.stream import run_ingest
from lakehouse.pii.keys import KeyRing

pytestmark = pytest.mark.e2e

HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"
DRIFT = {
    "window": 5,
    "min_history": 2,
    "row_count": {"tolerance": 0.5, "action": "hold"},
    "null_share": {"tolerance": 0.2, "action": "hold", "overrides": {"zip": {"action": "alert"}}},
}
# (file, rows, zip blank): two normal files, a collapse, zip all blank, normal again.
FILES = [
    ("acme_2026-03-02.csv", 12, False),
    ("acme_2026-03-03.csv", 12, False),
    ("acme_2026-03-05.csv", 2, False),
    ("acme_2026-03-06.csv", 12, True),
    ("acme_2026-03-09.csv", 12, False),
]
COLLAPSE, EMPTY_ZIP, NORMAL = FILES[2][0], FILES[3][0], FILES[4][0]


def _csv(first: int, rows: int, blank_zip: bool) -> str:
    zip_code = "" if blank_zip else "10001"
    lines = [f"AC{first + i:07d},Zelda,Quist,1970-05-05,,,{zip_code},gold\n" for i in range(rows)]
    return HEADER + "".join(lines)


def _settings(tmp_path: Path, workspace: Workspace, sink: Path) -> Settings:
    client = yaml.safe_load((REPO / "clients" / "acme.yaml").read_text(encoding="utf-8"))
    client["drift"] = DRIFT
    clients_dir = tmp_path / "clients"
    clients_dir.mkdir()
    (clients_dir / "acme.yaml").write_text(yaml.safe_dump(client), encoding="utf-8")
    return Settings.model_validate(
        {
            "lake_root": workspace.lake,
            "landing_dir": workspace.landing,
            "clients_dir": clients_dir,
            "alerts": {
                "sinks": [
                    {"name": "ops", "type": "jsonl", "path": str(sink), "min_severity": "info"}
                ]
            },
        }
    )


def _lines(sink: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in sink.read_text(encoding="utf-8").splitlines()]


def test_a_collapse_is_held_an_empty_column_alerts_and_the_next_file_resolves(
    tmp_path: Path, workspace: Workspace
) -> None:
    sink = tmp_path / "alerts.jsonl"
    settings = _settings(tmp_path, workspace, sink)
    clients = load_clients(settings.clients_dir)
    keys = KeyRing(
        token_key_id="t", keys={"t": bytes([7]) * 32, "e": bytes([8]) * 32}, encrypt_key_id="e"
    )
    workspace.landing.mkdir(parents=True)
    for index, (name, rows, blank_zip) in enumerate(FILES):
        (workspace.landing / name).write_text(_csv(100 * index, rows, blank_zip), encoding="utf-8")

    result = run_ingest(settings, clients, keys)

    audit = {r.file_name: r for r in result.records}
    assert {n: audit[n].status.value for n, _, _ in FILES} == {
        **{n: "SUCCESS" for n, _, _ in FILES},
        COLLAPSE: "HELD",
    }
    # The first files had too little history: figures recorded, no check applied.
    assert audit[FILES[0][0]].drift is None and audit[FILES[1][0]].drift is None
    assert audit[FILES[0][0]].column_stats == {
        c.name: {"null": 12 if c.name in ("phone", "email") else 0, "invalid": 0}
        for c in clients["acme"].columns
    }
    held = audit[COLLAPSE]
    assert held.reason == "dq_drift:row_count" and held.rows_inserted is None
    (finding,) = held.drift["findings"]  # type: ignore[index]
    assert {k: finding[k] for k in ("check", "observed", "baseline", "low", "high", "history")} == {
        "check": "row_count",
        "observed": 2.0,
        "baseline": 12.0,
        "low": 6.0,
        "high": 24.0,
        "history": 2,
    }
    zip_drift = audit[EMPTY_ZIP].drift
    assert zip_drift is not None
    assert [(f["check"], f["column"], f["observed"]) for f in zip_drift["findings"]] == [
        ("null_share", "zip", 1.0)
    ]
    assert audit[EMPTY_ZIP].rows_inserted == 12  # action alert: it went on
    normal = audit[NORMAL].drift
    assert normal is not None and normal["findings"] == []
    # The run's earlier files made the last file's baseline (the held one left out).
    assert "row_count" in normal["checked"] and "null_share:zip" in normal["checked"]

    release = release_file(settings, clients, keys, COLLAPSE)
    assert release.status.value == "SUCCESS" and release.rows_inserted == 2

    events = [
        (e["kind"], e["action"], e["file_name"], e["subject"])
        for e in _lines(sink)
        if e["kind"] in ("file_held", "dq_drift")
    ]
    assert events == [
        ("file_held", "trigger", COLLAPSE, ""),
        ("dq_drift", "trigger", EMPTY_ZIP, "null_share:zip"),
        ("dq_drift", "resolve", NORMAL, "null_share:zip"),
        ("file_held", "resolve", COLLAPSE, ""),
    ]
    trigger = next(e for e in _lines(sink) if e["kind"] == "file_held")
    assert trigger["message"] == "file held: data-quality drift (row_count)"
    assert trigger["figures"]["row_count.observed"] == 2.0
    assert trigger["figures"]["row_count.allowed"] == "6..24"
    assert "Zelda" not in sink.read_text(encoding="utf-8")  # counts and codes, never values
    # The audit table holds the same figures for later runs (read back from Delta).
    from deltalake import DeltaTable

    rows = DeltaTable(str(settings.audit_path)).to_pyarrow_table().to_pylist()
    stored = next(r for r in rows if r["file_name"] == COLLAPSE and r["status"] == "HELD")
    assert json.loads(stored["drift"])["findings"][0]["baseline"] == 12.0
    assert json.loads(stored["column_stats"])["zip"] == {"null": 0, "invalid": 0}
