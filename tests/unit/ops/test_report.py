"""`lakehouse report` on a small lake written with delta-rs (no Spark): the series behind each
chart, the commands for held and failed files, escaping, and that no value is in the page."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse.audit import Status
from lakehouse.cli import main
from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig
from lakehouse.engine.base import CommitRecord
from lakehouse.errors import LakehouseError
from lakehouse.ops.freshness import DeliveryCheck
from lakehouse.ops.report import build_report
from lakehouse.ops.report_html import CSP, report_html
from lakehouse.ops.report_series import (
    DayRows,
    FreshnessCell,
    action_items,
    file_reasons,
    freshness_cells,
    in_period,
    run_stages,
    silver_versions,
)

T0 = dt.datetime(2026, 1, 10, 8, 0, tzinfo=dt.UTC)  # tests/unit/ops/conftest.py
D1, D2, D3 = dt.date(2026, 1, 5), dt.date(2026, 1, 6), dt.date(2026, 1, 7)
DAY = 24 * 60  # minutes
HOSTILE = "<script>alert('x')</script>_2026-01-07.csv"
SECRET_NAME = '"Zebediah Quarantinson"'  # a value in a quarantine row: never in the page
SILVER_SECRET = "Silvia Secretworth"  # a value in a silver row: never in the page


@pytest.fixture(scope="module")
def clients() -> dict[str, ClientConfig]:
    return load_clients(Path(__file__).resolve().parents[3] / "clients")


def _silver(lake: Any, client: str, rows: int, source_file: str) -> None:
    table = pa.table(
        {
            "client_id": [client] * rows,
            "member_id": [f"{source_file}-{i}" for i in range(rows)],
            "first_name": [SILVER_SECRET] * rows,
        }
    )
    lake.engine.append(
        lake.settings.table_path("silver", "members"),
        table,
        partition_by=["client_id"],
        metadata={"source_file": source_file},
    )


@pytest.fixture()
def small_lake(lake: Any) -> Any:
    """acme: two ingested days (one file re-run by a backfill), a held file, a failed one
    with a hostile name; globex: one ingested file, three days later."""
    stages = {"read": 1.0, "bronze": 0.5, "validate": 0.25, "quarantine": 0.25, "silver": 2.0}
    lake.audit(
        "acme_2026-01-05.csv", Status.SUCCESS, read=10, quarantined=2, created=D1, stages=stages
    )
    lake.audit(
        "acme_2026-01-06.csv",
        Status.SUCCESS,
        read=8,
        quarantined=0,
        created=D2,
        minutes=1,
        stages=stages,
        reason="sequence_gap:missing=1",
    )
    lake.audit(
        "acme_2026-01-07.csv",
        Status.HELD,
        read=6,
        quarantined=4,
        created=D3,
        minutes=2,
        stages={"read": 0.5},
    )
    lake.audit(HOSTILE, Status.FAILED, minutes=3, created=D3)
    lake.audit(
        "acme_2026-01-05.csv",
        Status.SUCCESS,
        read=10,
        quarantined=3,
        created=D1,
        minutes=10,
        run_id="backfill-abc",
        reason="backfill",
        stages={"read": 4.0, "extra": 1.0},
    )
    lake.audit(
        "globex_2026-01-08_1.csv",
        Status.SUCCESS,
        client="globex",
        read=5,
        quarantined=1,
        created=dt.date(2026, 1, 8),
        minutes=3 * DAY,
        run_id="run-3",
        stages=stages,
    )
    lake.audit(
        "nobody.csv",
        Status.REJECTED,
        client=None,
        minutes=3 * DAY,
        run_id="run-3",
        reason="misnamed_file",
    )
    lake.quarantine(
        [
            {
                "client_id": "acme",
                "first_name": SECRET_NAME,
                "_source_file": "acme_2026-01-05.csv",
                "_creation_date": D1,
                "_reasons": ["dob:future", "zip:format"],
            },
            {
                "client_id": "acme",
                "first_name": SECRET_NAME,
                "_source_file": "acme_2026-01-05.csv",
                "_creation_date": D1,
                "_reasons": ["dob:future"],
            },
            {
                "client_id": "acme",
                "first_name": SECRET_NAME,
                "_source_file": "acme_2026-01-07.csv",
                "_creation_date": D3,
                "_reasons": ["zip:format"],
            },
            {
                "client_id": "globex",
                "first_name": SECRET_NAME,
                "_source_file": "globex_2026-01-08_1.csv",
                "_creation_date": dt.date(2026, 1, 8),
                "_reasons": ["email:format"],
            },
        ]
    )
    _silver(lake, "acme", 8, "acme_2026-01-05.csv")
    _silver(lake, "acme", 8, "acme_2026-01-06.csv")
    _silver(lake, "globex", 4, "globex_2026-01-08_1.csv")
    DeltaTable(str(lake.settings.table_path("silver", "members"))).delete(
        "member_id = 'acme_2026-01-06.csv-0'"
    )
    return lake


NOW = T0 + dt.timedelta(days=5)


def test_rows_per_day_counts_each_file_once_by_its_latest_outcome(
    small_lake: Any, clients: dict[str, ClientConfig]
) -> None:
    data = build_report(small_lake.settings, small_lake.engine, clients, now=NOW)
    assert data.rows_per_day == {
        # the backfill's row (7 valid, 3 quarantined) replaced the first ingest's
        "acme": (DayRows(D1, 7, 3, 0), DayRows(D2, 8, 0, 0), DayRows(D3, 0, 0, 6)),
        "globex": (DayRows(dt.date(2026, 1, 8), 4, 1, 0),),
    }
    assert data.clients == ("acme", "globex")
    acme = data.summaries[0]
    assert acme["files_ingested"] == 2 and acme["files_held"] == 1 and acme["files_failed"] == 1
    assert acme["rows_read"] == 18 and acme["rows_quarantined"] == 3
    assert acme["silver_rows"] == 15


def test_reason_codes_are_counted_per_creation_date(
    small_lake: Any, clients: dict[str, ClientConfig]
) -> None:
    data = build_report(small_lake.settings, small_lake.engine, clients, now=NOW)
    assert data.row_reasons == {
        "acme": {(D1, "dob:future"): 2, (D1, "zip:format"): 1, (D3, "zip:format"): 1},
        "globex": {(dt.date(2026, 1, 8), "email:format"): 1},
    }
    codes = {(r["client_id"], r["status"], r["code"]): r["files"] for r in data.file_reasons}
    assert codes == {
        ("acme", "SUCCESS", "sequence_gap"): 1,
        ("acme", "SUCCESS", "backfill"): 1,
        ("-", "REJECTED", "misnamed_file"): 1,
    }


def test_file_reason_details_are_dropped() -> None:
    rows = [
        {
            "status": "DUPLICATE",
            "client_id": "acme",
            "reason": "duplicate_of:other.csv",
            "finished_at": T0,
        }
    ]
    assert [r["code"] for r in file_reasons(rows)] == ["duplicate_of"]


def test_stage_seconds_are_summed_per_run_in_pipeline_order(
    small_lake: Any, clients: dict[str, ClientConfig]
) -> None:
    runs = build_report(small_lake.settings, small_lake.engine, clients, now=NOW).runs
    assert [(r.run_id, r.files) for r in runs] == [("run-1", 3), ("backfill-abc", 1), ("run-3", 1)]
    assert list(runs[0].seconds) == ["read", "bronze", "validate", "quarantine", "silver"]
    assert runs[0].seconds["read"] == 2.5 and runs[0].seconds["silver"] == 4.0
    assert dict(runs[1].seconds) == {"read": 4.0, "extra": 1.0}
    assert run_stages([{"run_id": "r", "started_at": T0, "stage_seconds": {}}]) == ()


def test_silver_versions_count_rows_back_from_the_table_now(
    small_lake: Any, clients: dict[str, ClientConfig]
) -> None:
    silver = build_report(small_lake.settings, small_lake.engine, clients, now=NOW).silver
    assert [(v.operation, v.inserted, v.deleted, v.rows) for v in silver] == [
        ("WRITE", 8, None, 8),
        ("WRITE", 8, None, 16),
        ("WRITE", 4, None, 20),
        ("DELETE", None, 1, 19),
    ]
    acme = build_report(
        small_lake.settings, small_lake.engine, clients, client_id="acme", now=NOW
    ).silver
    # one client: its files' commits, anchored at its partition's rows (the erasure-style
    # delete names no file, so it is not the client's)
    assert [(v.inserted, v.rows) for v in acme] == [(8, 7), (8, 15)]


def test_silver_sizes_before_an_uncounted_append_are_unknown() -> None:
    commits = [
        CommitRecord(0, None, "WRITE"),  # a Spark-staged append: no metrics
        CommitRecord(1, None, "MERGE", inserted=2, updated=1, deleted=0),
    ]
    assert [v.rows for v in silver_versions(commits, current_rows=10)] == [8, 10]
    commits.insert(0, CommitRecord(-1, None, "WRITE", inserted=3))
    assert [v.rows for v in silver_versions(commits, current_rows=10)] == [None, 8, 10]


def test_freshness_shows_each_due_delivery_against_its_deadline(
    small_lake: Any, clients: dict[str, ClientConfig]
) -> None:
    data = build_report(small_lake.settings, small_lake.engine, clients, now=NOW)
    cells = freshness_cells(data.freshness)
    # acme is due Mondays 06:00 New York + 2h (13:00 UTC): the 2026-01-05 file was first
    # audited on 2026-01-10 08:00 UTC; nothing came for 2026-01-12.
    assert [(c.due_date, c.state, c.label) for c in cells["acme"]] == [
        (D1, "late", "+4.8 d"),
        (dt.date(2026, 1, 12), "missing", "missing"),
    ]
    assert cells["acme"][0].deadline == dt.datetime(2026, 1, 5, 13, 0, tzinfo=dt.UTC)
    assert [c.state for c in cells["globex"]] == ["missing"]
    html = report_html(small_lake.settings, small_lake.engine, clients, now=NOW)
    assert 'id="chart-freshness"' in html and "weekly on MON by 06:00" in html


def test_freshness_cells_cover_every_state() -> None:
    deadline = dt.datetime(2026, 3, 2, 11, 0, tzinfo=dt.UTC)

    def check(expected: int, delivered: int, late: float | None) -> DeliveryCheck:
        late_by = None if late is None else dt.timedelta(hours=late)
        return DeliveryCheck(dt.date(2026, 3, 2), deadline, expected, delivered, None, late_by)

    fresh = type("F", (), {"client_id": "c", "status": "late"})()
    fresh.checks = (check(2, 2, None), check(2, 2, 5), check(2, 1, 30), check(1, 0, None))
    assert [(c.state, c.label) for c in freshness_cells([fresh])["c"]] == [
        ("on_time", "on time"),
        ("late", "+5.0 h"),
        ("missing", "1/2 missing"),
        ("not_due", "due"),
    ]
    fresh.status = "no_calendar"
    assert freshness_cells([fresh]) == {}
    assert isinstance(FreshnessCell(dt.date(2026, 3, 2), deadline, "late", "x"), FreshnessCell)


def test_held_and_failed_files_come_with_the_command_to_run(small_lake: Any) -> None:
    from lakehouse.ops.audit_views import read_audit

    rows = read_audit(small_lake.settings, small_lake.engine)
    held, failed = action_items(rows)
    assert [(h.file_name, h.command) for h in held] == [
        ("acme_2026-01-07.csv", "lakehouse release --file acme_2026-01-07.csv")
    ]
    assert [f.file_name for f in failed] == [HOSTILE]
    assert failed[0].command == "./scripts/run_pipeline.sh --client acme"
    later = [*rows, {**rows[2], "status": "FAILED", "reason": "release", "finished_at": NOW}]
    held, failed = action_items(later)
    assert held == [] and failed[0].command == "lakehouse release --file acme_2026-01-07.csv"
    backfill = {**rows[0], "status": "FAILED", "run_id": "backfill-x", "finished_at": NOW}
    assert action_items([backfill])[1][0].command == (
        "./scripts/run_pipeline.sh --backfill --client acme --from 2026-01-05 --to 2026-01-05"
    )


def test_since_keeps_files_processed_on_or_after_the_date(
    small_lake: Any, clients: dict[str, ClientConfig]
) -> None:
    since = (T0 + dt.timedelta(days=3)).date()
    data = build_report(small_lake.settings, small_lake.engine, clients, since=since, now=NOW)
    assert set(data.rows_per_day) == {"globex"}
    assert set(data.row_reasons) == {"globex"}
    assert [r.run_id for r in data.runs] == ["run-3"]
    assert data.held == () and data.failed == ()
    assert [s["files"] for s in data.summaries] == [0, 1]
    html = report_html(small_lake.settings, small_lake.engine, clients, since=since, now=NOW)
    assert "acme_2026-01-07.csv" not in html and "no file is held" in html
    assert in_period([{"finished_at": None, "started_at": None}], since=since, client_id=None) == []


class _Collect(HTMLParser):
    """The page's elements and text, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_page_escapes_file_names_and_holds_no_values(
    small_lake: Any, clients: dict[str, ClientConfig]
) -> None:
    html = report_html(small_lake.settings, small_lake.engine, clients, now=NOW)
    parsed = _Collect()
    parsed.feed(html)
    assert "script" not in parsed.tags
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;_2026-01-07.csv" in html
    assert HOSTILE in "".join(parsed.text)  # shown to the reader as it is named
    for value in ("Zebediah", "Quarantinson", "Silvia", "Secretworth"):
        assert value not in html
    assert f'content="{CSP}"'.replace("'", "&#x27;") in html
    assert "default-src 'none'" in CSP and "script-src 'none'" in CSP
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    for chart in ("chart-rows", "chart-reasons", "chart-stages", "chart-silver"):
        assert f'id="{chart}"' in html
    assert "lakehouse release --file acme_2026-01-07.csv" in html


