"""A run's shared state (``Job``), built once: Spark, settings, clients, keys, engine, run id."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lakehouse.alerts import Alerter
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine import get_engine
from lakehouse.engine.base import TableEngine
from lakehouse.ingest.faults import Faults
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import needed_purposes

if TYPE_CHECKING:  # pyspark is heavy to import; building a job imports it
    from pyspark.sql import SparkSession

    from lakehouse.validation.drift import Baselines

__all__ = ["Job", "Mode", "build_job", "new_run_id"]

# How a file came to be processed: decides what an operator is told to do after a failure.
Mode = Literal["ingest", "release", "backfill", "replay"]


@dataclass(frozen=True)
class Job:
    """What every file of a run shares; built once per run."""

    spark: SparkSession
    settings: Settings
    clients: dict[str, ClientConfig]
    keys: KeyRing
    engine: TableEngine
    run_id: str
    # The run's Alerter, built before Spark starts (run_ingest, release, backfill); the
    # log-only default keeps nothing durable and is for tests that do not look at alerts.
    alerter: Alerter = field(default_factory=Alerter.log_only)
    mode: Mode = "ingest"
    faults: Faults = field(default_factory=Faults)
    # Drift baselines: the audit read once per run, extended by each file it commits.
    baselines: Baselines = field(default_factory=lambda: _baselines(None, None))
    # Spark expressions without keys built for one file and reused by the next with the same
    # inputs (``lakehouse.memo``; keyed ones live on ``keys``).
    plans: dict[Hashable, object] = field(default_factory=dict)


def _baselines(engine: TableEngine | None, audit_path: Path | None) -> Baselines:
    from lakehouse.validation.drift import Baselines  # imports pyspark (validation package)

    return Baselines(engine, audit_path)


def new_run_id(now: dt.datetime | None = None) -> str:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def build_job(
    settings: Settings,
    clients: dict[str, ClientConfig],
    keys: KeyRing,
    *,
    run_id: str | None,
    alerter: Alerter,
    mode: Mode = "ingest",
) -> Job:
    """Everything the files of one run share (starts Spark, once the keys are known to be
    there: a missing key fails in milliseconds, not after Spark's start).

    Raises:
        KeyMissingError: a key the clients' PII policies need is not set.
        ConfigError: ``LAKEHOUSE_FAULT`` names no fault point.
    """
    from lakehouse.spark import build_spark  # imports pyspark

    keys.require(needed_purposes(clients.values()))
    faults = Faults.from_env()
    spark = build_spark(settings)
    engine = get_engine(settings, spark)
    return Job(
        spark=spark,
        settings=settings,
        clients=clients,
        keys=keys,
        engine=engine,
        run_id=run_id or new_run_id(),
        alerter=alerter,
        mode=mode,
        faults=faults,
        baselines=_baselines(engine, settings.audit_path),
    )
