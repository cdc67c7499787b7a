"""`lakehouse report` of the session's demo lake, opened in a real headless Chromium (Debian's,
driven by Playwright) with every network request blocked: the page loads without errors, every
chart draws, nothing but the file itself is requested, and a hostile file name stays text.

No Spark: the report reads the demo lake in place; the held/failed case works on a copy with
two audit rows added through delta-rs.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e_support import DemoLake, Workspace, run

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("LAKEHOUSE_CHROMIUM", "/usr/bin/chromium"))
# What a closed network needs: no sandbox as root, no GPU, none of Chromium's own traffic.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
CHARTS = ("chart-rows", "chart-freshness", "chart-reasons", "chart-stages", "chart-silver")
HELD = "acme_2026-02-09.csv"
HOSTILE = "acme_<img src=x onerror=alert(1)><script>alert(2)</script>.csv"


@dataclass
class Visit:
    """What the browser saw of one page."""

    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing; ./scripts/test.sh installs Debian's chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        yield chromium
        chromium.close()


def _report(workspace: Workspace, out: Path, *extra: str) -> Path:
    result = run(["lakehouse", "report", "--out", str(out), *extra], workspace.env())
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _open(browser: Any, report: Path) -> tuple[Any, Visit]:
    visit = Visit()
    url = report.resolve().as_uri()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()

    def route(route: Any) -> None:
        if route.request.url == url:
            route.continue_()
        else:
            visit.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("console", lambda m: visit.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: visit.page_errors.append(str(error)))
    page.on("dialog", lambda dialog: (visit.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(url, wait_until="load")
    return page, visit


def _assert_clean(visit: Visit, report: Path) -> None:
    assert visit.requests == [report.resolve().as_uri()], "only the file itself is loaded"
    assert visit.blocked == []
    assert visit.console_errors == [] and visit.page_errors == [] and visit.dialogs == []


def _keep(page: Any, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot under tmp_path and, with LAKEHOUSE_TEST_ARTIFACTS, there too."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    kept = [shot]
    artifacts = os.environ.get("LAKEHOUSE_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        kept.append(Path(shutil.copy(shot, Path(artifacts) / name)))
    print(f"report screenshot: {', '.join(map(str, kept))}")  # noqa: T201 - where it is kept
    return shot


def test_demo_report_renders_every_chart_offline(
    demo_lake: DemoLake, browser: Any, tmp_path: Path
) -> None:
    report = _report(demo_lake.workspace, tmp_path / "report.html")
    page, visit = _open(browser, report)
    _assert_clean(visit, report)
    for chart in CHARTS:
        svg = page.locator(f"figure[data-chart='{chart}'] svg#{chart}")
        assert svg.count() == 1, chart
        box = svg.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 50, (chart, box)
        assert svg.locator("path, rect, text, use").count() > 10, chart
    assert page.locator("figure.chart svg").count() == len(CHARTS)
    summary = page.locator("#summary-table tbody tr")
    assert {"acme", "globex"} <= set(summary.locator("td:first-child").all_inner_texts())
    # Demo files carry their creation dates in the audit: every ingested one has a bar.
    text = page.locator("body").inner_text()
    assert str(demo_lake.workspace.lake) in text and "all audited files" in text
    assert "no file is held" in text  # the demo holds no file (see the next test)
    _keep(page, "report.png", tmp_path)


def _add_held_and_failed(lake: DemoLake) -> None:
    """A HELD file and a FAILED one with a hostile name, as the audit would record them."""
    from lakehouse.audit import AuditRecord, Status, append_audit
    from lakehouse.engine.deltars import DeltaRsEngine

    now = dt.datetime.now(dt.UTC)
    held = AuditRecord(
        client_id="acme",
        file_name=HELD,
        run_id="run-report-e2e",
        engine="delta-rs",
        started_at=now,
        status=Status.HELD,
        creation_date=dt.date(2026, 2, 9),
        sequence=0,
        reason="invalid_ratio:0.40>0.20",
        rows_read=10,
        rows_valid=6,
        rows_quarantined=4,
        finished_at=now,
        stage_seconds={"read": 0.5, "bronze": 0.4, "validate": 0.3, "quarantine": 0.2},
    )
    failed = AuditRecord(
        client_id="acme",
        file_name=HOSTILE,
        run_id="run-report-e2e",
        engine="delta-rs",
        started_at=now,
        status=Status.FAILED,
        error="OSError: '<withheld>'",
        finished_at=now,
    )
    append_audit(DeltaRsEngine(), lake.workspace.lake / "audit" / "files", [held, failed])


def test_held_and_failed_files_list_the_command_and_a_hostile_name_stays_text(
    demo_lake: DemoLake, browser: Any, tmp_path: Path
) -> None:
    lake = demo_lake.copy(tmp_path)
    _add_held_and_failed(lake)
    report = _report(lake.workspace, tmp_path / "report.html", "--client", "acme")
    page, visit = _open(browser, report)
    _assert_clean(visit, report)  # no alert(): the name neither ran nor loaded anything
    held = page.locator("#held-table tbody tr")
    assert held.count() == 1
    assert held.locator("td").nth(1).inner_text() == HELD
    assert held.locator("code").inner_text() == f"lakehouse release --file {HELD}"
    failed = page.locator("#failed-table tbody tr")
    assert failed.locator("td").nth(1).inner_text() == HOSTILE
    assert failed.locator("code").inner_text() == "./scripts/run_pipeline.sh --client acme"
    assert page.locator("img").count() == 0 and page.locator("script").count() == 0
    _keep(page, "report-held.png", tmp_path)
