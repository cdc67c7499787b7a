"""Delivery: retries, down and hanging sinks, the outbox across runs, suppression, resolves,
routing. Every receiver is a real server on 127.0.0.1 (or a port nobody listens on)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alert_support import (
    SLACK_URL_ENV,
    alerter_for,
    free_port,
    ledger_rows,
    settings_with,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from lakehouse.alerts import Alert, Alerter, AlertKind, Route
from lakehouse.alerts.config import Delivery


def _held(file_name: str = "acme_2026-03-01.csv", client: str = "acme") -> Alert:
    return Alert(AlertKind.FILE_HELD, client, file_name, "run-1", "file held", {"rows_read": 3})


def _failed(client: str = "acme") -> Alert:
    return Alert(AlertKind.FILE_FAILED, client, f"{client}_2026-03-01.csv", "run-1", "failed")


def _slack(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "team", "type": "slack", "url_secret": SLACK_URL_ENV, **extra}


def _statuses(rows: list[dict[str, Any]], sink: str = "team") -> list[str]:
    ordered = sorted((r for r in rows if r["sink"] == sink), key=lambda r: r["recorded_at"])
    return [r["status"] for r in ordered]


def test_a_sink_is_retried_with_backoff_until_it_answers(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request("/hook").respond_with_data("busy", status=503)
    httpserver.expect_oneshot_request("/hook").respond_with_data("busy", status=500)
    httpserver.expect_request("/hook").respond_with_data("ok")
    settings = settings_with(tmp_path, [_slack("")])
    alerter = alerter_for(settings, {SLACK_URL_ENV: httpserver.url_for("/hook")})
    alerter.emit(_held())
    assert alerter.close().pending == 0
    assert len(httpserver.log) == 3
    (delivered,) = [
        r for r in ledger_rows(settings) if r["status"] == "DELIVERED" and r["sink"] == "team"
    ]
    assert delivered["attempts"] == 3


def test_a_refusing_sink_is_not_retried_in_the_run(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("no such hook", status=404)
    settings = settings_with(tmp_path, [_slack("")])
    alerter = alerter_for(settings, {SLACK_URL_ENV: httpserver.url_for("/hook")})
    alerter.emit(_held())
    summary = alerter.close()
    assert (summary.failed, summary.pending) == (1, 1)
    assert len(httpserver.log) == 1
    (failed,) = [r for r in ledger_rows(settings) if r["status"] == "FAILED"]
    assert failed["error"] == "DeliveryError(HTTP 404)"


def test_a_down_sink_never_raises_and_the_next_run_delivers(tmp_path: Path) -> None:
    port = free_port()  # nobody listens here yet
    settings = settings_with(tmp_path, [_slack("")])
    env = {SLACK_URL_ENV: f"http://127.0.0.1:{port}/hook"}
    alerter = alerter_for(settings, env)
    alerter.emit(_held("acme_2026-03-01.csv"))
    alerter.emit(_held("acme_2026-03-02.csv"))  # the sink is down: not tried again this run
    started = time.monotonic()
    summary = alerter.close()
    assert time.monotonic() - started < 2
    assert (summary.failed, summary.pending) == (1, 2)
    assert _statuses(ledger_rows(settings)) == ["PENDING", "PENDING", "FAILED"]
    (failed,) = [r for r in ledger_rows(settings) if r["status"] == "FAILED"]
    assert failed["attempts"] == 3 and failed["error"] == "URLError"

    server = HTTPServer(host="127.0.0.1", port=port)
    server.expect_request("/hook").respond_with_data("ok")
    server.start()
    try:
        summary = alerter_for(settings, env).close()  # the next run: nothing new to say
    finally:
        server.stop()
    assert (summary.delivered, summary.pending) == (2, 0)
    files = [r.get_json()["blocks"][2]["fields"][1]["text"] for r, _ in server.log]
    assert files == ["*File*\nacme_2026-03-01.csv", "*File*\nacme_2026-03-02.csv"]


@pytest.fixture()
def hanging_server() -> Iterator[tuple[HTTPServer, threading.Event]]:
    """Answers only once released (or after 5 s): a sink that hangs past the timeout."""
    release = threading.Event()
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)

    def hang(request: Request) -> Response:
        release.wait(5)
        return Response("late")

    server.expect_request("/hook").respond_with_handler(hang)
    server.start()
    try:
        yield server, release
    finally:
        release.set()
        server.stop()


def test_a_hanging_sink_costs_at_most_the_alert_budget(
    tmp_path: Path, hanging_server: tuple[HTTPServer, threading.Event]
) -> None:
    server, release = hanging_server
    settings = settings_with(
        tmp_path, [_slack("")], timeout_seconds=0.3, attempts=5, alert_budget_seconds=0.8
    )
    env = {SLACK_URL_ENV: server.url_for("/hook")}
    alerter = alerter_for(settings, env)
    alerter.emit(_held())
    started = time.monotonic()
    summary = alerter.close()
    assert time.monotonic() - started < 1.2  # within the alert's budget, not 5 x 0.3 s
    assert summary.pending == 1
    (failed,) = [r for r in ledger_rows(settings) if r["status"] == "FAILED"]
    assert failed["error"] in ("TimeoutError", "URLError") and failed["attempts"] >= 2

    release.set()
    server.clear()
    server.expect_request("/hook").respond_with_data("ok")
    assert alerter_for(settings, env).close().pending == 0
    assert _statuses(ledger_rows(settings))[-1] == "DELIVERED"


def test_the_run_budget_bounds_all_delivery(
    tmp_path: Path, hanging_server: tuple[HTTPServer, threading.Event]
) -> None:
    """Two hanging sinks: the first spends most of the run's budget, the second the rest;
    delivery then stops for the run and every undelivered row waits for the next."""
    server, _ = hanging_server
    sinks = [
        {"name": "team", "type": "slack", "url_secret": "TEAM_URL"},
        {"name": "other", "type": "slack", "url_secret": "OTHER_URL"},
    ]
    settings = settings_with(
        tmp_path, sinks, timeout_seconds=0.4, alert_budget_seconds=0.4, run_budget_seconds=0.6
    )
    url = server.url_for("/hook")
    alerter = alerter_for(settings, {"TEAM_URL": url, "OTHER_URL": url})
    for client in ("acme", "globex", "initech"):
        alerter.emit(_failed(client))
    started = time.monotonic()
    summary = alerter.close()
    assert time.monotonic() - started < 0.9
    assert (summary.delivered, summary.pending) == (3, 6)  # the log sink's three


def test_a_crash_after_recording_loses_nothing(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    settings = settings_with(tmp_path, [_slack("")])
    env = {SLACK_URL_ENV: httpserver.url_for("/hook")}
    crashed = alerter_for(settings, env)
    crashed.emit(_held())
    crashed.record()  # the process dies here: recorded, never sent
    assert httpserver.log == []
    assert alerter_for(settings, env).close().delivered == 2  # log + slack, once each
    assert len(httpserver.log) == 1


def test_repeats_within_the_window_are_suppressed(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    settings = settings_with(tmp_path, [_slack("")])
    env = {SLACK_URL_ENV: httpserver.url_for("/hook")}
    first = alerter_for(settings, env)
    first.emit(_held())
    first.emit(_held())
    first.close()
    second = alerter_for(settings, env)  # the next run fails the same file again
    second.emit(_held())
    assert second.close().suppressed == 2  # log and slack
    assert len(httpserver.log) == 1
    assert _statuses(ledger_rows(settings)).count("SUPPRESSED") == 2

    third = alerter_for(settings, env)
    resolve = _held()
    third.emit(Alert(resolve.kind, "acme", resolve.file_name, "run-3", "ok", action="resolve"))
    third.emit(_held())  # a new incident after the resolve is sent again
    third.close()
    assert [r.get_json()["text"].split()[1] for r, _ in httpserver.log] == [
        "WARNING",
        "RESOLVED",
        "WARNING",
    ]


def test_without_a_window_every_repeat_is_sent(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    settings = settings_with(tmp_path, [_slack("")], suppress_minutes=0)
    alerter = alerter_for(settings, {SLACK_URL_ENV: httpserver.url_for("/hook")})
    alerter.emit(_held())
    alerter.emit(_held())
    alerter.close()
    assert len(httpserver.log) == 2


def test_a_resolve_of_a_condition_that_is_not_open_is_a_no_op(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    settings = settings_with(tmp_path, [_slack("", min_severity="info")])
    alerter = alerter_for(settings, {SLACK_URL_ENV: httpserver.url_for("/hook")})
    alerter.emit(Alert(AlertKind.FILE_HELD, "acme", "x.csv", "r", "ok", action="resolve"))
    summary = alerter.close()
    assert (summary.delivered, summary.pending) == (0, 0)
    assert httpserver.log == [] and ledger_rows(settings) == []


def test_routing_by_client_and_severity_and_resolves_follow_their_trigger(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    for path in ("/acme", "/pager"):
        httpserver.expect_request(path).respond_with_data("ok")
    sinks = [
        {"name": "acme-team", "type": "slack", "url_secret": "ACME_URL", "clients": ["acme"]},
        {"name": "pager", "type": "slack", "url_secret": "PAGER_URL", "min_severity": "critical"},
    ]
    settings = settings_with(tmp_path, sinks)
    env = {"ACME_URL": httpserver.url_for("/acme"), "PAGER_URL": httpserver.url_for("/pager")}
    alerter = alerter_for(settings, env)
    alerter.emit(_held(client="acme"))  # warning: acme-team only
    alerter.emit(_held("globex_2026-03-01.csv", client="globex"))  # warning, globex: nowhere
    alerter.emit(_failed(client="globex"))  # critical, globex: pager only
    alerter.emit(
        Alert(
            AlertKind.FILE_FAILED, "globex", "globex_2026-03-01.csv", "r2", "ok", action="resolve"
        )
    )  # info, but it follows its trigger to the pager
    alerter.close()
    got = [(r.path, r.get_json()["text"].split(" ", 3)[1:3]) for r, _ in httpserver.log]
    assert got == [
        ("/acme", ["WARNING", "file_held"]),
        ("/pager", ["CRITICAL", "file_failed"]),
        ("/pager", ["RESOLVED", "file_failed"]),
    ]


class _Broken:
    name = "broken"

    def deliver(self, alert: Alert, *, timeout: float) -> None:
        raise ConnectionError("down")


class _Recording:
    name = "recording"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def deliver(self, alert: Alert, *, timeout: float) -> None:
        self.alerts.append(alert)


def test_one_broken_sink_does_not_stop_the_others() -> None:
    recording = _Recording()
    routes = {"broken": Route(), "recording": Route()}
    fast = Delivery(attempts=1, timeout_seconds=0.5)
    alerter = Alerter([_Broken(), recording], routes, fast, engine=None, ledger=None)
    alerter.emit(_held())
    summary = alerter.close()
    assert len(recording.alerts) == 1 and (summary.failed, summary.pending) == (1, 1)
    assert summary.undelivered == ("broken lakehouse:file_held:acme:acme_2026-03-01.csv",)


def test_a_run_that_never_ends_retries_a_down_sink_in_its_next_budget_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakehouse.alerts import alerter as alerter_module

    port = free_port()
    settings = settings_with(tmp_path, [_slack("")])
    alerter = alerter_for(settings, {SLACK_URL_ENV: f"http://127.0.0.1:{port}/hook"})
    alerter.emit(_held())
    alerter.deliver()  # down: FAILED, skipped for the rest of this window
    server = HTTPServer(host="127.0.0.1", port=port)
    server.expect_request("/hook").respond_with_data("ok")
    server.start()
    try:
        alerter.deliver()
        assert server.log == []  # same window: not tried again
        monkeypatch.setattr(alerter_module, "BUDGET_WINDOW_SECONDS", 0.0)
        alerter.deliver()
    finally:
        server.stop()
    assert len(server.log) == 1 and alerter.close().pending == 0
