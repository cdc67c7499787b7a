"""Build the SparkSession from settings (no Spark options hard-coded in job code).

Security defaults (``security_conf``): block, shuffle and spill files are encrypted
(``spark.io.encryption.enabled``) in a 0700 scratch folder of the run (``lakehouse.scratch``);
the job's files are created under a private umask (``settings.umask``, also handed to Hadoop);
the key variables never reach the JVM's environment, and Python workers get them empty.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark import SparkContext, StorageLevel
from pyspark.sql import SparkSession

from lakehouse.config.models import Settings
from lakehouse.pii.keys import KEY_ENV_VARS, key_environment_removed
from lakehouse.scratch import prepare_scratch

__all__ = [
    "BASE_CONF",
    "FILE_CACHE",
    "LOG4J_CONF",
    "apply_umask",
    "build_spark",
    "driver_java_options",
    "security_conf",
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
    # Spark writes table files itself (engine/deltars_staging.py): Delta wants INT64 microsecond
    # timestamps, not Spark's legacy INT96.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # Measured on the 1M-row benchmark file (DesignDoc.md, "Performance"): the standardisers'
    # regex-heavy projection ran 1.8x faster interpreted than whole-stage generated, and
    # pandera's per-batch cost made 50k-row Arrow batches 1.6x faster than 10k.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "50000",
    # PySpark's daemon with one change: a reused worker's per-task gc.collect() stops walking
    # the ~140k objects of pandas/pandera/polars once they are imported (gc.freeze); measured
    # on cold runs in DesignDoc.md, "Testing" > "Cold start of one spark-submit".
    "spark.python.daemon.module": "lakehouse.spark_daemon",
    # PySpark 4 records the Python call site of every Column and DataFrame call for error
    # messages: three extra py4j round trips per call (a conf read, set, clear). A file's
    # plan is ~3,600 calls; this cut a demo-sized file's median 2.54 -> 1.87 s (in-process
    # A/B, DesignDoc "Performance"). Errors still name the failing expression, not the line.
    "spark.python.sql.dataFrameDebugging.enabled": "false",
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


def apply_umask(settings: Settings) -> int:
    """Set the process's file creation mask to ``settings.umask``; the previous mask."""
    return os.umask(settings.umask_bits)


def security_conf(settings: Settings, *, local_dir: Path | None) -> dict[str, str]:
    """Spark options that keep PII off the scratch disk in plaintext and keys out of workers."""
    conf = {
        # Shuffle files, spills and disk-cached blocks hold raw rows before any PII policy.
        "spark.io.encryption.enabled": "true",
        "spark.io.encryption.keySizeBits": "256",
        # Files Spark's Hadoop writers create (table files, checkpoints) get the same mask.
        "spark.hadoop.fs.permissions.umask-mode": f"{settings.umask_bits:03o}",
    }
    # Under spark-submit the JVM started with the caller's environment: workers get the key
    # variables overridden with empty values (the ring treats empty as unset).
    hidden = (*KEY_ENV_VARS, *settings.alerts.secret_names)
    conf.update({f"spark.executorEnv.{name}": "" for name in hidden})
    if local_dir is not None:
        conf["spark.local.dir"] = str(local_dir)
    return conf


def build_spark(settings: Settings) -> SparkSession:
    """Create (or reuse) the session; under spark-submit, master comes from the command line."""
    apply_umask(settings)
    builder = SparkSession.builder.appName(settings.spark.app_name)
    use_this_python()
    # A new SparkContext gets its own private scratch folder; a reused one keeps its own.
    starting = SparkContext._active_spark_context is None
    own_dir = "spark.local.dir" not in settings.spark.conf and starting
    local_dir = (
        prepare_scratch(settings.scratch_root, run_label=settings.spark.app_name)
        if own_dir
        else None
    )
    # Only takes effect when this call starts the JVM (python -m lakehouse, tests);
    # scripts/run_pipeline.sh passes the same flag to spark-submit.
    conf = {
        **BASE_CONF,
        **security_conf(settings, local_dir=local_dir),
        "spark.driver.extraJavaOptions": driver_java_options(),
        **settings.spark.conf,
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    if settings.spark.master:
        builder = builder.config("spark.master", settings.spark.master)
    # The JVM (and every worker it forks) never has keys or alert secrets.
    with key_environment_removed(also=settings.alerts.secret_names):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
