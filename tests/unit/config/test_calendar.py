"""Delivery calendars: due days, deadlines across time zones and DST, and refused configs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pydantic import ValidationError

from lakehouse.config import load_client
from lakehouse.config.calendar import DeliveryCalendar, parse_duration
from lakehouse.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def _days(calendar: DeliveryCalendar, first: str, last: str) -> list[str]:
    return [
        d.isoformat()
        for d in calendar.due_days(dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    ]


def test_business_days_skip_weekends_and_holidays() -> None:
    calendar = DeliveryCalendar(every="business_day", holidays=(dt.date(2026, 12, 25),))
    assert _days(calendar, "2026-12-24", "2026-12-29") == ["2026-12-24", "2026-12-28", "2026-12-29"]


def test_weekly_and_monthly_days() -> None:
    weekly = DeliveryCalendar(every="week", weekdays=("MON", "THU"))
    assert _days(weekly, "2026-03-01", "2026-03-08") == ["2026-03-02", "2026-03-05"]
    assert _days(DeliveryCalendar(every="week"), "2026-03-01", "2026-03-08") == ["2026-03-02"]
    month_end = DeliveryCalendar(every="month", month_days=(15, 31))
    # 31 means the month's last day: February's is the 28th
    assert _days(month_end, "2026-02-01", "2026-03-31") == [
        "2026-02-15",
        "2026-02-28",
        "2026-03-15",
        "2026-03-31",
    ]


def test_the_deadline_is_local_time_plus_grace_in_utc_across_dst() -> None:
    calendar = DeliveryCalendar(by=dt.time(6, 0), timezone="America/New_York", grace="2h")
    # winter: UTC-5; summer: UTC-4 (DST began 2026-03-08)
    assert calendar.deadline(dt.date(2026, 3, 6)) == dt.datetime(2026, 3, 6, 13, 0, tzinfo=dt.UTC)
    assert calendar.deadline(dt.date(2026, 3, 9)) == dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "minutes"), [("30m", 30), ("2h", 120), ("1d 6h", 1800), ("0m", 0), ("1h30m", 90)]
)
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"by": 360}, "quote the time"),  # what YAML makes of an unquoted 06:00
        ({"timezone": "Mars/Base"}, "unknown time zone"),
        ({"grace": "2 hours"}, "not a duration"),
        ({"every": "day", "weekdays": ["MON"]}, "only apply to every: week"),
        ({"every": "month", "month_days": [32]}, "1 to 31"),
        ({"every": "fortnight"}, "day"),
        ({"files": 0}, "greater than or equal to 1"),
        ({"weekdays": ["Mon"], "every": "week"}, "MON"),
    ],
)
def test_invalid_calendars_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DeliveryCalendar.model_validate(data)


def test_an_unquoted_time_in_a_client_file_names_the_key(tmp_path: Path) -> None:
    text = (REPO / "clients" / "acme.yaml").read_text(encoding="utf-8")
    path = tmp_path / "acme.yaml"
    path.write_text(text.replace('by: "06:00"', "by: 6:00"), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_client(path)
    assert error.value.key == "delivery.by"
    assert "quote the time" in str(error.value)


def test_the_shipped_clients_declare_their_calendars() -> None:
    acme = load_client(REPO / "clients" / "acme.yaml").delivery
    assert acme is not None
    assert acme.describe() == "weekly on MON by 06:00 America/New_York (+2h grace)"
    assert DeliveryCalendar(every="business_day", files=2).describe() == (
        "business days by 06:00 UTC, files _1.._2"
    )
