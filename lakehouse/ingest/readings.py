"""The stages a measurement dataset (``measurements:``, e.g. readings) adds to a file's run.

- After validation: units normalised to each type's canonical unit, the per-type range,
  secondary-value and time checks (reason codes, so failing rows are quarantined like any
  other), and the lookup of each reading's member in the referenced dataset's silver table
  (``references: members.member_id``: the same token domain, so the lookup is a join on the
  token): ``member_known`` and the before-birth check.
- Before the merge: ``is_outlier`` from the member's recent readings of the type, the stored
  ones (this dataset's silver partition of the client) and the file's own.

The rules are in ``lakehouse.validation.measurements``; this module only finds the frames.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.config.datasets import feed_of
from lakehouse.config.measurements import MeasurementSettings
from lakehouse.config.models import ClientConfig
from lakehouse.ingest.job import Job
from lakehouse.pii.policies import tokenise
from lakehouse.validation.measurements import (
    MEMBER_KNOWN,
    TYPICAL_FLAG,
    flag_outliers,
    measurement_reasons,
    member_checks,
    normalise_units,
)

__all__ = [
    "check_readings",
    "flag_reading_outliers",
    "validated_columns",
]

# Columns a measurement dataset's silver rows carry beyond its configured ones, outside the
# row hash (a re-sent reading is unchanged whatever its history says now): these two from
# validation, the outlier columns (IS_OUTLIER, OUTLIER_SCORE, OUTLIER_METHOD) before the merge.
_VALIDATED = (TYPICAL_FLAG, MEMBER_KNOWN)
_MEMBER_TOKEN = "_member_token"


def _spec(client: ClientConfig) -> MeasurementSettings:
    if client.measurements is None:
        raise ValueError(f"dataset {client.dataset} of {client.client_id} has no measurements")
    return client.measurements


def check_readings(job: Job, client: ClientConfig, checked: DataFrame) -> DataFrame:
    """``checked`` (validated rows with ``_reasons``) with units normalised, the measurement
    reason codes added and ``typical_flag``, ``member_known`` set."""
    spec = _spec(client)
    frame = measurement_reasons(normalise_units(checked, spec), spec, now=dt.datetime.now(dt.UTC))
    member = F.col(spec.member_column)
    frame = frame.withColumn(
        _MEMBER_TOKEN,
        tokenise(member, client=client, column=spec.member_column, keys=job.keys),
    )
    return member_checks(frame, _members(job, client, spec), spec, key=_MEMBER_TOKEN).drop(
        _MEMBER_TOKEN
    )


def _members(job: Job, client: ClientConfig, spec: MeasurementSettings) -> DataFrame | None:
    """(client_id, member token, birth) of the client's rows in the referenced dataset's
    silver table; None: no reference, or no such rows yet (every reading's member unknown)."""
    referenced = client.column(spec.member_column).referenced
    if referenced is None:
        return None
    dataset, column = referenced
    other = job.clients.get(feed_of(client.client_id, dataset, job.clients))
    path = job.settings.table_path("silver", dataset)
    schema = job.engine.schema(path)
    if other is None or schema is None or column not in schema.names:
        return None
    birth = spec.birth_column if spec.birth_column in schema.names else None
    frame = job.engine.read_frame(
        job.spark,
        path,
        columns=[column, *([birth] if birth else [])],
        partition=("client_id", client.client_id),
    )
    if frame is None:
        return None
    return frame.select(
        F.lit(client.client_id).alias("client_id"),
        F.col(column).alias(_MEMBER_TOKEN),
        (F.col(birth).cast("string") if birth else F.lit(None).cast("string")).alias("birth"),
    )


def flag_reading_outliers(job: Job, client: ClientConfig, rows: DataFrame) -> DataFrame:
    """``rows`` (silver rows of one file, tokenised) with ``is_outlier``, ``outlier_score``
    and ``outlier_method`` against the client's stored readings of this dataset."""
    spec = _spec(client)
    path = job.settings.table_path("silver", client.dataset)
    history = None
    if job.engine.exists(path):
        stored = job.engine.read_frame(
            job.spark,
            path,
            columns=[spec.member_column, spec.type_column, spec.time_column, spec.value_column],
            partition=("client_id", client.client_id),
        )
        if stored is not None:  # one partition's rows, without the partition column
            history = stored.withColumn("client_id", F.lit(client.client_id))
    return flag_outliers(rows, history, spec)


def validated_columns(client: ClientConfig) -> tuple[str, ...]:
    """The derived columns validation adds for ``client`` (none without measurements)."""
    return _VALIDATED if client.measurements is not None else ()
