"""Find new landing files with Spark Structured Streaming, exactly once per checkpoint.

One streaming query per client (glob ``{client_id}_*``, checkpoint ``<checkpoints>/<client>``)
so that ``--client`` runs never mark another client's files as seen, plus one query over
every file that audits names matching no configured client. The ``binaryFile`` source is used
for listing only: the ``content`` column is never selected, so files are not read here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.errors import StreamingQueryException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.streaming.query import StreamingQuery

from lakehouse.config.models import Settings

__all__ = ["UNROUTED", "DiscoveredFile", "discover"]

log = logging.getLogger(__name__)

UNROUTED = "_unrouted"
_BINARY_SCHEMA = "path string, modificationTime timestamp, length long, content binary"
# Spark ignores files older than maxFileAge relative to the newest one it has seen; a
# historical file copied with its old mtime must still be picked up.
_MAX_FILE_AGE = "36500d"


@dataclass(frozen=True)
class DiscoveredFile:
    path: Path
    size: int
    modified: dt.datetime

    @property
    def name(self) -> str:
        return self.path.name


BatchHandler = Callable[[str, list[DiscoveredFile]], None]


def _to_local(uri: str) -> Path:
    # Hadoop paths are not percent-encoded: "a b.csv" and "x%20y.csv" come through verbatim,
    # so the text after the scheme is the local path as it is (never unquote it).
    return Path(uri.removeprefix("file://").removeprefix("file:"))


def _stream(spark: SparkSession, settings: Settings, glob: str) -> DataFrame:
    reader = (
        spark.readStream.format("binaryFile")
        .schema(_BINARY_SCHEMA)
        .option("pathGlobFilter", glob)
        .option("maxFileAge", _MAX_FILE_AGE)
    )
    if settings.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", settings.max_files_per_trigger)
    return reader.load(str(settings.landing_dir.resolve())).select(
        "path", "length", "modificationTime"
    )


def discover(
    spark: SparkSession,
    settings: Settings,
    streams: Sequence[str],
    handler: BatchHandler,
) -> dict[str, Exception]:
    """Run one streaming query per entry of ``streams`` (client ids, or ``UNROUTED``).

    ``handler(stream, files)`` is called once per micro-batch with that batch's new files.
    In ``available_now`` mode each query drains what is in landing and stops; in
    ``processing_time`` mode the queries keep running until interrupted. A stream that
    fails does not stop the others: its error is returned, keyed by stream.
    """
    errors: dict[str, Exception] = {}
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    queries = []
    for stream in streams:
        glob = "*" if stream == UNROUTED else f"{stream}_*"

        def on_batch(batch: DataFrame, batch_id: int, stream: str = stream) -> None:
            files = [
                DiscoveredFile(
                    path=_to_local(row["path"]),
                    size=int(row["length"]),
                    modified=row["modificationTime"],
                )
                for row in batch.collect()
            ]
            log.info(
                "landing batch", extra={"stream": stream, "batch": batch_id, "files": len(files)}
            )
            if files:
                handler(stream, files)

        writer = (
            _stream(spark, settings, glob)
            .writeStream.queryName(f"landing_{stream}")
            .option("checkpointLocation", str((settings.checkpoints / stream).resolve()))
            .foreachBatch(on_batch)
        )
        if settings.trigger == "available_now":
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=settings.processing_time)
        query = writer.start()
        if settings.trigger == "available_now":
            # Sequential: a client's files are handled in order and failures surface here.
            _await(query, stream, errors)
        else:
            queries.append((stream, query))
    for stream, query in queries:
        _await(query, stream, errors)
    return errors


def _await(query: StreamingQuery, stream: str, errors: dict[str, Exception]) -> None:
    try:
        query.awaitTermination()
    except StreamingQueryException as exc:
        log.error("landing stream failed", extra={"stream": stream})
        errors[stream] = exc
