"""The operations CLI as users run it (`lakehouse status|audit|quarantine|history|archive`,
`validate-config`, `config-schema`, `schedules render`) on the session's demo lake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from e2e_support import REPO, DemoLake, Workspace, run

pytestmark = pytest.mark.e2e

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


def lakehouse(
    args: list[str], env: dict[str, str], *, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the `lakehouse` console script; timed, since these commands must stay fast."""
    started = time.perf_counter()
    result = run([LAKEHOUSE, *args], env, timeout=120)
    elapsed = time.perf_counter() - started
    if ok:
        assert result.returncode == 0, result.stdout + result.stderr
    assert elapsed < 30, f"{args[0]} took {elapsed:.1f}s: it must not start Spark"
    return result


@pytest.fixture(scope="module")
def demo_lake(demo_lake: DemoLake) -> Workspace:
    """The session's demo lake; these commands only read it."""
    return demo_lake.workspace


def test_status_shows_each_client(demo_lake: Workspace) -> None:
    env = demo_lake.env()
    text = lakehouse(["status"], env).stdout
    header, *lines = text.splitlines()
    assert header.split()[:5] == ["client", "dataset", "files", "last", "file"]
    assert {tuple(line.split()[:2]) for line in lines if not line.startswith("umbrella")} == {
        ("acme", "members"),
        ("acme", "readings"),
        ("globex", "members"),
    }
    status = json.loads(lakehouse(["status", "--json"], env).stdout)
    readings = next(r for r in status if r["dataset"] == "readings")
    assert (readings["client_id"], readings["files_ingested"]) == ("acme", 2)
    rows = {r["client_id"]: r for r in status if r["dataset"] != "readings"}
    audit = demo_lake.table("audit/files").to_pylist()
    acme_ok = [
        r
        for r in audit
        if r["client_id"] == "acme" and r["status"] == "SUCCESS" and r["dataset"] == "members"
    ]
    assert rows["acme"]["files_ingested"] == len(acme_ok) == 4
    assert rows["acme"]["rows_read"] == sum(r["rows_read"] for r in acme_ok)
    assert 0 < rows["acme"]["quarantine_rate"] < 0.2
    silver = demo_lake.table("silver/members").column("client_id").to_pylist()
    assert rows["globex"]["silver_rows"] == silver.count("globex")
    assert rows["acme"]["last_success_at"] and rows["acme"]["files_failing"] == 0


def test_audit_filters_by_client_date_and_status(demo_lake: Workspace) -> None:
    env = demo_lake.env()
    rows = json.loads(lakehouse(["audit", "--client", "acme", "--json"], env).stdout)
    assert {r["client_id"] for r in rows} == {"acme"}
    assert Counter(r["dataset"] for r in rows) == {"members": 5, "readings": 2}
    duplicates = json.loads(
        lakehouse(["audit", "--client", "acme", "--status", "duplicate", "--json"], env).stdout
    )
    assert [r["file_name"] for r in duplicates] == ["acme_2026-02-03.csv"]
    assert json.loads(lakehouse(["audit", "--since", "2999-01-01", "--json"], env).stdout) == []
    table = lakehouse(["audit", "--client", "acme", "--since", "2020-01-01"], env).stdout
    assert "acme_2026-01-05.csv" in table and "SUCCESS" in table


def test_quarantine_summarises_reasons_without_values(demo_lake: Workspace) -> None:
    env = demo_lake.env()
    text = lakehouse(["quarantine", "--client", "acme"], env).stdout
    assert "_record:malformed" in text and "member_id:duplicate_key_in_file" in text
    rows = json.loads(lakehouse(["quarantine", "--client", "acme", "--json"], env).stdout)
    quarantine = [
        r for r in demo_lake.table("quarantine/members").to_pylist() if r["client_id"] == "acme"
    ]
    assert sum(r["rows"] for r in rows) == sum(len(r["_reasons"]) for r in quarantine)
    # No value of any quarantined row appears in the output, only codes and file names.
    values = {
        str(v)
        for r in quarantine
        for k, v in r.items()
        if v and not k.startswith("_") and k != "client_id" and len(str(v)) > 3
    }
    assert values and not [v for v in values if v in text]


def test_history_lists_versions_with_run_ids(demo_lake: Workspace) -> None:
    env = demo_lake.env()
    rows = json.loads(lakehouse(["history", "--table", "silver", "--json"], env).stdout)
    assert [r["version"] for r in rows] == list(range(demo_lake.version("silver/members"), -1, -1))
    merges = [r for r in rows if r["operation"] == "MERGE"]
    audit_runs = {r["run_id"] for r in demo_lake.table("audit/files").to_pylist()}
    assert merges and {r["run_id"] for r in merges} <= audit_runs
    text = lakehouse(["history"], env).stdout
    for table in ("silver/members:", "bronze/members:", "quarantine/members:", "audit:"):
        assert table in text


