"""The one commit point (``ingest.outcome``): exception -> status, conserve -> audit -> alert ->
archive, the same for the streaming run, ``release`` and ``backfill``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

import pytest

from lakehouse.alerts import Alert, Alerter, Route, ledger_path
from lakehouse.alerts.config import Delivery
from lakehouse.audit import Status, latest_outcomes
from lakehouse.config.models import Settings
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.errors import ConservationError, LandingFileError
from lakehouse.ingest.faults import Faults
from lakehouse.ingest.job import Job, Mode
from lakehouse.ingest.outcome import (
    FileAttempt,
    FileOutcome,
    StageClock,
    commit,
    outcome_record,
    settle,
)
from lakehouse.pii.keys import KeyRing

NAME = "acme_2026-03-01.csv"
BYTES = b"MemberID\nAC0000001\n"


class _Sink:
    name = "recording"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def deliver(self, alert: Alert, *, timeout: float) -> None:
        self.alerts.append(alert)


def _job(tmp_path: Path, mode: Mode = "ingest") -> tuple[Job, _Sink]:
    sink = _Sink()
    settings = Settings(lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing")
    keys = KeyRing(token_key_id="t", keys={"t": bytes([7]) * 32})
    engine = DeltaRsEngine()
    alerter = Alerter(
        [sink], {sink.name: Route()}, Delivery(), engine=engine, ledger=ledger_path(tmp_path)
    )
    job = Job(
        spark=cast(Any, None),  # the commit point never touches Spark
        settings=settings,
        clients={},
        keys=keys,
        engine=engine,
        run_id=f"{mode}-run",
        alerter=alerter,
        mode=mode,
        faults=Faults(),
    )
    return job, sink


def _attempt() -> FileAttempt:
    return FileAttempt(
        client_id="acme",
        file_name=NAME,
        file_size=len(BYTES),
        file_sha256=hashlib.sha256(BYTES).hexdigest(),
    )


def _success(**counts: int) -> FileOutcome:
    base = dict(
        rows_read=3,
        rows_valid=2,
        rows_quarantined=1,
        rows_inserted=2,
        rows_updated=0,
        rows_unchanged=0,
        rows_stale=0,
    )
    return FileOutcome(Status.SUCCESS, **{**base, **counts})  # type: ignore[arg-type]


def test_an_exception_becomes_the_files_status_with_its_stage_times(tmp_path: Path) -> None:
    job, _ = _job(tmp_path)

    def broken(clock: StageClock) -> FileOutcome:
        with clock.stage("read"):
            pass
        with clock.stage("bronze"):
            raise OSError("disk full for member Ann Lee")

    failed = settle(job, _attempt(), broken)
    assert failed.status == Status.FAILED
    assert set(failed.stage_seconds) == {"read", "bronze"}
    assert failed.file_sha256 == _attempt().file_sha256 and failed.finished_at is not None

    def refused(clock: StageClock) -> FileOutcome:
        raise LandingFileError("bad header", reason="bad_header", client="acme", file=NAME)

    rejected = settle(job, _attempt(), refused)
    assert (rejected.status, rejected.reason, rejected.error) == (
        Status.REJECTED,
        "bad_header",
        "bad header",
    )
    ok = settle(job, _attempt(), lambda clock: _success())
    assert (ok.status, ok.rows_read, ok.rows_inserted, ok.run_id) == (
        Status.SUCCESS,
        3,
        2,
        "ingest-run",
    )


def test_counts_that_do_not_add_up_are_never_audited(tmp_path: Path) -> None:
    job, sink = _job(tmp_path)
    record = outcome_record(job, _attempt(), _success(rows_quarantined=0))
    with pytest.raises(ConservationError) as error:
        commit(job, [record])
    assert error.value.client == "acme" and error.value.file == NAME
    assert "Fix:" in str(error.value)
    assert not job.engine.exists(job.settings.audit_path)
    assert sink.alerts == []


def test_commit_audits_then_alerts_then_archives(tmp_path: Path) -> None:
    job, sink = _job(tmp_path)
    job.settings.landing_dir.mkdir(parents=True)
    (job.settings.landing_dir / NAME).write_bytes(BYTES)
    held = outcome_record(
        job,
        _attempt(),
        FileOutcome(
            Status.HELD,
            reason="invalid_ratio:0.9>0.5",
            rows_read=10,
            rows_valid=1,
            rows_quarantined=9,
        ),
    )
    commit(job, [held])
    assert latest_outcomes(job.engine, job.settings.audit_path)[NAME]["status"] == "HELD"
    assert [a.kind.value for a in sink.alerts] == ["file_held"]
    archived = job.settings.archive_root / "acme" / NAME
    assert archived.read_bytes() == BYTES  # a final outcome: kept byte for byte


@pytest.mark.parametrize(
    ("mode", "advice"),
    [
        ("ingest", "retried on the next run"),
        ("release", "release it again"),
        ("backfill", "run the backfill again"),
    ],
)
def test_a_failed_file_stays_in_landing_and_the_alert_says_what_to_do(
    tmp_path: Path, mode: Mode, advice: str
) -> None:
    job, sink = _job(tmp_path, mode)
    job.settings.landing_dir.mkdir(parents=True)
    (job.settings.landing_dir / NAME).write_bytes(BYTES)

    def broken(clock: StageClock) -> FileOutcome:
        raise RuntimeError("boom")

    commit(job, [settle(job, _attempt(), broken)])
    assert latest_outcomes(job.engine, job.settings.audit_path)[NAME]["status"] == "FAILED"
    assert advice in sink.alerts[0].message
    assert not (job.settings.archive_root / "acme" / NAME).exists()
