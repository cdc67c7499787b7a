"""Run a record parser (JSON lines, XML) on an executor and turn its records into a
``LandingRead`` like the CSV reader's: one raw string column per configured column,
``_corrupt_record``, ``_record_number``; persisted, counted.

The file is parsed in ONE Python task (``mapInArrow`` over a one-row frame holding the
path), so records come out in file order and are numbered as they are parsed; nothing is
collected on the driver and no plaintext copy is written: the parser streams the file and
yields Arrow batches straight into Spark (whose cached blocks and shuffle files are
encrypted, ``spark.io.encryption.enabled``). A whole-file problem (not well-formed, hostile
constructs) travels back as one trailer row that the driver turns into ``LandingFileError``;
the trailer also carries how many undeclared fields the file has (counted, never named).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config.models import ClientConfig
from lakehouse.errors import LandingFileError
from lakehouse.landing.reader import CORRUPT_COLUMN, RECORD_COLUMN, LandingRead
from lakehouse.spark import FILE_CACHE

__all__ = ["FileProblem", "ParseStats", "Record", "RecordParser", "read_records"]

log = logging.getLogger(__name__)

_STATUS_COLUMN = "_landing_status"
_BATCH_RECORDS = 10_000
_SMALL_FILE_BYTES = 2 * 1024 * 1024  # below this, one partition: a shuffle costs more
_BYTES_PER_PARTITION = 64 * 1024 * 1024
# Distinct undeclared field paths remembered (on the executor, never logged) to count them;
# keys can be data (a map keyed by member id), so the set is bounded.
_MAX_UNKNOWN = 1_000


class FileProblem(Exception):
    """Raised by a parser for a whole-file problem; ``message`` must hold no file content."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class ParseStats:
    """What a parser learns about the file besides its records (one per parse)."""

    unknown: set[str] = field(default_factory=set)

    def undeclared(self, path: str) -> None:
        if len(self.unknown) < _MAX_UNKNOWN:
            self.unknown.add(path)


# One record: the raw value per configured column (None: NULL), then the corrupt text (set
# when the record is malformed; its values are then all None).
Record = tuple[tuple[str | None, ...], str | None]
RecordParser = Callable[[Path, ClientConfig, ParseStats], Iterator[Record]]


def _schema(client: ClientConfig) -> T.StructType:
    return T.StructType(
        [T.StructField(c.name, T.StringType()) for c in client.columns]
        + [
            T.StructField(CORRUPT_COLUMN, T.StringType()),
            T.StructField(RECORD_COLUMN, T.LongType()),
            T.StructField(_STATUS_COLUMN, T.StringType()),
        ]
    )


def _batch(
    schema: pa.Schema, columns: list[list[str | None]], numbers: list[int | None], status: str | None
) -> pa.RecordBatch:
    arrays = [pa.array(values, pa.string()) for values in columns]
    arrays.append(pa.array(numbers, pa.int64()))
    arrays.append(pa.array([status] * len(numbers), pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _parse_partition(
    parse: RecordParser, client: ClientConfig, schema: pa.Schema
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    width = len(client.columns) + 1  # values, then the corrupt text

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:  # one row in all: the path (an empty partition parses nothing)
            for path in batch.column(0).to_pylist():
                yield from parse_file(Path(path))

    def parse_file(path: Path) -> Iterator[pa.RecordBatch]:
        stats = ParseStats()
        columns: list[list[str | None]] = [[] for _ in range(width)]
        numbers: list[int | None] = []
        problem: dict[str, object] = {}
        try:
            for number, (values, corrupt) in enumerate(parse(path, client, stats), start=1):
                for column, value in zip(columns, (*values, corrupt), strict=True):
                    column.append(value)
                numbers.append(number)
                if len(numbers) >= _BATCH_RECORDS:
                    yield _batch(schema, columns, numbers, None)
                    columns = [[] for _ in range(width)]
                    numbers = []
        except FileProblem as exc:
            problem = {"reason": exc.reason, "message": exc.message}
        if numbers:
            yield _batch(schema, columns, numbers, None)
        # The trailer: no record number; whole-file verdict and the undeclared-field count.
        trailer = json.dumps({**problem, "undeclared": len(stats.unknown)})
        yield _batch(schema, [[None] for _ in range(width)], [None], trailer)

    return run


def read_records(
    spark: SparkSession, path: Path, client: ClientConfig, parse: RecordParser
) -> LandingRead:
    """Parse ``path`` with ``parse`` on an executor into the reader's raw columns, persisted.

    Raises:
        LandingFileError: the parser found a whole-file problem (its reason code); nothing
            of the file is kept.
    """
    schema = _schema(client)
    arrow_schema = pa.schema(
        [pa.field(f.name, pa.int64() if f.name == RECORD_COLUMN else pa.string()) for f in schema]
    )
    # Only the folder is resolved: resolving the file itself would follow a link swapped in
    # for it, and the parser's open_regular could then not refuse it.
    located = path.parent.resolve() / path.name
    source = spark.createDataFrame([(str(located),)], "path string").coalesce(1)
    parsed = source.mapInArrow(_parse_partition(parse, client, arrow_schema), schema)
    size = path.stat().st_size
    if size > _SMALL_FILE_BYTES:
        cores = spark.sparkContext.defaultParallelism
        parsed = parsed.repartition(cores * max(1, -(-size // (cores * _BYTES_PER_PARTITION))))
    persisted = parsed.persist(FILE_CACHE)
    try:
        totals = persisted.agg(
            F.count(RECORD_COLUMN).alias("records"), F.max(_STATUS_COLUMN).alias("status")
        ).first()
        assert totals is not None
        status = json.loads(totals["status"])
    except BaseException:
        persisted.unpersist()
        raise
    if "reason" in status:
        persisted.unpersist()
        raise LandingFileError(
            str(status["message"]),
            reason=str(status["reason"]),
            client=client.client_id,
            file=path.name,
        )
    undeclared = int(status["undeclared"])
    if undeclared:
        log.warning(
            "file has fields the client config does not declare; they are not ingested",
            extra={
                "client": client.client_id,
                "file": path.name,
                # Counted, never named: in JSON and XML a key can be data (a map keyed by id).
                "undeclared_fields": f"{undeclared}+" if undeclared >= _MAX_UNKNOWN else undeclared,
            },
        )
    frame = persisted.where(F.col(RECORD_COLUMN).isNotNull()).drop(_STATUS_COLUMN)
    return LandingRead(
        frame=frame, ignored_headers=(), persisted=persisted, rows=int(totals["records"])
    )
