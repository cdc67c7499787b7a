"""Schedules: ``conf/schedules.yaml`` rendered for real schedulers (crontab, Databricks Jobs).

Both renderings call the same entry points users run by hand: ``scripts/run_pipeline.sh``
(crontab) and ``jobs/ingest.py``, ``jobs/backfill.py``, ``jobs/freshness.py`` and
``jobs/retention.py``, ``jobs/gold.py`` (Databricks ``spark_python_task``).
A scheduled backfill re-processes a rolling window (``--last-days N``), so late corrections
inside the window are picked up without anyone choosing dates.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lakehouse.config.calendar import check_time_zone
from lakehouse.config.models import ClientConfig
from lakehouse.errors import ConfigError
from lakehouse.pii.keys import PURPOSE_ENV

__all__ = [
    "BackfillWindow",
    "ClientSchedule",
    "CronSpec",
    "DatabricksTarget",
    "Schedules",
    "check_clients",
    "existing_cluster_secrets",
    "job_secrets",
    "load_schedules",
    "parse_cron",
    "render_crontab",
    "render_databricks_jobs",
    "to_quartz",
]

# (name, low, high, names for low..) of the five cron fields
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
JobKind = Literal["ingest", "backfill", "freshness", "retention", "gold"]
# The scope of a lake-wide job (gold) where per-client jobs name their client.
LAKE_WIDE = "all"
_PART = re.compile(r"^(?:(\*)|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:/([0-9]+))?$")


class CronSpec(BaseModel):
    """A parsed five-field cron expression: the set of values of each field."""

    model_config = ConfigDict(frozen=True)

    text: str
    fields: tuple[frozenset[int], ...]
    star: tuple[bool, ...]  # field given as a bare '*'


def _value(token: str, field: int) -> int:
    name, low, high, names = _FIELDS[field]
    if token.isdigit():
        value = int(token)
    elif token.upper() in names:
        value = names.index(token.upper()) + low
    else:
        raise ValueError(f"{name}: '{token}' is not a number or name")
    if not low <= value <= high:
        raise ValueError(f"{name}: {value} is outside {low}-{high}")
    return value


def _parse_field(text: str, field: int) -> frozenset[int]:
    name, low, high, _ = _FIELDS[field]
    values: set[int] = set()
    for part in text.split(","):
        match = _PART.match(part)
        if match is None:
            raise ValueError(f"{name}: cannot read '{part}'")
        star, first, last, step = match.groups()
        start = low if star else _value(first, field)
        end = high if star or (step and not last) else _value(last or first, field)
        if start > end:
            raise ValueError(f"{name}: range '{part}' runs backwards")
        if step is not None and int(step) == 0:
            raise ValueError(f"{name}: step 0 in '{part}'")
        values.update(range(start, end + 1, int(step or 1)))
    if field == 4 and 7 in values:  # 0 and 7 are both Sunday
        values = (values - {7}) | {0}
    return frozenset(values)


def parse_cron(expression: str) -> CronSpec:
    """Parse ``minute hour day-of-month month day-of-week``.

    Raises:
        ValueError: not five fields, a value out of range, or both day fields restricted
            (cron ORs them; Quartz, used by Databricks, cannot say that).
    """
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"'{expression}' has {len(parts)} fields; cron needs 5")
    fields = tuple(_parse_field(part, i) for i, part in enumerate(parts))
    star = tuple(part == "*" for part in parts)
    if not star[2] and not star[4]:
        raise ValueError("restrict day of month or day of week, not both")
    return CronSpec(text=" ".join(parts), fields=fields, star=star)


def to_quartz(spec: CronSpec) -> str:
    """The same schedule as a Quartz expression (seconds first, '?' for the unused day)."""
    out = ["0"]
    for i in range(4):
        out.append("*" if spec.star[i] else ",".join(str(v) for v in sorted(spec.fields[i])))
    out[3] = "?" if out[3] == "*" and not spec.star[4] else out[3]
    out.append("?" if spec.star[4] else ",".join(_DAYS[d] for d in sorted(spec.fields[4])))
    return " ".join(out)


def _cron(value: str) -> str:
    return parse_cron(value).text


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BackfillWindow(_Frozen):
    cron: str = Field(description="When to run (5-field cron).")
    days: int = Field(ge=1, le=3660, description="Re-process files created in the last N days.")
    source: Literal["archive", "bronze"] = "archive"

    @field_validator("cron")
    @classmethod
    def _backfill_cron(cls, value: str) -> str:
        return _cron(value)


class ClientSchedule(_Frozen):
    ingest: str | None = Field(None, description="5-field cron for the client's ingest.")
    backfill: BackfillWindow | None = None
    freshness: str | None = Field(
        None, description="5-field cron for `lakehouse freshness` (needs a delivery calendar)."
    )
    retention: str | None = Field(
        None, description="5-field cron for `lakehouse retention` (needs retention periods)."
    )

    @field_validator("ingest", "freshness", "retention")
    @classmethod
    def _job_cron(cls, value: str | None) -> str | None:
        return None if value is None else _cron(value)


class DatabricksTarget(_Frozen):
    repo_path: str = Field(
        "/Workspace/Repos/lakehouse/lakehouse", description="The repository on Databricks."
    )
    existing_cluster_id: str | None = None
    new_cluster: dict[str, Any] | None = Field(
        None, description="Jobs API new_cluster; secrets go in spark_env_vars as {{secrets/..}}."
    )
    libraries: tuple[dict[str, Any], ...] = Field(
        (), description="Task libraries, e.g. the lakehouse wheel: [{whl: /Workspace/...whl}]."
    )
    timeout_seconds: int = Field(0, ge=0)
    secret_scope: str = Field(
        "lakehouse",
        pattern=r"^[A-Za-z0-9._-]{1,128}$",
        description="Secret scope the job clusters read every key a job needs from "
        "({{secrets/<scope>/token-key}}, encrypt-key, siv-key).",
    )

    @model_validator(mode="after")
    def _one_cluster(self) -> DatabricksTarget:
        if (self.existing_cluster_id is None) == (self.new_cluster is None):
            raise ValueError("set exactly one of existing_cluster_id and new_cluster")
        variables = (self.new_cluster or {}).get("spark_env_vars") or {}
        for name in PURPOSE_ENV.values():
            value = variables.get(name)
            if value is not None and not str(value).startswith("{{secrets/"):
                raise ValueError(
                    f"new_cluster.spark_env_vars.{name} must be a secret reference "
                    "({{secrets/<scope>/<key>}}), never a key in config"
                )
        return self


class Schedules(_Frozen):
    """``conf/schedules.yaml``."""

    timezone: str = "UTC"
    repo_dir: str | None = Field(None, description="Where crontab runs from; default: this repo.")
    log_dir: str | None = Field(None, description="Crontab appends each job's output here.")
    lock_dir: str | None = Field(
        "/tmp", description="flock files (no overlapping runs); null: off."
    )
    environment: dict[str, str] = Field(
        default_factory=dict, description="Variables for crontab (no secrets: use a key file)."
    )
    clients: dict[str, ClientSchedule] = Field(min_length=1)
    gold: str | None = Field(
        None, description="5-field cron for `lakehouse gold` (every gold table, lake-wide)."
    )
    databricks: DatabricksTarget = DatabricksTarget(existing_cluster_id="<existing-cluster-id>")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("gold")
    @classmethod
    def _gold_cron(cls, value: str | None) -> str | None:
        return None if value is None else _cron(value)

    @field_validator("environment")
    @classmethod
    def _no_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        if set(PURPOSE_ENV.values()) & set(value):
            raise ValueError("keys never go in config; set LAKEHOUSE_KEY_FILE to a key file")
        return value


def load_schedules(path: Path) -> Schedules:
    """Raises: ConfigError: unreadable file, bad YAML or an invalid key (the first one)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read schedules ({exc})", path=str(path)) from exc
    try:
        return Schedules.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(
            first["msg"],
            path=str(path),
            key=".".join(str(part) for part in first["loc"]) or None,
            fix="run `lakehouse validate-config` to see every problem",
        ) from exc