def test_an_empty_lake_renders_every_chart_empty(
    lake: Any, clients: dict[str, ClientConfig]
) -> None:
    html = report_html(lake.settings, lake.engine, clients, now=NOW)
    assert html.count(">no data in this period<") == 2  # the SVG's text
    assert "no run in this period" in html and "no silver commit in this period" in html


def test_cli_writes_the_report_and_refuses_an_unknown_client(
    small_lake: Any, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out" / "report.html"
    lake_args = [
        "--lake-root",
        str(small_lake.settings.lake_root),
        "--clients-dir",
        str(small_lake.settings.clients_dir),
    ]
    assert main(["report", *lake_args, "--out", str(out), "--client", "acme"]) == 0
    assert "acme_2026-01-07.csv" in out.read_text(encoding="utf-8")
    assert "globex_2026-01-08_1.csv" not in out.read_text(encoding="utf-8")
    assert main(["report", *lake_args, "--out", str(out), "--client", "nope"]) == 1
    assert "unknown client 'nope'" in capsys.readouterr().err
    with pytest.raises(LakehouseError):
        build_report(small_lake.settings, small_lake.engine, {}, client_id="acme")


def test_chart_labels_are_escaped_text_and_long_histories_are_capped() -> None:
    from lakehouse.ops.report_charts import MAX_RUNS, stages_chart
    from lakehouse.ops.report_series import RunStages

    hostile = RunStages("<script>alert(1)</script>$x$", T0, 1, {"read": 1.0})
    svg = stages_chart([hostile])
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;$x$" in svg
    many = [RunStages(f"run-{i:03}", T0, 1, {"read": 1.0}) for i in range(MAX_RUNS + 5)]
    svg = stages_chart(many)
    assert "run-004 " not in svg and "run-005 (1 file)" in svg
    assert f"the latest {MAX_RUNS} of {MAX_RUNS + 5} runs" in svg
