"""Freshness: each client's deliveries (the audit table) against its delivery calendar.

A due day's files count as delivered when the audit has a row for them with any outcome but
REJECTED (a rejected file must be sent again; a held or failed one arrived and is ours to
handle). A file arrived when lakehouse first audited it, so an ingest schedule slower than
the calendar's grace reads as lateness: schedule ingest at least as often as the grace.
A due day is late once its deadline passed with files missing, or when its last file came
after the deadline; a client is late while any due day in the window is still incomplete.
Nothing here starts Spark; no value of any file is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from lakehouse.audit import Status
from lakehouse.config.calendar import DeliveryCalendar
from lakehouse.config.datasets import feed_of
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.ops.audit_views import read_audit

__all__ = ["ClientFreshness", "DeliveryCheck", "client_freshness", "freshness_of"]

FreshnessStatus = Literal["on_time", "late", "no_calendar"]
_NEXT_DUE_SEARCH_DAYS = 400  # a calendar with no due day in a year says "not expected"


@dataclass(frozen=True)
class DeliveryCheck:
    """One due day of a client's calendar and what arrived for it."""

    due_date: dt.date
    deadline: dt.datetime  # UTC, grace included
    expected: int
    delivered: int
    arrived_at: dt.datetime | None  # UTC, when the day's last expected file was first audited
    late_by: dt.timedelta | None  # None: on time, or not yet due

    @property
    def complete(self) -> bool:
        return self.delivered >= self.expected


@dataclass(frozen=True)
class ClientFreshness:
    """A client's freshness at one moment (``now``)."""

    client_id: str
    calendar: str
    status: FreshnessStatus
    last_delivery: dt.datetime | None
    expected_by: dt.datetime | None  # late: the oldest missed deadline; else the next one
    late_by: dt.timedelta | None
    missing: tuple[str, ...]  # "2026-03-02_2" (or "2026-03-02" when one file is due a day)
    checks: tuple[DeliveryCheck, ...]  # the window's due days, oldest first

    def as_row(self) -> dict[str, Any]:
        """JSON-friendly (``--json``): times ISO 8601, lateness in seconds."""
        return {
            "client_id": self.client_id,
            "calendar": self.calendar,
            "status": self.status,
            "last_delivery": _iso(self.last_delivery),
            "expected_by": _iso(self.expected_by),
            "late_by_seconds": None if self.late_by is None else int(self.late_by.total_seconds()),
            "missing": list(self.missing),
            "checks": [
                {
                    "due_date": c.due_date.isoformat(),
                    "deadline": _iso(c.deadline),
                    "expected": c.expected,
                    "delivered": c.delivered,
                    "arrived_at": _iso(c.arrived_at),
                    "late_by_seconds": None
                    if c.late_by is None
                    else int(c.late_by.total_seconds()),
                }
                for c in self.checks
            ],
        }


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _arrivals(
    rows: Iterable[Mapping[str, Any]], now: dt.datetime
) -> dict[tuple[dt.date, int], dt.datetime]:
    """(creation date, sequence) -> when it was first audited (by ``now``: an evaluation as
    of a past moment knows only what had arrived), REJECTED rows left out. A bare file name
    (sequence 0) is the day's first file."""
    first: dict[tuple[dt.date, int], dt.datetime] = {}
    for row in rows:
        day, sequence, seen = row["creation_date"], row["sequence"], row["started_at"]
        if row["status"] == Status.REJECTED or None in (day, sequence, seen) or seen > now:
            continue
        key = (day, max(int(sequence), 1))
        if key not in first or seen < first[key]:
            first[key] = seen
    return first


def freshness_of(
    client_id: str,
    calendar: DeliveryCalendar | None,
    rows: Iterable[Mapping[str, Any]],
    *,
    now: dt.datetime,
    days: int = 14,
) -> ClientFreshness:
    """One client's freshness from its audit rows (``client_id`` rows only), at ``now``,
    over the due days of the last ``days`` days (local to the calendar's zone)."""
    arrivals = _arrivals(rows, now)
    last_delivery = max(arrivals.values(), default=None)
    if calendar is None:
        return ClientFreshness(
            client_id, "no delivery calendar", "no_calendar", last_delivery, None, None, (), ()
        )
    today = calendar.local_date(now)
    start = calendar.start or min((day for day, _ in arrivals), default=None)
    first = today - dt.timedelta(days=days - 1)
    if start is not None:
        first = max(first, start)
    checks, missing = [], []
    for day in calendar.due_days(first, today):
        deadline = calendar.deadline(day)
        came = [arrivals.get((day, n)) for n in range(1, calendar.files + 1)]
        arrived = [moment for moment in came if moment is not None]
        complete = len(arrived) == calendar.files
        arrived_at = max(arrived) if complete else None
        late_by: dt.timedelta | None = None
        if complete and arrived_at is not None and arrived_at > deadline:
            late_by = arrived_at - deadline
        elif not complete and now > deadline:
            late_by = now - deadline
            missing += [
                day.isoformat() if calendar.files == 1 else f"{day.isoformat()}_{n}"
                for n, moment in enumerate(came, start=1)
                if moment is None
            ]
        checks.append(
            DeliveryCheck(day, deadline, calendar.files, len(arrived), arrived_at, late_by)
        )
    overdue = [c for c in checks if not c.complete and c.late_by is not None]
    if overdue:
        return ClientFreshness(
            client_id,
            calendar.describe(),
            "late",
            last_delivery,
            overdue[0].deadline,
            overdue[0].late_by,
            tuple(missing),
            tuple(checks),
        )
    return ClientFreshness(
        client_id,
        calendar.describe(),
        "on_time",
        last_delivery,
        _next_deadline(calendar, now, {c.due_date for c in checks if c.complete}),
        None,
        (),
        tuple(checks),
    )


def _next_deadline(
    calendar: DeliveryCalendar, now: dt.datetime, done: set[dt.date]
) -> dt.datetime | None:
    """The next deadline still to meet (a due day already complete is met)."""
    day = calendar.local_date(now) - dt.timedelta(days=1)
    for _ in range(_NEXT_DUE_SEARCH_DAYS):
        day += dt.timedelta(days=1)
        if calendar.is_due(day) and day not in done and calendar.deadline(day) > now:
            return calendar.deadline(day)
    return None


def client_freshness(
    settings: Settings,
    engine: TableEngine,
    clients: Mapping[str, ClientConfig],
    *,
    now: dt.datetime | None = None,
    days: int = 14,
) -> list[ClientFreshness]:
    """Every configured client's freshness at ``now`` (default: the current time)."""
    moment = now or dt.datetime.now(dt.UTC)
    rows = read_audit(settings, engine)
    return [
        freshness_of(
            feed,
            client.delivery,
            [
                r
                for r in rows
                if r["client_id"] and feed_of(r["client_id"], r.get("dataset"), clients) == feed
            ],
            now=moment,
            days=days,
        )
        for feed, client in sorted(clients.items())
        # A client's other datasets show only when they have a delivery calendar.
        if feed == client.client_id or client.delivery is not None
    ]