def check_clients(schedules: Schedules, clients: Mapping[str, ClientConfig], path: Path) -> None:
    """Raises: ConfigError: a scheduled client has no ``clients/<id>.yaml``, or a freshness
    check is scheduled for a client without a delivery calendar."""
    for client_id, schedule in schedules.clients.items():
        client = clients.get(client_id)
        if client is not None and schedule.freshness and client.delivery is None:
            raise ConfigError(
                "freshness is scheduled but the client has no delivery calendar",
                path=str(path),
                key=f"clients.{client_id}.freshness",
                fix=f"add a 'delivery:' section to clients/{client_id}.yaml (README, "
                "'Freshness') or remove the freshness schedule",
            )
        if client is not None and schedule.retention and not client.retention.configured:
            raise ConfigError(
                "retention is scheduled but the client has no retention period",
                path=str(path),
                key=f"clients.{client_id}.retention",
                fix=f"add a 'retention:' section to clients/{client_id}.yaml (README, "
                "'Retention') or remove the retention schedule",
            )
        if client is None:
            raise ConfigError(
                "schedule for a client that is not configured",
                path=str(path),
                key=f"clients.{client_id}",
                expected=", ".join(sorted(clients)),
                found=repr(client_id),
                fix=f"add clients/{client_id}.yaml or remove the schedule",
            )


def _jobs(schedules: Schedules) -> list[tuple[JobKind, str, str, list[str]]]:
    """(kind, client, cron, arguments of the job) for every scheduled job."""
    jobs: list[tuple[JobKind, str, str, list[str]]] = []
    for client_id, schedule in sorted(schedules.clients.items()):
        if schedule.ingest:
            jobs.append(("ingest", client_id, schedule.ingest, ["--client", client_id]))
        if schedule.backfill:
            window = schedule.backfill
            arguments = ["--client", client_id, "--last-days", str(window.days)]
            jobs.append(
                ("backfill", client_id, window.cron, [*arguments, "--source", window.source])
            )
        if schedule.freshness:
            jobs.append(("freshness", client_id, schedule.freshness, ["--client", client_id]))
        if schedule.retention:
            arguments = ["--client", client_id, "--reason", "scheduled retention"]
            jobs.append(("retention", client_id, schedule.retention, arguments))
    if schedules.gold:
        jobs.append(("gold", LAKE_WIDE, schedules.gold, []))
    return jobs


