"""A client's delivery calendar: which days files are due, how many, by when, in which zone.

``clients/<id>.yaml``::

    delivery:
      every: business_day          # day | business_day | week | month
      by: "06:00"                  # quote times: YAML reads 6:00 as the number 360
      timezone: America/New_York
      files: 2                     # _1 and _2 each due day
      grace: 2h                    # deadline = by + grace
      holidays: [2026-12-25]       # no delivery expected
      start: 2026-01-05            # first due day (default: the client's first delivery)

A due day is the creation date in the file names (``acme_2026-03-02_1.csv``): its files are
due by ``by`` + ``grace`` on that date, in ``timezone``.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from lakehouse.config.problems import one_or_many

__all__ = ["DeliveryCalendar", "Weekday", "check_time_zone", "parse_duration"]

Weekday = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
_WEEKDAYS: tuple[Weekday, ...] = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_DURATION = re.compile(r"^(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?$")


def check_time_zone(value: str) -> str:
    """Raises: ValueError: ``value`` is not an IANA time zone name."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{value}' (use an IANA name)") from exc
    return value


def parse_duration(text: str) -> dt.timedelta:
    """``2h``, ``30m``, ``1d 6h``, ``0m``.

    Raises:
        ValueError: anything else.
    """
    match = _DURATION.match(text.strip())
    if match is None or not text.strip() or not any(match.groups()):
        raise ValueError(f"'{text}' is not a duration such as 30m, 2h or 1d 6h")
    days, hours, minutes = (int(part or 0) for part in match.groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


class DeliveryCalendar(BaseModel):
    """When a client's files are due; ``lakehouse freshness`` checks the audit against it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    every: Literal["day", "business_day", "week", "month"] = Field(
        "day", description="day | business_day (MON-FRI, minus holidays) | week | month."
    )
    weekdays: Annotated[tuple[Weekday, ...], BeforeValidator(one_or_many)] = Field(
        (), description="every: week: the delivery days (default MON)."
    )
    month_days: Annotated[tuple[int, ...], BeforeValidator(one_or_many)] = Field(
        (),
        description="every: month: days of the month (default 1); 31 means the month's last.",
    )
    by: dt.time = Field(dt.time(6, 0), description='Local time the files are due, "HH:MM".')
    timezone: str = Field("UTC", description="IANA time zone of 'by' and of the due days.")
    files: int = Field(1, ge=1, le=99, description="Files due each day: _1.._N (1: bare or _1).")
    grace: str = Field("0m", description="Tolerance after 'by' before a delivery is late.")
    holidays: Annotated[tuple[dt.date, ...], BeforeValidator(one_or_many)] = Field(
        (), description="Days on which nothing is due."
    )
    start: dt.date | None = Field(
        None, description="First due day; default: the client's first delivered file's date."
    )

    @field_validator("by", mode="before")
    @classmethod
    def _quoted_time(cls, value: object) -> object:
        if isinstance(value, int):  # YAML 1.1 reads 6:00 as 360 (base 60)
            raise ValueError('quote the time, e.g. by: "06:00" (unquoted, YAML reads 6:00 as 360)')
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("grace")
    @classmethod
    def _grace(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("month_days")
    @classmethod
    def _month_days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 1 <= day <= 31 for day in value):
            raise ValueError("days of the month are 1 to 31")
        return value

    @model_validator(mode="after")
    def _days_match_every(self) -> DeliveryCalendar:
        if self.weekdays and self.every != "week":
            raise ValueError(f"weekdays only apply to every: week, not every: {self.every}")
        if self.month_days and self.every != "month":
            raise ValueError(f"month_days only apply to every: month, not every: {self.every}")
        return self

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def grace_delta(self) -> dt.timedelta:
        return parse_duration(self.grace)

    def is_due(self, day: dt.date) -> bool:
        """Whether files are due on ``day`` (a creation date)."""
        if day in self.holidays:
            return False
        if self.every == "business_day":
            return day.weekday() < 5
        if self.every == "week":
            return _WEEKDAYS[day.weekday()] in (self.weekdays or ("MON",))
        if self.every == "month":
            last = _month_end(day)
            return any(min(d, last.day) == day.day for d in (self.month_days or (1,)))
        return True

    def due_days(self, first: dt.date, last: dt.date) -> list[dt.date]:
        """Due days from ``first`` to ``last``, both included."""
        days, day = [], first
        while day <= last:
            if self.is_due(day):
                days.append(day)
            day += dt.timedelta(days=1)
        return days

    def deadline(self, day: dt.date) -> dt.datetime:
        """When ``day``'s files are late (UTC): ``by`` on that day in the zone, plus grace."""
        local = dt.datetime.combine(day, self.by, tzinfo=self.zone)
        return (local + self.grace_delta).astimezone(dt.UTC)

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.zone).date()

    def describe(self) -> str:
        """E.g. ``business days by 06:00 America/New_York (+2h grace), files _1.._2``."""
        if self.every == "week":
            when = "weekly on " + ",".join(self.weekdays or ("MON",))
        elif self.every == "month":
            when = "monthly on day " + ",".join(str(d) for d in (self.month_days or (1,)))
        else:
            when = {"day": "daily", "business_day": "business days"}[self.every]
        text = f"{when} by {self.by.strftime('%H:%M')} {self.timezone}"
        if self.grace_delta:
            text += f" (+{self.grace} grace)"
        if self.files > 1:
            text += f", files _1.._{self.files}"
        return text


def _month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)
