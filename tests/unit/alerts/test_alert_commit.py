"""The commit point emits, the Alerter delivers: triggers and the resolves that follow them
(a held or failed file that later succeeds, a day whose missing numbers arrive, a run that
completes after one that failed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

import pytest
from alert_support import alerter_for, ledger_rows, settings_with

from lakehouse.alerts import Alerter, AlertKind
from lakehouse.audit import Status
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.ingest.job import Job, Mode
from lakehouse.ingest.outcome import FileAttempt, FileOutcome, commit, outcome_record
from lakehouse.ingest.run_alerts import alerting_run
from lakehouse.pii.keys import KeyRing

DAY = dt.date(2026, 3, 2)


def _job(tmp_path: Path, alerter: Alerter, mode: Mode = "ingest") -> Job:
    return Job(
        spark=cast(Any, None),  # the commit point never touches Spark
        settings=settings_with(tmp_path, []),
        clients={},
        keys=KeyRing(token_key_id="t", keys={"t": bytes([7]) * 32}),
        engine=DeltaRsEngine(),
        run_id=f"{mode}-run",
        alerter=alerter,
        mode=mode,
    )


def _commit(job: Job, name: str, outcome: FileOutcome, sequence: int | None = None) -> None:
    attempt = FileAttempt(
        client_id="acme",
        file_name=name,
        file_size=1,
        creation_date=DAY if sequence else None,
        sequence=sequence,
    )
    commit(job, [outcome_record(job, attempt, outcome)])


def _sent(tmp_path: Path) -> list[tuple[str, str]]:
    rows = ledger_rows(settings_with(tmp_path, []))
    delivered = [r for r in rows if r["status"] == "DELIVERED"]
    return [(r["kind"], r["action"]) for r in sorted(delivered, key=lambda r: r["raised_at"])]


HELD = FileOutcome(Status.HELD, "invalid_ratio:0.4>0.2", 10, 6, 4)
OK = FileOutcome(Status.SUCCESS, "released", 10, 6, 4, 6, 0, 0, 0)


def test_a_held_file_released_later_resolves_its_alert(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, [])
    first = alerter_for(settings, {})
    _commit(_job(tmp_path, first), "acme_2026-03-01.csv", HELD)
    first.close()
    release = alerter_for(settings, {})  # the release command's own run
    assert release.is_open(AlertKind.FILE_HELD, "acme", "acme_2026-03-01.csv")
    _commit(_job(tmp_path, release, "release"), "acme_2026-03-01.csv", OK)
    release.close()
    assert _sent(tmp_path) == [("file_held", "trigger"), ("file_held", "resolve")]
    assert not alerter_for(settings, {}).is_open(AlertKind.FILE_HELD, "acme", "acme_2026-03-01.csv")


def test_a_sequence_gap_resolves_when_the_days_missing_numbers_arrive(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, [])
    alerter = alerter_for(settings, {})
    job = _job(tmp_path, alerter)
    plain = FileOutcome(Status.SUCCESS, None, 1, 1, 0, 1, 0, 0, 0)
    gap = FileOutcome(Status.SUCCESS, "sequence_gap:missing=2,3", 1, 1, 0, 1, 0, 0, 0)
    _commit(job, "acme_2026-03-02_1.csv", plain, 1)
    _commit(job, "acme_2026-03-02_4.csv", gap, 4)
    assert alerter.is_open(AlertKind.SEQUENCE_GAP, "acme", DAY.isoformat())
    _commit(job, "acme_2026-03-02_3.csv", plain, 3)  # 2 is still missing
    assert alerter.is_open(AlertKind.SEQUENCE_GAP, "acme", DAY.isoformat())
    _commit(job, "acme_2026-03-02_2.csv", plain, 2)
    assert not alerter.is_open(AlertKind.SEQUENCE_GAP, "acme", DAY.isoformat())
    alerter.close()
    assert _sent(tmp_path) == [("sequence_gap", "trigger"), ("sequence_gap", "resolve")]


def test_a_failed_run_alerts_once_and_the_next_complete_run_resolves_it(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, [])
    for _ in range(2):  # two failing runs within the window: one alert
        with (
            pytest.raises(OSError),
            alerting_run(alerter_for(settings, {}), mode="ingest", client_id=None, run_id="r1"),
        ):
            raise OSError("no space left on device")
    with alerting_run(alerter_for(settings, {}), mode="ingest", client_id=None, run_id="r2"):
        pass
    with alerting_run(alerter_for(settings, {}), mode="ingest", client_id=None, run_id="r3"):
        pass  # nothing open any more: no second resolve
    assert _sent(tmp_path) == [("run_failed", "trigger"), ("run_failed", "resolve")]
    statuses = sorted(r["status"] for r in ledger_rows(settings))
    assert statuses == ["DELIVERED", "DELIVERED", "PENDING", "PENDING", "SUPPRESSED"]