def _secret_name(variable: str) -> str:
    """``LAKEHOUSE_TOKEN_KEY`` -> ``token-key``: the secret's name in the scope."""
    return variable.removeprefix("LAKEHOUSE_").lower().replace("_", "-")


def job_secrets(kind: JobKind, client: ClientConfig | None) -> list[str]:
    """The key variables a job of ``kind`` for ``client`` needs at start: every purpose its
    PII policies use for ingest and backfill (a missing one refuses the run); none for
    freshness (it reads the audit), retention (it deletes by creation date) and gold (it
    aggregates silver's protected values)."""
    if kind in ("freshness", "retention", "gold") or client is None:
        return []
    from lakehouse.pii.policies import needed_purposes  # imports pyspark

    return [PURPOSE_ENV[purpose] for purpose in sorted(needed_purposes([client]))]


def render_crontab(schedules: Schedules, repo_dir: Path) -> str:
    """crontab lines calling ``scripts/run_pipeline.sh`` (``--backfill``, ``--freshness``,
    ``--retention``, ``--gold``)."""
    root = schedules.repo_dir or str(repo_dir)
    lines = [
        "# lakehouse schedules: generated by `lakehouse schedules render --format crontab`",
        "# from conf/schedules.yaml; edit that file, not this output.",
        "SHELL=/bin/bash",
        f"CRON_TZ={schedules.timezone}",
        *(f"{k}={shlex.quote(v)}" for k, v in sorted(schedules.environment.items())),
    ]
    for kind, client_id, cron, arguments in _jobs(schedules):
        command = ["./scripts/run_pipeline.sh", *([f"--{kind}"] if kind != "ingest" else [])]
        text = shlex.join([*command, *arguments])
        if schedules.lock_dir:
            lock = f"{schedules.lock_dir}/lakehouse-{kind}-{client_id}.lock"
            text = f"flock -n {shlex.quote(lock)} {text}"
        if schedules.log_dir:
            text += (
                f" >> {shlex.quote(f'{schedules.log_dir}/lakehouse-{kind}-{client_id}.log')} 2>&1"
            )
        lines += [f"# {client_id}: {kind}", f"{cron} cd {shlex.quote(root)} && {text}"]
    return "\n".join(lines) + "\n"


def render_databricks_jobs(
    schedules: Schedules, clients: Mapping[str, ClientConfig]
) -> list[dict[str, Any]]:
    """One Jobs API 2.1 job per scheduled job (``databricks jobs create --json``). A job
    cluster gets every key its job needs as ``{{secrets/<scope>/<name>}}`` references; an
    existing cluster must define them itself (``existing_cluster_secrets`` lists them)."""
    target = schedules.databricks
    jobs: list[dict[str, Any]] = []
    for kind, client_id, cron, arguments in _jobs(schedules):
        task: dict[str, Any] = {
            "task_key": f"{kind}_{client_id}",
            "spark_python_task": {
                "python_file": f"{target.repo_path}/jobs/{kind}.py",
                "parameters": [*arguments, "--conf", f"{target.repo_path}/conf/lakehouse.yaml"],
                "source": "WORKSPACE",
            },
            "timeout_seconds": target.timeout_seconds,
            "max_retries": 0,
        }
        if target.libraries:
            task["libraries"] = [dict(library) for library in target.libraries]
        job: dict[str, Any] = {
            "name": f"lakehouse {kind} {client_id}",
            "tags": {"app": "lakehouse", "client": client_id, "kind": kind},
            "max_concurrent_runs": 1,
            "schedule": {
                "quartz_cron_expression": to_quartz(parse_cron(cron)),
                "timezone_id": schedules.timezone,
                "pause_status": "UNPAUSED",
            },
            "tasks": [task],
        }
        if target.new_cluster is not None:
            cluster = dict(target.new_cluster)
            variables = dict(cluster.get("spark_env_vars") or {})
            for variable in job_secrets(kind, clients.get(client_id)):
                variables[variable] = (
                    f"{{{{secrets/{target.secret_scope}/{_secret_name(variable)}}}}}"
                )
            cluster["spark_env_vars"] = variables
            task["job_cluster_key"] = "lakehouse"
            job["job_clusters"] = [{"job_cluster_key": "lakehouse", "new_cluster": cluster}]
        else:
            task["existing_cluster_id"] = target.existing_cluster_id
        jobs.append(job)
    return jobs


def existing_cluster_secrets(
    schedules: Schedules, clients: Mapping[str, ClientConfig]
) -> list[str]:
    """Key variables an existing cluster must define for the scheduled jobs to start (none
    when the jobs run on job clusters, which get them from the secret scope)."""
    if schedules.databricks.existing_cluster_id is None:
        return []
    needed = {
        variable
        for kind, client_id, _, _ in _jobs(schedules)
        for variable in job_secrets(kind, clients.get(client_id))
    }
    return sorted(needed)
