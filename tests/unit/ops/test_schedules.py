"""conf/schedules.yaml: cron parsing, Quartz conversion, crontab and Databricks Jobs output."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from lakehouse.cli import main
from lakehouse.config import load_clients
from lakehouse.errors import ConfigError
from lakehouse.ops.schedules import (
    Schedules,
    check_clients,
    existing_cluster_secrets,
    load_schedules,
    parse_cron,
    render_crontab,
    render_databricks_jobs,
    to_quartz,
)

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "conf" / "schedules.yaml"
CLIENTS = load_clients(REPO / "clients")


@pytest.mark.parametrize(
    ("cron", "quartz"),
    [
        ("*/30 * * * *", "0 0,30 * * * ?"),
        ("0 3 * * SUN", "0 0 3 ? * SUN"),
        ("0 3 * * 0,7", "0 0 3 ? * SUN"),
        ("15 9-17/4 * * MON-FRI", "0 15 9,13,17 ? * MON,TUE,WED,THU,FRI"),
        ("30 4 1,15 JAN-MAR *", "0 30 4 1,15 1,2,3 ?"),
        ("0 0 * * *", "0 0 0 * * ?"),
    ],
)
def test_cron_becomes_the_same_quartz_schedule(cron: str, quartz: str) -> None:
    assert to_quartz(parse_cron(cron)) == quartz


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("* * * *", "4 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("0 24 * * *", "hour: 24"),
        ("0 0 0 * *", "day of month: 0"),
        ("0 0 * 13 *", "month: 13"),
        ("0 0 * * FUNDAY", "not a number or name"),
        ("0 0 1 * MON", "not both"),
        ("5-1 * * * *", "backwards"),
        ("*/0 * * * *", "step 0"),
        ("@daily", "1 fields"),
    ],
)
def test_invalid_cron_is_refused_with_the_field_named(cron: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cron(cron)


def test_shipped_schedules_validate_and_name_configured_clients() -> None:
    schedules = load_schedules(SHIPPED)
    check_clients(schedules, load_clients(REPO / "clients"), SHIPPED)
    assert schedules.clients


def test_every_crontab_line_is_valid_cron_calling_a_script_of_this_repo() -> None:
    text = render_crontab(load_schedules(SHIPPED), REPO)
    jobs = [
        line
        for line in text.splitlines()
        if line and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(jobs) == 8
    for line in jobs:
        fields = line.split()
        parse_cron(" ".join(fields[:5]))  # five valid cron fields
        command = shlex.split(" ".join(fields[5:]))
        assert command[:3] == ["cd", str(REPO), "&&"]
        script = next(word for word in command if word.startswith("./"))
        assert (REPO / script).is_file(), script
        assert (REPO / script).stat().st_mode & 0o111, f"{script} is not executable"
    assert any("--backfill" in line and "--last-days" in line for line in jobs)
    assert any("run_pipeline.sh --freshness --client acme" in line for line in jobs)
    assert any("run_pipeline.sh --retention --client acme --reason" in line for line in jobs)
    assert any(
        line.startswith("10 * * * * ")
        and line.endswith("run_pipeline.sh --gold")
        and "lakehouse-gold-all.lock" in line
        for line in jobs
    )
    assert "CRON_TZ=UTC" in text.splitlines()


def test_crontab_options_lock_log_and_repo_dir() -> None:
    schedules = Schedules.model_validate(
        {
            "clients": {"acme": {"ingest": "0 * * * *"}},
            "log_dir": "/var/log/lh",
            "lock_dir": None,
            "repo_dir": "/opt/lake house",
        }
    )
    lines = render_crontab(schedules, REPO).splitlines()
    (line,) = [text for text in lines if text.startswith("0 ")]
    assert line == (
        "0 * * * * cd '/opt/lake house' && ./scripts/run_pipeline.sh --client acme"
        " >> /var/log/lh/lakehouse-ingest-acme.log 2>&1"
    )


def test_databricks_jobs_are_jobs_api_2_1_documents_calling_the_same_jobs() -> None:
    jobs = json.loads(json.dumps(render_databricks_jobs(load_schedules(SHIPPED), CLIENTS)))
    assert {job["name"] for job in jobs} == {
        "lakehouse ingest acme",
        "lakehouse backfill acme",
        "lakehouse freshness acme",
        "lakehouse retention acme",
        "lakehouse ingest globex",
        "lakehouse backfill globex",
        "lakehouse freshness globex",
        "lakehouse gold all",  # lake-wide: every gold table
    }
    for job in jobs:
        assert job["max_concurrent_runs"] == 1
        schedule = job["schedule"]
        assert set(schedule) == {"quartz_cron_expression", "timezone_id", "pause_status"}
        assert len(schedule["quartz_cron_expression"].split()) == 6
        (task,) = job["tasks"]
        assert task["task_key"] and task["job_cluster_key"] == "lakehouse"
        python_file = task["spark_python_task"]["python_file"]
        relative = python_file.split("/lakehouse/", 1)[1]
        assert (REPO / relative).is_file(), python_file
        assert relative == f"jobs/{job['tags']['kind']}.py"
        parameters = task["spark_python_task"]["parameters"]
        if job["tags"]["kind"] == "gold":
            assert parameters[0] == "--conf"
        else:
            assert parameters[:2] == ["--client", job["tags"]["client"]]
        (cluster,) = job["job_clusters"]
        assert cluster["job_cluster_key"] == "lakehouse"
        env = cluster["new_cluster"]["spark_env_vars"]
        assert env["LAKEHOUSE_LAKE_ROOT"] == "/Volumes/main/lakehouse/lake"  # the user's own


def test_each_job_cluster_gets_every_key_its_job_needs_from_the_secret_scope() -> None:
    """Ingest and backfill refuse to start without the token and encrypt keys (and the SIV
    key for a client with deterministic_encrypt columns: globex); freshness needs none."""
    jobs = render_databricks_jobs(load_schedules(SHIPPED), CLIENTS)
    keys = {
        job["name"]: {
            name: value
            for name, value in job["job_clusters"][0]["new_cluster"]["spark_env_vars"].items()
            if name.endswith("_KEY")
        }
        for job in jobs
    }
    acme = {
        "LAKEHOUSE_TOKEN_KEY": "{{secrets/lakehouse/token-key}}",
        "LAKEHOUSE_ENCRYPT_KEY": "{{secrets/lakehouse/encrypt-key}}",
    }
    assert keys["lakehouse ingest acme"] == keys["lakehouse backfill acme"] == acme
    globex = {**acme, "LAKEHOUSE_SIV_KEY": "{{secrets/lakehouse/siv-key}}"}
    assert keys["lakehouse ingest globex"] == keys["lakehouse backfill globex"] == globex
    assert keys["lakehouse freshness acme"] == keys["lakehouse freshness globex"] == {}
    assert keys["lakehouse retention acme"] == keys["lakehouse gold all"] == {}


def test_existing_cluster_instead_of_a_job_cluster() -> None:
    schedules = Schedules.model_validate(
        {
            "clients": {"acme": {"ingest": "0 * * * *"}},
            "databricks": {"existing_cluster_id": "0101-abc"},
        }
    )
    (job,) = render_databricks_jobs(schedules, CLIENTS)
    assert job["tasks"][0]["existing_cluster_id"] == "0101-abc"
    assert "job_clusters" not in job
    # the cluster is not ours to change: the render says what it must define
    assert existing_cluster_secrets(schedules, CLIENTS) == [
        "LAKEHOUSE_ENCRYPT_KEY",
        "LAKEHOUSE_TOKEN_KEY",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"clients": {"acme": {"ingest": "0 0 1 * MON"}}}, "not both"),
        ({"clients": {"acme": {"backfill": {"cron": "0 3 * * *", "days": 0}}}}, "greater"),
        ({"clients": {}}, "at least 1"),
        ({"clients": {"acme": {}}, "timezone": "Mars/Base"}, "unknown time zone"),
        ({"clients": {"acme": {}}, "environment": {"LAKEHOUSE_TOKEN_KEY": "ab"}}, "key file"),
        (
            {
                "clients": {"acme": {}},
                "databricks": {"new_cluster": {}, "existing_cluster_id": "x"},
            },
            "exactly one",
        ),
        ({"clients": {"acme": {"ingset": "0 * * * *"}}}, "Extra inputs"),
        ({"clients": {"acme": {"freshness": "0 0 * *"}}}, "4 fields"),
        (
            {
                "clients": {"acme": {}},
                "databricks": {"new_cluster": {"spark_env_vars": {"LAKEHOUSE_SIV_KEY": "ab"}}},
            },
            "secret reference",
        ),
    ],
)
def test_invalid_schedules_are_refused(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schedules.model_validate(data)


def test_schedule_for_an_unknown_client_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text("clients:\n  umbrella:\n    ingest: '0 * * * *'\n")
    with pytest.raises(ConfigError, match=r"clients\.umbrella"):
        check_clients(load_schedules(path), load_clients(REPO / "clients"), path)


def test_freshness_and_retention_need_their_client_settings(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text("clients:\n  acme:\n    freshness: '0 * * * *'\n")
    bare = {"acme": CLIENTS["acme"].model_copy(update={"delivery": None})}
    with pytest.raises(ConfigError, match="no delivery calendar") as error:
        check_clients(load_schedules(path), bare, path)
    assert error.value.key == "clients.acme.freshness"
    path.write_text("clients:\n  globex:\n    retention: '0 2 * * SAT'\n")
    with pytest.raises(ConfigError, match="no retention period"):
        check_clients(load_schedules(path), CLIENTS, path)


def test_render_command_writes_both_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / "jobs.json"
    assert main(["schedules", "render", "--format", "databricks-json", "--out", str(out)]) == 0
    assert len(json.loads(out.read_text())) == 8
    assert main(["schedules", "render", "--format", "crontab"]) == 0
    assert "./scripts/run_pipeline.sh --client acme" in capsys.readouterr().out


def test_crontab_refuses_a_directory_without_the_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    args = ["schedules", "render", "--format", "crontab", "--repo-dir", str(tmp_path)]
    assert main(args) == 1
    assert "run_pipeline.sh" in capsys.readouterr().err
