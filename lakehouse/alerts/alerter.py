"""The ``Alerter``: routes alerts to sinks, records them in the ledger, delivers them.

Durable first: ``emit`` decides, per routed sink, PENDING (to send) or SUPPRESSED (a repeat of
an open alert within the window); ``record`` appends those rows in one commit; ``deliver``
sends what is not DELIVERED yet (this run's and earlier runs' leftovers), oldest first, and
appends the outcomes in one commit. A crash between the two leaves PENDING rows the next
run's ``Alerter`` sends.

Time bounds (``alerts.delivery``): each attempt ``timeout_seconds`` (a hard bound: a sink
that never answers is abandoned); ``attempts`` with exponential backoff, all within
``alert_budget_seconds`` per alert and sink; a sink that fails an alert is skipped for the
rest of the run; delivery stops for the run after ``run_budget_seconds`` (the log sink, local
and instant, is always written). A run is therefore held up by at most
``run_budget_seconds`` (default 60 s) of delivery; a run that never ends
(``processing_time``) gets a fresh budget every ``BUDGET_WINDOW_SECONDS``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.alerts.config import AlertSettings, Delivery
from lakehouse.alerts.event import Alert, AlertKind, dedup_key, severity_rank
from lakehouse.alerts.ledger import (
    DeliveryStatus,
    LedgerRow,
    LedgerState,
    append_rows,
    ledger_path,
    read_rows,
)
from lakehouse.alerts.secrets import SecretSource
from lakehouse.alerts.sinks import DeliveryError, LogSink, Sink, build_sink
from lakehouse.engine.base import TableEngine

if TYPE_CHECKING:
    from lakehouse.config.models import Settings

__all__ = ["Alerter", "DeliverySummary", "Route"]

log = logging.getLogger("lakehouse.alerts")

# A run that never ends (trigger: processing_time) gets a fresh run budget, and another try
# at sinks that were down, every this many seconds.
BUDGET_WINDOW_SECONDS = 600.0


@dataclass(frozen=True)
class Route:
    """Which triggers a sink takes: these clients (None: all) at or above a severity."""

    clients: frozenset[str] | None = None
    min_rank: int = 0

    def takes(self, alert: Alert) -> bool:
        if severity_rank(alert.severity) < self.min_rank:
            return False
        return self.clients is None or alert.client_id in self.clients


@dataclass(frozen=True)
class DeliverySummary:
    """What an ``Alerter`` did in this run; ``pending`` alerts wait in the ledger."""

    delivered: int
    failed: int
    suppressed: int
    pending: int
    seconds: float
    undelivered: tuple[str, ...]  # "<sink> <dedup key>" left for the next run

    @property
    def ok(self) -> bool:
        return self.pending == 0


def _bounded(call: Callable[[], None], seconds: float) -> None:
    """Run ``call``; give up after ``seconds`` even if it never returns (a hung socket)."""
    errors: list[Exception] = []

    def run() -> None:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread below
            errors.append(exc)

    worker = threading.Thread(target=run, name="lakehouse-alert", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {seconds:.1f}s")
    if errors:
        raise errors[0]


def _error_name(exc: Exception) -> str:
    # Class and HTTP status only: messages of network errors can quote URLs (secrets).
    if isinstance(exc, DeliveryError):
        return f"DeliveryError({exc.message.rsplit(': ', 1)[-1]})"
    return type(exc).__name__


class Alerter:
    """Routes, records and delivers alerts for one run (or one command)."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        routes: Mapping[str, Route],
        delivery: Delivery,
        *,
        engine: TableEngine | None,
        ledger: Path | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._sinks = {sink.name: sink for sink in sinks}
        self._routes = dict(routes)
        self._delivery = delivery
        self._engine = engine
        self._ledger = ledger
        self._sleep = sleep
        self._state: LedgerState | None = None
        self._queue: list[LedgerRow] = []
        self._down: set[str] = set()
        self._spent = 0.0
        self._window_started = time.monotonic()
        self._counts = {status: 0 for status in DeliveryStatus}
        self._last_raised = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._lock = threading.RLock()  # streams may commit from several threads

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        engine: TableEngine,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> Alerter:
        """The run's Alerter: the log sink plus ``settings.alerts.sinks``, secrets resolved.

        Raises:
            ConfigError: a sink's secret is missing or malformed (names sink and variable).
        """
        return cls.from_alert_settings(
            settings.alerts,
            engine,
            ledger=ledger_path(settings.lake_root),
            environ=os.environ if environ is None else environ,
        )

    @classmethod
    def from_alert_settings(
        cls,
        config: AlertSettings,
        engine: TableEngine | None,
        *,
        ledger: Path | None,
        environ: Mapping[str, str],
    ) -> Alerter:
        secrets = SecretSource(environ)
        sinks: list[Sink] = [LogSink()]
        routes = {"log": Route()}
        for sink in config.sinks:
            sinks.append(build_sink(sink, secrets))
            clients = frozenset(sink.clients) if sink.clients is not None else None
            routes[sink.name] = Route(clients, severity_rank(sink.min_severity))
        return cls(sinks, routes, config.delivery, engine=engine, ledger=ledger)

    @classmethod
    def log_only(cls) -> Alerter:
        """The log sink and no ledger (nothing durable): for tests and read-only tools."""
        return cls([LogSink()], {"log": Route()}, Delivery(), engine=None, ledger=None)

    @property
    def sink_names(self) -> list[str]:
        return list(self._sinks)

    def _loaded(self) -> LedgerState:
        if self._state is None:
            rows = []
            if self._engine is not None and self._ledger is not None:
                rows = read_rows(self._engine, self._ledger)
            self._state = LedgerState.of(rows)
        return self._state

    def is_open(self, kind: AlertKind, client_id: str | None, subject: str) -> bool:
        """True when a trigger of this condition has no later resolve (at any sink)."""
        with self._lock:
            return bool(self._loaded().open_sinks(dedup_key(kind, client_id, subject)))

    def emit(self, alert: Alert, *, only: Sequence[str] | None = None) -> None:
        """Queue ``alert`` for the sinks its route selects; ``record``/``deliver``/``close``
        persist and send it. A resolve goes where its condition is open, and nowhere (a
        no-op) when it is not open. ``only``: exactly these sinks, whatever their routes
        (``lakehouse alerts test``)."""
        with self._lock:
            state = self._loaded()
            # Strictly increasing times: a trigger and its resolve never tie.
            if alert.raised_at <= self._last_raised:
                alert = replace(alert, raised_at=self._last_raised + dt.timedelta(microseconds=1))
            self._last_raised = alert.raised_at
            key = alert.dedup_key
            if alert.action == "resolve":
                targets = [s for s in state.open_sinks(key) if s in self._sinks]
            elif only is not None:
                targets = [s for s in self._sinks if s in only]
            else:
                targets = [name for name, route in self._routes.items() if route.takes(alert)]
            if only is not None:
                targets = [s for s in targets if s in only]
            window = dt.timedelta(minutes=self._delivery.suppress_minutes)
            event_id = uuid.uuid4().hex
            for sink in targets:
                status = DeliveryStatus.PENDING
                sent = state.last_sent.get((key, sink))
                if (
                    alert.action == "trigger"
                    and state.open_at(key, sink)
                    and sent is not None
                    and alert.raised_at - sent < window
                ):
                    status = DeliveryStatus.SUPPRESSED
                    self._counts[status] += 1
                row = LedgerRow(event_id, sink, status, alert)
                state.apply(row)
                self._queue.append(row)

    def record(self) -> None:
        """Append the queued rows to the ledger (one commit); they are durable from here."""
        with self._lock:
            if self._queue and self._engine is not None and self._ledger is not None:
                append_rows(self._engine, self._ledger, self._queue)
            self._queue.clear()

    def deliver(self) -> None:
        """Record, then send everything not yet delivered, within the time bounds."""
        with self._lock:
            self.record()
            state = self._loaded()
            if time.monotonic() - self._window_started > BUDGET_WINDOW_SECONDS:
                self._window_started, self._spent = time.monotonic(), 0.0
                self._down.clear()
            results = []
            for row in state.undelivered():
                sink = self._sinks.get(row.sink)
                budget = self._delivery.run_budget_seconds - self._spent
                if isinstance(sink, LogSink):
                    budget = self._delivery.alert_budget_seconds  # local: never starved
                elif sink is None or row.sink in self._down or budget <= 0:
                    continue  # not configured now, down in this run, or out of time
                started = time.monotonic()
                status, attempts, error = self._send(sink, row.alert, budget)
                if not isinstance(sink, LogSink):
                    self._spent += time.monotonic() - started
                result = row.settled(status, row.attempts + attempts, error)
                state.apply(result)
                results.append(result)
                self._counts[status] += 1
                if status == DeliveryStatus.FAILED:
                    self._down.add(row.sink)
            if results and self._engine is not None and self._ledger is not None:
                append_rows(self._engine, self._ledger, results)

    def close(self) -> DeliverySummary:
        """Deliver what is left; what still is not delivered waits for the next run."""
        with self._lock:
            self.deliver()
            left = self._loaded().undelivered()
            summary = DeliverySummary(
                delivered=self._counts[DeliveryStatus.DELIVERED],
                failed=self._counts[DeliveryStatus.FAILED],
                suppressed=self._counts[DeliveryStatus.SUPPRESSED],
                pending=len(left),
                seconds=round(self._spent, 3),
                undelivered=tuple(f"{r.sink} {r.alert.dedup_key}" for r in left),
            )
            if left:
                log.warning(
                    "alerts not delivered; the next run retries them",
                    extra={"pending": len(left), "sinks": ",".join(sorted({r.sink for r in left}))},
                )
            return summary

    def _send(
        self, sink: Sink, alert: Alert, budget: float
    ) -> tuple[DeliveryStatus, int, str | None]:
        """Attempts with exponential backoff, all within the alert's budget."""
        delivery = self._delivery
        deadline = time.monotonic() + min(delivery.alert_budget_seconds, budget)
        attempts, error = 0, None
        for attempt in range(delivery.attempts):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            timeout = min(delivery.timeout_seconds, remaining)
            attempts += 1
            try:
                _bounded(functools.partial(sink.deliver, alert, timeout=timeout), timeout)
                return DeliveryStatus.DELIVERED, attempts, None
            except DeliveryError as exc:
                error = _error_name(exc)
                if exc.permanent:
                    break
            except Exception as exc:  # noqa: BLE001 - a sink failure must never fail the run
                error = _error_name(exc)
            wait = delivery.backoff_seconds * 2**attempt
            if attempt + 1 == delivery.attempts or time.monotonic() + wait >= deadline:
                break
            self._sleep(wait)
        log.warning(
            "alert not delivered; kept for the next run",
            extra={
                "sink": sink.name,
                "kind": alert.kind.value,
                "dedup_key": alert.dedup_key,
                "attempts": attempts,
                "error": error,
            },
        )
        return DeliveryStatus.FAILED, attempts, error
