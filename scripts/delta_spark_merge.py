"""Merge cost against table size on delta-spark, with and without deletion vectors.

An experiment for the engine decision (DesignDoc, "Engine decision" and "Merge scale"), not
part of the product: the embedded engine is delta-rs, whose merges are copy-on-write. This
asks what the issue's merge_scale_ratio (100k updates into 10M vs 1M rows) is on delta-spark,
where MERGE can mark replaced rows in deletion vectors instead of rewriting their files.

Each case builds a silver-like table (partition ``client_id``, a key, six 64-character
strings, ``row_hash``, at most ``--rows-per-file`` rows per file), then times one SCD1 MERGE
of ``--updates`` changed rows for random existing keys, with the product's rule
(update when the hash differs, insert when the key is new). Prints one JSON document.

delta-spark's jars come from ``--jars`` (comma-separated paths) or, without it, from Maven
through ``spark.jars.packages`` (``--package``; default ``io.delta:delta-spark_2.13:4.1.0``,
the build served here, made for Spark 4.1, which this PySpark 4.2 session runs).

    .venv/bin/python scripts/delta_spark_merge.py --work /tmp/dsm \\
        --jars ~/.m2/repository/io/delta/delta-spark_2.13/4.1.0/delta-spark_2.13-4.1.0.jar,\\
~/.m2/repository/io/delta/delta-storage/4.1.0/delta-storage-4.1.0.jar
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

_STRINGS = ("first_name", "last_name", "birth_date", "phone", "email", "zip")


def _session(args: argparse.Namespace) -> SparkSession:
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("delta-spark-merge")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
    )
    if args.jars:
        builder = builder.config("spark.jars", args.jars)
    else:
        builder = builder.config("spark.jars.packages", args.package)
    return builder.getOrCreate()


def _rows(spark: SparkSession, first: int, count: int, version: str) -> Any:
    """``count`` members from key ``first``; ``version`` changes every string and the hash."""
    frame = spark.range(first, first + count).select(
        F.lit("bench").alias("client_id"), F.col("id").alias("key")
    )
    for name in _STRINGS:
        frame = frame.withColumn(name, F.sha2(F.concat_ws(":", F.lit(name + version), "key"), 256))
    return frame.withColumn("row_hash", F.sha2(F.concat_ws("|", *_STRINGS), 256))


def _case(spark: SparkSession, args: argparse.Namespace, size: int, dv: bool) -> dict[str, Any]:
    path = args.work / f"silver_{size}_{'dv' if dv else 'cow'}"
    shutil.rmtree(path, ignore_errors=True)
    start = time.perf_counter()
    (
        _rows(spark, 0, size, "v1")
        .repartition(max(1, size // args.rows_per_file), "key")
        .write.format("delta")
        .partitionBy("client_id")
        .option("delta.enableDeletionVectors", str(dv).lower())
        .option("delta.enableChangeDataFeed", "true")
        .option("maxRecordsPerFile", args.rows_per_file)
        .save(str(path))
    )
    build_s = time.perf_counter() - start
    # Random existing keys, changed values: every update lands in some file of the partition.
    keys = (
        spark.range(0, size)
        .orderBy(F.rand(args.seed))
        .limit(args.updates)
        .select(F.col("id").alias("k"))
    )
    source = _rows(spark, 0, size, "v2").join(keys, F.col("key") == F.col("k")).drop("k")
    source = source.localCheckpoint()  # the source is built before the clock starts
    source.createOrReplaceTempView("updates")
    files_before = spark.read.format("delta").load(str(path)).inputFiles()
    start = time.perf_counter()
    spark.sql(
        f"""MERGE INTO delta.`{path}` t USING updates s
        ON t.client_id = s.client_id AND t.key = s.key
        WHEN MATCHED AND t.row_hash <> s.row_hash THEN UPDATE SET *
        WHEN NOT MATCHED THEN INSERT *"""
    )
    merge_s = time.perf_counter() - start
    metrics = (
        spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").select("operationMetrics").first()
    )
    assert metrics is not None
    kept = {
        k: int(v)
        for k, v in metrics[0].items()
        if k
        in (
            "numTargetRowsUpdated",
            "numTargetRowsCopied",
            "numTargetFilesAdded",
            "numTargetFilesRemoved",
            "numTargetDeletionVectorsAdded",
        )
    }
    rows_after = spark.read.format("delta").load(str(path)).count()  # updates add no row
    return {
        "rows": size,
        "deletion_vectors": dv,
        "files_before": len(files_before),
        "build_s": round(build_s, 2),
        "merge_s": round(merge_s, 2),
        "rows_after": rows_after,
        **kept,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (kept)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--updates", type=int, default=100_000)
    parser.add_argument("--rows-per-file", type=int, default=1_000_000)
    parser.add_argument("--jars", default="")
    parser.add_argument("--package", default="io.delta:delta-spark_2.13:4.1.0")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    spark = _session(args)
    cases = [_case(spark, args, size, dv) for dv in (True, False) for size in args.sizes]
    result: dict[str, Any] = {"spark": spark.version, "cases": cases}
    low, high = min(args.sizes), max(args.sizes)
    for dv in (True, False):
        by_size = {c["rows"]: c["merge_s"] for c in cases if c["deletion_vectors"] is dv}
        result["merge_scale_" + ("dv" if dv else "cow")] = round(by_size[high] / by_size[low], 2)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    spark.stop()


if __name__ == "__main__":
    main()
