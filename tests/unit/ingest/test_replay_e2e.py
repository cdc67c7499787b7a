"""Quarantine lifecycle end to end, in-process on the session's Spark: ingest rows invalid by
``isin``, widen the client's ``isin``, replay; the rows move from quarantine to silver exactly
once, also across a crash between the replay's commits."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from pyspark.sql import SparkSession

from lakehouse.audit import pii_events_path
from lakehouse.cli import main
from lakehouse.cli.pii import user_name
from lakehouse.config import load_clients
from lakehouse.config.models import Settings
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.errors import LakehouseError
from lakehouse.ingest import replay as replay_module
from lakehouse.ingest.file import process_file
from lakehouse.ingest.job import Job
from lakehouse.ingest.outcome import FileAttempt, commit, settle
from lakehouse.ingest.replay import PII_EVENT, replay_quarantine
from lakehouse.landing.checksum import scan_file
from lakehouse.landing.filenames import parse_file_name
from lakehouse.ops import client_status, quarantine_reasons
from lakehouse.pii.keys import ENCRYPT_KEY_ENV, KEY_ENV_VARS, TOKEN_KEY_ENV, KeyRing
from lakehouse.resolutions import resolutions_path

REPO = Path(__file__).resolve().parents[3]
HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"
OLDER = "acme_2026-03-01.csv"
NEWER = "acme_2026-03-02.csv"
OLDER_ROWS = (
    "AC0000001,Ann,Lee,1970-05-05,,,10001,platinum\n"  # 1: isin -> passes after the fix
    "AC0000002,Bo,Kim,1980-02-02,,,10001,gold\n"  # 2: valid
    "AC0000003,Cy,Ray,1975-01-01,,,10001,platinum\n"  # 3: isin; NEWER has a newer row: stale
    "AC0000004,Di,Fox,31/31/1990,,,10001,gold\n"  # 4: invalid_date: still fails
    "AC0000005,Ed,Ng,1970-01-01,,,10001,gold,extra\n"  # 5: malformed: never replayable
)
NEWER_ROWS = "AC0000003,Cy,Ray,1975-01-01,,,10001,gold\n"


def _client_dir(tmp_path: Path, name: str, *, widened: bool) -> Path:
    """A copy of clients/acme.yaml that never holds a file (this test's files are mostly
    invalid on purpose); ``widened``: the config fix, PLATINUM is a plan code now."""
    text = (REPO / "clients" / "acme.yaml").read_text(encoding="utf-8")
    text = text.replace("max_invalid_ratio: 0.20", "max_invalid_ratio: 1.0")
    if widened:
        text = text.replace(
            "isin: [GOLD, SILVER, BRONZE]", "isin: [GOLD, SILVER, BRONZE, PLATINUM]"
        )
    folder = tmp_path / name
    folder.mkdir()
    (folder / "acme.yaml").write_text(text, encoding="utf-8")
    assert ("PLATINUM" in text) == widened
    return folder


def _ingest(job: Job, name: str, rows: str) -> None:
    path = job.settings.landing_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + rows, encoding="utf-8")
    scan = scan_file(path, "utf-8")
    landing = parse_file_name(name, job.clients)
    attempt = FileAttempt(
        client_id="acme",
        file_name=name,
        file_size=path.stat().st_size,
        file_sha256=scan.sha256,
        creation_date=landing.creation_date,
        sequence=landing.sequence,
    )
    record = settle(
        job, attempt, lambda clock: process_file(job, landing, path, attempt, clock, scan=scan)
    )
    commit(job, [record])


def _table(engine: DeltaRsEngine, path: Path) -> list[dict[str, Any]]:
    return engine.read(path).to_pylist() if engine.exists(path) else []


def test_replay_moves_fixed_rows_to_silver_exactly_once(
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(TOKEN_KEY_ENV, (bytes([7]) * 32).hex())
    monkeypatch.setenv(ENCRYPT_KEY_ENV, (bytes([8]) * 32).hex())
    keys = KeyRing.from_environment()  # the ring the command below builds, too
    fixed_dir = _client_dir(tmp_path, "fixed", widened=True)
    strict = load_clients(_client_dir(tmp_path, "strict", widened=False))["acme"]
    settings = Settings(
        lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing", clients_dir=fixed_dir
    )
    engine = DeltaRsEngine()
    job = Job(spark, settings, {"acme": strict}, keys, engine, run_id="ingest-run")
    _ingest(job, OLDER, OLDER_ROWS)
    _ingest(job, NEWER, NEWER_ROWS)
    silver_path = settings.table_path("silver", "members")
    quarantine_path = settings.table_path("quarantine", "members")
    before = engine.version(silver_path)
    assert len(_table(engine, quarantine_path)) == 4  # 1, 3, 4 and the malformed 5

    fixed = dataclasses.replace(job, clients=load_clients(fixed_dir), run_id="unused")
    reason = "INC-42: PLATINUM plan launched"

    # A dry run re-validates and predicts, and writes nothing but its pii_events row.
    dry = replay_quarantine(fixed, "acme", reason=reason, user="tester", dry_run=True)
    (planned,) = dry.files
    assert (planned.revalidated, planned.passing, planned.inserted, planned.stale) == (3, 2, 1, 1)
    assert engine.version(silver_path) == before
    assert not engine.exists(resolutions_path(settings))

    # A crash after the silver merge and the audit row, before the resolutions: the rows
    # are still open, and the rerun must neither merge nor audit them again.
    def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("killed")

    with monkeypatch.context() as patched, pytest.raises(RuntimeError):
        patched.setattr(replay_module, "append_resolutions", crash)
        replay_quarantine(fixed, "acme", reason=reason, user="tester")
    assert engine.version(silver_path) == before + 1
    assert not engine.exists(resolutions_path(settings))
    # The rerun converges: nothing merged or audited twice.
    report = replay_quarantine(fixed, "acme", reason=reason, user="tester")
    (done,) = report.files
    assert done.recovered == ["silver", "audit"]
    assert (done.revalidated, done.passing, done.failing, done.resolved) == (3, 2, 1, 2)
    assert done.still_failing == {"birth_date:invalid_date": 1}
    assert done.file.malformed == 1
    assert engine.version(silver_path) == before + 1

    # Silver: AC0000001 inserted (CDF says insert); the newer AC0000003 was not overwritten.
    silver = [r for r in _table(engine, silver_path) if r["client_id"] == "acme"]
    by_file = sorted((r["_source_file"], r["plan_code"]) for r in silver)
    assert by_file == [(OLDER, "GOLD"), (OLDER, "PLATINUM"), (NEWER, "GOLD")]
    replayed = next(r for r in silver if r["plan_code"] == "PLATINUM")
    assert replayed["_run_id"] == done.run_id and done.run_id.startswith("replay-")
    cdf = engine.read_cdf(silver_path, starting_version=before + 1, ending_version=before + 1)
    assert sorted(cdf.column("_change_type").to_pylist()) == ["insert"]
    assert cdf.column("plan_code").to_pylist() == ["PLATINUM"]

    # Quarantine keeps every record; the replayed ones are resolved, with who and why.
    assert len(_table(engine, quarantine_path)) == 4
    resolutions = _table(engine, resolutions_path(settings))
    assert sorted(r["record_number"] for r in resolutions) == [1, 3]
    assert {(r["user"], r["reason"], r["run_id"]) for r in resolutions} == {
        ("tester", reason, done.run_id)
    }
    assert {tuple(r["reasons_before"]) for r in resolutions} == {("plan_code:isin",)}
    listing = {
        r["reason"]: (r["open"], r["resolved"])
        for r in quarantine_reasons(settings, engine, strict)
    }
    assert listing == {
        "plan_code:isin": (0, 2),
        "birth_date:invalid_date": (1, 0),
        "_record:malformed": (1, 0),
    }

    # One audit row for the replay; it adds up.
    audit = engine.read(settings.audit_path)
    rows = audit.filter(pc.equal(audit.column("reason"), "replay")).to_pylist()
    assert len(rows) == 1
    row = rows[0]
    assert (row["status"], row["file_name"], row["run_id"]) == ("SUCCESS", OLDER, done.run_id)
    counts = [row[f"rows_{k}"] for k in ("read", "valid", "quarantined")]
    split = [row[f"rows_{k}"] for k in ("inserted", "updated", "unchanged", "stale")]
    assert counts == [3, 2, 1] and split == [1, 0, 0, 1]
    # The status view counts the file once: 2 of its 5 rows still quarantined.
    status = client_status(settings, engine, {"acme": strict})[0]
    assert (status["rows_read"], status["rows_quarantined"]) == (6, 2)

    # Every attempt's decryption is on record, failed ones too.
    events = [
        r
        for r in _table(engine, pii_events_path(settings.lake_root))
        if r["event"] == "quarantine_replay"
    ]
    assert sorted(r["status"] for r in events) == ["FAILED", "SUCCESS", "SUCCESS"]
    assert {r["user"] for r in events} == {"tester"} and all(r["rows"] == 3 for r in events)

    # A second replay of the same rows commits nothing; the still failing row stays open.
    audit_rows, versions = audit.num_rows, engine.version(silver_path)
    # (through the command, on this session's Spark: it builds its job from the config files)
    conf = tmp_path / "lakehouse.yaml"
    conf.write_text(
        "\n".join(
            f"{k}: {getattr(settings, k)}" for k in ("lake_root", "landing_dir", "clients_dir")
        ),
        encoding="utf-8",
    )
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        command = ["quarantine", "replay", "--conf", str(conf), "--client", "acme"]
        assert main([*command, "--reason", reason, "--json"]) == 0
    finally:
        os.umask(umask)  # the command sets the lake's umask for this process
    (again,) = json.loads(capsys.readouterr().out)["files"]
    assert (again["revalidated"], again["now_passing"], again["resolved"]) == (1, 0, 0)
    assert again["still_failing_reasons"] == {"birth_date:invalid_date": 1}
    latest = max(_table(engine, pii_events_path(settings.lake_root)), key=lambda r: r["started_at"])
    assert (latest["event"], latest["user"], latest["rows"]) == (PII_EVENT, user_name(), 1)
    assert engine.version(silver_path) == versions
    assert engine.read(settings.audit_path).num_rows == audit_rows
    assert len(_table(engine, resolutions_path(settings))) == 2
    with pytest.raises(LakehouseError, match="no open quarantined rows") as nothing:
        replay_quarantine(fixed, "acme", reason=reason, user="tester", reason_code="isin")
    assert nothing.value.client == "acme"
