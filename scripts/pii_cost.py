"""Measure what PII protection costs per 1M rows (seconds), on this machine.

    .venv/bin/python scripts/pii_cost.py [--rows 1000000] [--repeat 2]

Builds ``--rows`` standardised member rows in Spark (globex's columns: names, birth date,
phone, e-mail, zip, plan, notes with PHI in 60% of rows), caches them, then times each
transform with Spark's ``noop`` sink (everything computed, nothing written):

- baseline: silver rows with every PII policy replaced by ``keep`` (hash and lineage only);
- silver:   globex's real policies (token, 3x AES-GCM, AES-SIV, age band, zip3, PHI scan);
- bronze:   raw-zone protection (10 columns AES-GCM + key token) against a plain copy;
- one line per single policy, to see where the time goes.

The figures for DesignDoc.md come from this script; the best of ``--repeat`` runs is kept.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import protect_raw
from lakehouse.silver import silver_rows
from lakehouse.spark import build_spark

KEYS = KeyRing(
    token_key_id="tok",
    keys={"tok": b"t" * 32, "enc": b"e" * 32, "siv": b"s" * 32},
    encrypt_key_id="enc",
    siv_key_id="siv",
)


def _rows(spark: SparkSession, count: int) -> DataFrame:
    i = F.col("id")
    note = (
        F.when(i % 5 == 0, F.lit("SSN on file 123-45-6789; call 212-555-0142"))
        .when(i % 5 == 1, F.lit("paid premium with card 4111 1111 1111 1111; DOB 05/17/1970"))
        .when(i % 5 == 2, F.lit("prefers e-mail ann.lee@example.org; chart MRN GM12345678"))
        .otherwise(F.lit(None).cast("string"))
    )
    return spark.range(count).select(
        F.lit("globex").alias("client_id"),
        F.format_string("GX-%06d", i % 1_000_000).alias("member_id"),
        F.concat(F.lit("Ann"), (i % 977).cast("string")).alias("first_name"),
        F.concat(F.lit("Lee"), (i % 1013).cast("string")).alias("last_name"),
        F.date_add(F.lit("1930-01-01").cast("date"), (i % 30000).cast("int")).alias("birth_date"),
        F.format_string("+1212%07d", i % 10_000_000).alias("phone"),
        F.format_string("member%d@example.org", i).alias("email"),
        F.format_string("%05d", i % 100_000).alias("zip"),
        F.lit("GOLD").alias("plan_code"),
        note.alias("notes"),
        F.lit("1234567893").alias("pcp_npi"),
        F.lit("2026-01-05").cast("date").alias("_creation_date"),
        F.lit(0).alias("_sequence"),
        F.lit("globex_20260105.csv").alias("_source_file"),
        F.lit("run").alias("_run_id"),
        F.current_timestamp().alias("_ingested_at"),
        F.lit(None).cast("string").alias("_corrupt_record"),
    )


def _keep_all(client: ClientConfig) -> ClientConfig:
    columns = [
        c.model_copy(update={"pii": "keep", "mask": None, "generalise": None, "free_text": False})
        for c in client.columns
    ]
    return client.model_copy(update={"columns": tuple(columns)})


def _only(client: ClientConfig, name: str) -> ClientConfig:
    """Every column kept except ``name``, which keeps its real policy."""
    keep = _keep_all(client)
    columns = [
        c if c.name == name else k for c, k in zip(client.columns, keep.columns, strict=True)
    ]
    return client.model_copy(update={"columns": tuple(columns)})


def _time(build: Callable[[], DataFrame], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        build().write.format("noop").mode("overwrite").save()
        best = min(best, time.perf_counter() - start)
    return best


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    spark = build_spark(Settings())
    globex = load_clients(Path("clients"))["globex"]
    rows = _rows(spark, args.rows).cache()
    rows.count()
    per_million = 1_000_000 / args.rows
    baseline = _time(lambda: silver_rows(rows, _keep_all(globex), KEYS), args.repeat)
    silver = _time(lambda: silver_rows(rows, globex, KEYS), args.repeat)
    raw_plain = _time(lambda: rows.select("*"), args.repeat)
    bronze = _time(lambda: protect_raw(rows, globex, KEYS, corrupt="_corrupt_record"), args.repeat)
    report = [
        ("silver baseline (all keep)", baseline),
        ("silver, globex policies", silver),
        ("bronze plain copy", raw_plain),
        ("bronze protected", bronze),
    ]
    for name in ("member_id", "last_name", "email", "birth_date", "zip", "notes"):
        policy = globex.column(name).pii if name != "notes" else "free_text"
        seconds = _time(lambda n=name: silver_rows(rows, _only(globex, n), KEYS), args.repeat)
        report.append((f"  only {name} ({policy})", seconds))
    _say(f"rows: {args.rows:,} (seconds per 1M rows; best of {args.repeat})")
    for label, seconds in report:
        _say(f"{label:<40} {seconds * per_million:7.1f} s")
    _say(f"{'cost of protection, silver':<40} {(silver - baseline) * per_million:7.1f} s")
    _say(f"{'cost of protection, bronze':<40} {(bronze - raw_plain) * per_million:7.1f} s")
    for label, seconds in report[4:]:
        _say(f"{'  extra for' + label[6:]:<40} {(seconds - baseline) * per_million:7.1f} s")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
