"""Build the SparkSession from settings (no Spark options hard-coded in job code)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from lakehouse.config.models import Settings

__all__ = [
    "BASE_CONF",
    "FILE_CACHE",
    "LOG4J_CONF",
    "build_spark",
    "driver_java_options",
    "use_this_python",
]

# How a landing file's intermediate frames are cached (parsed rows, validated rows, silver
# classification). On disk, not in the heap: cached blocks in memory filled the storage
# pool, and the writers' and Python runners' untracked buffers then ran a 4g heap out of
# space on 10M+ row files. Serialised blocks stream to and from local disk (and the OS page
# cache), so the heap no longer grows with the file.
FILE_CACHE = StorageLevel.DISK_ONLY

# Defaults that the pipeline relies on; conf/lakehouse.yaml can override any of them.
BASE_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    # Malformed CSV rows (wrong field count) are only flagged when every column is parsed.
    "spark.sql.csv.parser.columnPruning.enabled": "false",
    # Keyed HMAC inputs appear as long binary literals in plans: never show them.
    "spark.sql.redaction.string.regex": "(?i)(?:0x|X')[0-9a-f]{64,}",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
    "spark.ui.showConsoleProgress": "false",
    # Spark writes table files itself (engine/spark_files.py): Delta wants INT64 microsecond
    # timestamps, not Spark's legacy INT96.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # Measured on the 1M-row benchmark file (DesignDoc.md, "Performance"): the standardisers'
    # regex-heavy projection ran 1.8x faster interpreted than whole-stage generated, and
    # pandera's per-batch cost made 50k-row Arrow batches 1.6x faster than 10k.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
}

LOG4J_CONF = Path(__file__).parent / "resources" / "log4j2.properties"


def driver_java_options() -> str:
    """JVM flags for the driver: lakehouse's log4j2 configuration."""
    return f"-Dlog4j2.configurationFile=file:{LOG4J_CONF}"


def use_this_python() -> None:
    """Python workers must run this interpreter (its venv has pandas, polars, pandera).

    PySpark reads ``PYSPARK_PYTHON`` when the SparkContext is created (the conf key is only
    honoured by spark-submit), so it is set here unless the caller chose one.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def build_spark(settings: Settings) -> SparkSession:
    """Create (or reuse) the session; under spark-submit, master comes from the command line."""
    builder = SparkSession.builder.appName(settings.spark.app_name)
    use_this_python()
    # Only takes effect when this call starts the JVM (python -m lakehouse, tests);
    # scripts/run_pipeline.sh passes the same flag to spark-submit.
    conf = {
        **BASE_CONF,
        "spark.driver.extraJavaOptions": driver_java_options(),
        **settings.spark.conf,
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    if settings.spark.master:
        builder = builder.config("spark.master", settings.spark.master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
