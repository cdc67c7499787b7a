"""Freshness: the audit table against each client's delivery calendar (no Spark)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from lakehouse.audit import AuditRecord, Status, append_audit
from lakehouse.cli import main
from lakehouse.config.calendar import DeliveryCalendar
from lakehouse.config.models import Settings
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.ops.freshness import client_freshness, freshness_of

from .conftest import settings_for

UTC = dt.UTC
# Two files each business day by 06:00 New York (11:00 UTC in winter), one hour of grace.
TWICE_DAILY = DeliveryCalendar(
    every="business_day", by=dt.time(6), timezone="America/New_York", files=2, grace="1h"
)


def _row(day: str, sequence: int, seen: dt.datetime, status: str = "SUCCESS") -> dict[str, Any]:
    return {
        "creation_date": dt.date.fromisoformat(day),
        "sequence": sequence,
        "started_at": seen,
        "status": status,
    }


def _at(day: str, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def test_on_time_when_every_due_file_came_before_its_deadline() -> None:
    rows = [_row(d, n, _at(d, 10)) for d in ("2026-03-02", "2026-03-03") for n in (1, 2)]
    result = freshness_of("acme", TWICE_DAILY, rows, now=_at("2026-03-03", 13), days=7)
    assert result.status == "on_time"
    assert result.missing == ()
    assert [c.due_date.isoformat() for c in result.checks] == ["2026-03-02", "2026-03-03"]
    assert all(c.complete and c.late_by is None for c in result.checks)
    assert result.last_delivery == _at("2026-03-03", 10)
    # next due: Wednesday 06:00 New York + 1h grace = 12:00 UTC
    assert result.expected_by == _at("2026-03-04", 12)


def test_a_missing_second_file_makes_the_client_late_and_names_it() -> None:
    rows = [_row("2026-03-02", 1, _at("2026-03-02", 9))]
    result = freshness_of("acme", TWICE_DAILY, rows, now=_at("2026-03-02", 15), days=7)
    assert result.status == "late"
    assert result.missing == ("2026-03-02_2",)
    assert result.expected_by == _at("2026-03-02", 12)
    assert result.late_by == dt.timedelta(hours=3)
    (check,) = result.checks
    assert (check.expected, check.delivered, check.arrived_at) == (2, 1, None)


def test_a_day_not_yet_due_is_pending_not_late() -> None:
    rows = [_row("2026-03-02", n, _at("2026-03-02", 9)) for n in (1, 2)]
    result = freshness_of("acme", TWICE_DAILY, rows, now=_at("2026-03-03", 8), days=7)
    assert result.status == "on_time"
    assert result.checks[-1].due_date == dt.date(2026, 3, 3)
    assert result.checks[-1].late_by is None and not result.checks[-1].complete
    assert result.expected_by == _at("2026-03-03", 12)


def test_a_late_arrival_is_history_once_it_came() -> None:
    rows = [_row("2026-03-02", n, _at("2026-03-02", 14, 30)) for n in (1, 2)]
    result = freshness_of("acme", TWICE_DAILY, rows, now=_at("2026-03-02", 16), days=7)
    assert result.status == "on_time"
    assert result.checks[0].late_by == dt.timedelta(hours=2, minutes=30)


def test_a_rejected_file_must_be_sent_again_and_a_held_one_arrived() -> None:
    rows = [
        _row("2026-03-02", 1, _at("2026-03-02", 9), status="HELD"),
        _row("2026-03-02", 2, _at("2026-03-02", 9), status="REJECTED"),
    ]
    result = freshness_of("acme", TWICE_DAILY, rows, now=_at("2026-03-02", 15), days=7)
    assert result.missing == ("2026-03-02_2",)


def test_a_bare_file_name_is_the_days_first_file_and_the_first_arrival_counts() -> None:
    daily = DeliveryCalendar(by=dt.time(6), grace="0m")
    rows = [
        _row("2026-03-02", 0, _at("2026-03-02", 5)),
        _row("2026-03-02", 0, _at("2026-03-02", 9), status="DUPLICATE"),  # resent later
    ]
    result = freshness_of("acme", daily, rows, now=_at("2026-03-02", 10), days=1)
    assert result.status == "on_time"
    assert result.checks[0].arrived_at == _at("2026-03-02", 5)


def test_the_window_starts_at_the_first_delivery_or_the_calendars_start() -> None:
    daily = DeliveryCalendar(by=dt.time(6))
    rows = [_row("2026-03-05", 0, _at("2026-03-05", 5))]
    result = freshness_of("acme", daily, rows, now=_at("2026-03-05", 7), days=14)
    assert [c.due_date for c in result.checks] == [dt.date(2026, 3, 5)]
    onboarded = daily.model_copy(update={"start": dt.date(2026, 3, 3)})
    late = freshness_of("acme", onboarded, rows, now=_at("2026-03-05", 7), days=14)
    assert late.missing == ("2026-03-03", "2026-03-04")
    assert late.late_by == dt.timedelta(days=2, hours=1)


def test_an_evaluation_as_of_the_past_knows_only_what_had_arrived() -> None:
    daily = DeliveryCalendar(by=dt.time(6))
    rows = [
        _row("2026-03-05", 0, _at("2026-03-05", 5)),
        _row("2026-03-06", 0, _at("2026-03-09", 1)),
    ]
    result = freshness_of("acme", daily, rows, now=_at("2026-03-07", 7), days=3)
    assert (result.missing, result.last_delivery) == (
        ("2026-03-06", "2026-03-07"),
        _at("2026-03-05", 5),
    )


def test_no_calendar_reports_the_last_delivery_only() -> None:
    rows = [_row("2026-03-05", 0, _at("2026-03-05", 5))]
    result = freshness_of("acme", None, rows, now=_at("2026-03-06", 0))
    assert (result.status, result.last_delivery, result.checks) == (
        "no_calendar",
        _at("2026-03-05", 5),
        (),
    )


def _audit(settings: Settings, name: str, day: str, sequence: int, seen: dt.datetime) -> None:
    record = AuditRecord(
        client_id="acme",
        file_name=name,
        run_id="run-1",
        engine="delta-rs",
        started_at=seen,
        status=Status.SUCCESS,
        creation_date=dt.date.fromisoformat(day),
        sequence=sequence,
        finished_at=seen + dt.timedelta(seconds=3),
    )
    append_audit(DeltaRsEngine(), settings.audit_path, [record])


@pytest.fixture()
def lake(tmp_path: Path) -> Settings:
    """acme (weekly, Mondays 06:00 New York + 2h) delivered 2026-03-02 but not 2026-03-09."""
    settings = settings_for(tmp_path)
    _audit(settings, "acme_2026-03-02.csv", "2026-03-02", 0, _at("2026-03-02", 10))
    return settings


def test_client_freshness_reads_the_audit_table(lake: Settings) -> None:
    from lakehouse.config import load_clients

    clients = load_clients(lake.clients_dir)
    report = client_freshness(lake, DeltaRsEngine(), clients, now=_at("2026-03-09", 14))
    acme, globex = report
    # 2026-03-09 06:00 New York (EDT since 03-08, UTC-4) + 2h = 12:00 UTC
    assert (acme.status, acme.missing, acme.late_by) == (
        "late",
        ("2026-03-09",),
        dt.timedelta(hours=2),
    )
    assert globex.status == "late" and globex.last_delivery is None


def test_the_command_exits_1_when_late_and_0_when_not(
    lake: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["freshness", "--lake-root", str(lake.lake_root), "--client", "acme"]
    assert main([*args, "--as-of", "2026-03-09T14:00:00+00:00"]) == 1
    text = capsys.readouterr().out
    assert "late" in text and "2026-03-09" in text and "2h00m" in text
    assert main([*args, "--as-of", "2026-03-09T11:00", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "on_time"
    assert row["expected_by"] == "2026-03-09T12:00:00+00:00"
    assert main([*args, "--client", "umbrella"]) == 1
    assert "unknown client" in capsys.readouterr().err


def test_a_late_client_raises_one_data_delay_and_resolves_on_delivery(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Daily by 00:00 UTC from two days ago: today's file is missing (late), repeats within
    the window are suppressed, and the delivery resolves it; at a real jsonl sink."""
    import yaml

    today = dt.datetime.now(UTC).date()
    clients = tmp_path / "clients"
    clients.mkdir()
    data = yaml.safe_load((Path(__file__).resolve().parents[3] / "clients/acme.yaml").read_text())
    data["delivery"] = {"every": "day", "by": "00:00", "start": str(today - dt.timedelta(days=2))}
    (clients / "acme.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    sink = tmp_path / "alerts.jsonl"
    conf = tmp_path / "lakehouse.yaml"
    conf.write_text(
        yaml.safe_dump(
            {
                "lake_root": str(tmp_path / "lake"),
                "landing_dir": str(tmp_path / "landing"),
                "clients_dir": str(clients),
                "alerts": {"sinks": [{"name": "f", "type": "jsonl", "path": str(sink)}]},
            }
        ),
        encoding="utf-8",
    )
    settings = Settings(lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing")
    earlier = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    for back in (2, 1):
        day = (today - dt.timedelta(days=back)).isoformat()
        _audit(settings, f"acme_{day}.csv", day, 0, earlier)
    args = ["freshness", "--conf", str(conf)]
    assert main(args) == 1 and main(args) == 1  # late twice: one alert
    _audit(settings, f"acme_{today}.csv", today.isoformat(), 0, dt.datetime.now(UTC))
    assert main(args) == 0
    assert main(args) == 0  # nothing open any more: no second resolve
    capsys.readouterr()
    sent = [json.loads(line) for line in sink.read_text().splitlines()]
    assert [(a["kind"], a["action"]) for a in sent] == [
        ("data_delay", "trigger"),
        ("data_delay", "resolve"),
    ]
    assert sent[0]["client_id"] == "acme" and sent[0]["figures"]["first_missing"] == str(today)
