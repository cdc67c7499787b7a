"""Run validation distributed: Pandera on each Arrow batch (``mapInArrow``), then the checks
that need the whole file (malformed structure, duplicate merge keys) in Spark.

Output: the input frame plus ``_reasons`` (array of reason codes, empty when valid).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pandera.polars as pa
import polars as pl
import pyarrow as pa_arrow
from pandera.errors import SchemaError, SchemaErrors
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config.models import ClientConfig
from lakehouse.errors import StageError
from lakehouse.memo import Memo, built_once, config_id
from lakehouse.validation.reasons import RECORD, Code, reason
from lakehouse.validation.schema import RAW_SUFFIX, build_schema

__all__ = ["REASONS", "validate"]

REASONS = "_reasons"
_INDEX = "__row"
_REPEATS = "__repeats"


def _reasons_for(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.Series:
    """One list of ``column:code`` per row of ``frame`` (empty list when the row passes)."""
    empty = pl.Series(REASONS, [[] for _ in range(frame.height)], dtype=pl.List(pl.Utf8))
    try:
        schema.validate(frame, lazy=True)
        return empty
    except SchemaErrors as errors:
        cases = errors.failure_cases
    except SchemaError as error:  # raised instead of SchemaErrors for frame-level problems
        raise StageError(
            f"validation could not run: {error.reason_code}", step="validate"
        ) from None
    if cases["index"].null_count():
        # A failure that is not about a row (e.g. a missing column) is a bug, not bad data.
        kinds = sorted(set(cases.filter(pl.col("index").is_null())["check"].to_list()))
        raise StageError(f"validation failed at frame level: {kinds}", step="validate")
    per_row = (
        cases.select(
            pl.col("index").alias(_INDEX),
            pl.concat_str(pl.col("column"), pl.lit(":"), pl.col("check")).alias(REASONS),
        )
        .unique()
        .sort(_INDEX, REASONS)
        .group_by(_INDEX, maintain_order=True)
        .agg(pl.col(REASONS))
    )
    rows = pl.DataFrame({_INDEX: pl.arange(0, frame.height, eager=True, dtype=pl.Int32)})
    joined = rows.join(per_row.with_columns(pl.col(_INDEX).cast(pl.Int32)), on=_INDEX, how="left")
    return joined[REASONS].fill_null(pl.lit([], dtype=pl.List(pl.Utf8))).alias(REASONS)


_BatchFn = Callable[[Iterator[pa_arrow.RecordBatch]], Iterator[pa_arrow.RecordBatch]]
_REASONS_TYPE = pa_arrow.list_(pa_arrow.string())  # Spark rejects polars' large_list


def _validate_partition(client: ClientConfig) -> _BatchFn:
    schema = build_schema(client)

    def run(batches: Iterator[pa_arrow.RecordBatch]) -> Iterator[pa_arrow.RecordBatch]:
        for batch in batches:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            reasons = _reasons_for(frame, schema).to_arrow().cast(_REASONS_TYPE)
            yield pa_arrow.RecordBatch.from_arrays(
                [*batch.columns, reasons], names=[*batch.schema.names, REASONS]
            )

    return run


def validate(
    df: DataFrame, client: ClientConfig, *, corrupt_column: str, memo: Memo | None = None
) -> DataFrame:
    """Add ``_reasons`` to a standardised frame (see ``lakehouse.validation.schema``).

    A malformed record gets only ``_record:malformed`` (its other fields are misaligned, so
    their checks would be noise). Every row sharing a merge key with another row of the same
    file gets ``<key>:duplicate_key_in_file``: which one is right is ambiguous.
    """
    out_schema = T.StructType(
        [*df.schema.fields, T.StructField(REASONS, T.ArrayType(T.StringType()))]
    )
    checked = df.mapInArrow(_validate_partition(client), out_schema)
    malformed = F.col(corrupt_column).isNotNull()
    keys = list(client.merge_key)
    eligible = ~malformed
    for key in keys:
        eligible = eligible & F.col(key).isNotNull()
    # Keys seen more than once: an aggregate over the key columns only (a window would
    # shuffle and sort every whole row), joined back; usually a handful of keys.
    # Counted on the input (Spark prunes it to the key columns): counting on ``checked``
    # would run the standardisers and pandera a second time for the join.
    repeated = (
        df.where(eligible)
        .groupBy(*keys)
        .agg(F.count(F.lit(1)).alias(_REPEATS))
        .where(F.col(_REPEATS) > 1)
    )
    # Broadcast: the repeated keys are few, and a shuffle join would regroup the whole file
    # into spark.sql.shuffle.partitions partitions, whose cache blocks grow with the file
    # (an 11M-row file ran out of heap that way).
    flagged = checked.join(F.broadcast(repeated), on=keys, how="left")
    names = (*df.columns, REASONS)
    return flagged.select(
        *built_once(
            memo,
            ("validate", config_id(client), names, corrupt_column),
            lambda: _with_file_reasons(names, keys, eligible, malformed),
        )
    )


def _with_file_reasons(
    names: Sequence[str], keys: Sequence[str], eligible: Column, malformed: Column
) -> list[Column]:
    """``names`` as they are, ``_reasons`` with the file-level reasons applied."""
    duplicate = eligible & F.col(_REPEATS).isNotNull()
    duplicate_reasons = F.array(*[F.lit(reason(k, Code.DUPLICATE_KEY)) for k in keys])
    return [
        F.when(malformed, F.array(F.lit(reason(RECORD, Code.MALFORMED))))
        .when(duplicate, F.array_union(F.col(REASONS), duplicate_reasons))
        .otherwise(F.col(REASONS))
        .alias(REASONS)
        if name == REASONS
        else F.col(name)
        for name in names
    ]


def raw_copies(df: DataFrame, client: ClientConfig) -> DataFrame:
    """Keep each configured column's raw string as ``<name>__raw`` before standardising."""
    return df.withColumns({c.name + RAW_SUFFIX: F.col(c.name) for c in client.columns})
