"""Choose the landing reader by the client's ``file.format`` (csv, jsonl, xml)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.config.models import ClientConfig
from lakehouse.landing.json_lines import read_landing_jsonl
from lakehouse.landing.line_endings import LineEndings
from lakehouse.landing.reader import LandingRead, read_landing_csv
from lakehouse.landing.xml_reader import read_landing_xml

__all__ = ["read_landing"]


def read_landing(
    spark: SparkSession,
    path: Path,
    client: ClientConfig,
    *,
    endings: LineEndings | None = None,
    extra: Sequence[tuple[str, str]] = (),
) -> LandingRead:
    """Parse ``path`` in the client's format into canonical raw string columns,
    ``_corrupt_record`` and ``_record_number``, persisted (``LandingRead.release()``).

    ``endings``: the CSV file's line endings, if the checksum pass counted them. ``extra``:
    undeclared CSV headers to read as (header, column) pairs (schema evolution's plan).

    Raises:
        LandingFileError: a whole-file problem, with its reason code (the file is REJECTED).
    """
    kind = client.file.format
    if kind == "jsonl":
        return read_landing_jsonl(spark, path, client)
    if kind == "xml":
        return read_landing_xml(spark, path, client)
    return read_landing_csv(spark, path, client, endings=endings, extra=extra)