def test_processed_files_are_archived_and_sweep_has_nothing_left(demo_lake: Workspace) -> None:
    archive = demo_lake.lake / "_archive"
    assert {p.name for p in (archive / "acme").glob("*.csv")} == {
        "acme_2025-12-29.csv",
        "acme_2026-01-05.csv",
        "acme_2026-01-12.csv",
        "acme_2026-02-02.csv",
        "acme_2026-02-03.csv",
    }
    assert (archive / "_rejected/_unrouted/acme-report-final.csv").is_file()
    assert (archive / "_rejected/umbrella/umbrella_2026-01-20.csv").is_file()
    for path in (archive / "acme").glob("*.csv"):  # copy mode: same bytes in both places
        assert path.read_bytes() == (demo_lake.landing / path.name).read_bytes()
    rows = json.loads(lakehouse(["archive", "--dry-run", "--json"], demo_lake.env()).stdout)
    assert {r["action"] for r in rows} == {"already_archived"}


def test_validate_config_and_schema_and_schedules(demo_lake: Workspace, tmp_path: Path) -> None:
    env = demo_lake.env()
    assert "ok     acme" in lakehouse(["validate-config"], env).stdout
    bad = tmp_path / "clients"
    bad.mkdir()
    (bad / "acme.yaml").write_text(
        (REPO / "clients/acme.yaml").read_text().replace("type: date", "type: dat")
    )
    (bad / "globex.yaml").write_text(
        (REPO / "clients/globex.yaml").read_text().replace("merge_key:", "merge_keys:")
    )
    result = lakehouse(["validate-config", "--clients-dir", str(bad)], env, ok=False)
    assert result.returncode == 1
    assert "acme.yaml: key 'columns[birth_date].type'" in result.stdout
    assert (
        "globex.yaml: key 'merge_keys'" in result.stdout
        and "globex.yaml: key 'merge_key'" in result.stdout
    )
    schema = tmp_path / "client.schema.json"
    lakehouse(["config-schema", "--out", str(schema)], env)
    assert json.loads(schema.read_text())["title"].startswith("lakehouse client")
    crontab = lakehouse(["schedules", "render", "--format", "crontab"], env).stdout
    assert f"cd {REPO} && flock -n" in crontab
    jobs = json.loads(lakehouse(["schedules", "render", "--format", "databricks-json"], env).stdout)
    assert {j["tasks"][0]["spark_python_task"]["python_file"].rsplit("/", 2)[-2] for j in jobs} == {
        "jobs"
    }


def test_freshness_as_the_crontab_line_runs_it(demo_lake: Workspace) -> None:
    """`run_pipeline.sh --freshness` (no JVM): the demo's files are months old, so acme is
    late for the Mondays of the last two weeks, exit 1; as of the demo's own week it was not."""
    env = {k: v for k, v in demo_lake.env().items() if "KEY" not in k}  # needs no key
    started = time.perf_counter()
    # --no-alert: the session's demo lake is shared and read-only for this module
    args = ["--freshness", "--client", "acme", "--json", "--no-alert"]
    result = run(["./scripts/run_pipeline.sh", *args], env)
    assert time.perf_counter() - started < 30, "freshness must not start Spark"
    assert result.returncode == 1, result.stdout + result.stderr
    (acme,) = json.loads(result.stdout)
    assert acme["status"] == "late" and len(acme["missing"]) == 2
    assert acme["last_delivery"] is not None
    assert acme["calendar"] == "weekly on MON by 06:00 America/New_York (+2h grace)"
    # the demo's arrivals are stamped now: as of any later moment, 2026-01-12 had arrived
    back = lakehouse(
        ["freshness", "--client", "acme", "--days", "400", "--json", "--no-alert"], env, ok=False
    )
    (then,) = json.loads(back.stdout)
    checks = {c["due_date"]: c for c in then["checks"]}
    assert checks["2026-01-12"]["delivered"] == 1 and checks["2026-01-19"]["delivered"] == 0
    assert "2026-01-19" in then["missing"]


def test_ops_commands_need_no_key(demo_lake: Workspace) -> None:
    env = {k: v for k, v in demo_lake.env().items() if "KEY" not in k}
    assert "acme" in lakehouse(["status"], env).stdout
    assert os.environ.get("LAKEHOUSE_TOKEN_KEY") is None or "LAKEHOUSE_TOKEN_KEY" not in env
