"""Silver: rows to merge (hash + PII policies) and the SCD1 merge with its late-data rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config.models import ClientConfig
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.pii.domains import token_domain
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.tokens import hmac_hex
from lakehouse.silver import merge_silver, silver_rows

ENGINE = DeltaRsEngine()


def _valid(
    spark: SparkSession, rows: list[tuple[str, str, str]], day: int, seq: int = 0
) -> DataFrame:
    """Standardised acme rows (member_id, last_name, plan_code) from a file of that day."""
    df = spark.createDataFrame(rows, "member_id string, last_name string, plan_code string")
    return df.select(
        F.lit("acme").alias("client_id"),
        "member_id",
        F.lit("Ann").alias("first_name"),
        "last_name",
        F.lit(dt.date(1970, 5, 5)).alias("birth_date"),
        F.lit("+12125550142").alias("phone"),
        F.lit("ann@example.org").alias("email"),
        F.lit("10001").alias("zip"),
        "plan_code",
        F.lit(dt.date(2026, 1, day)).alias("_creation_date"),
        F.lit(seq).cast("int").alias("_sequence"),
        F.lit(f"acme_2026-01-{day:02d}.csv").alias("_source_file"),
        F.lit("run").alias("_run_id"),
        F.current_timestamp().alias("_ingested_at"),
    )


def _merge(
    spark: SparkSession,
    path: Path,
    client: ClientConfig,
    keys: KeyRing,
    rows: list[tuple[str, str, str]],
    day: int,
    seq: int = 0,
) -> tuple[int, int, int, int, int | None]:
    source = silver_rows(_valid(spark, rows, day, seq), client, keys)
    sha = f"{day:02d}{seq}" + "".join(r[0] + r[2] for r in rows)  # stands in for a file checksum
    c = merge_silver(
        ENGINE, path, source, client, file_sha256=sha, retries=2, metadata={"run_id": "t"}
    )
    return c.inserted, c.updated, c.unchanged, c.stale, c.version


def test_silver_rows_apply_policies_and_hash(
    spark: SparkSession, clients: dict[str, ClientConfig], keys: KeyRing
) -> None:
    acme = clients["acme"]
    out = silver_rows(_valid(spark, [("AC0000001", "Lee", "GOLD")], day=5), acme, keys)
    row = out.first()
    assert row is not None
    assert "email" not in out.columns  # pii: drop
    assert row["member_id"] == hmac_hex(
        "AC0000001", keys.token_key, domain=token_domain(acme, "member_id")
    )
    assert row["last_name"] == "L******"  # pii: mask {keep_first: 1}, fixed length
    same = silver_rows(_valid(spark, [("AC0000001", "Lee", "GOLD")], day=9), acme, keys).first()
    changed = silver_rows(
        _valid(spark, [("AC0000001", "Lee", "SILVER")], day=5), acme, keys
    ).first()
    assert same is not None and changed is not None
    assert same["_row_hash"] == row["_row_hash"]  # lineage is not content
    assert changed["_row_hash"] != row["_row_hash"]


def test_scd1_merge_rules(
    spark: SparkSession, clients: dict[str, ClientConfig], keys: KeyRing, tmp_path: Path
) -> None:
    acme, path = clients["acme"], tmp_path / "silver"
    first = [("AC0000001", "Lee", "GOLD"), ("AC0000002", "Kim", "GOLD")]
    assert _merge(spark, path, acme, keys, first, day=5)[:4] == (2, 0, 0, 0)
    version = ENGINE.version(path)
    # Every commit names what its tokens depend on (lakehouse.pii.key_check reads it).
    [commit] = ENGINE.history(path, limit=1)
    assert (commit.metadata["client_id"], commit.metadata["token_domain"]) == ("acme", "client")

    # Replay of the same file (crash before its audit row): the first commit's counts come
    # back, and nothing is written.
    assert _merge(spark, path, acme, keys, first, day=5) == (2, 0, 0, 0, version)
    assert ENGINE.version(path) == version

    # Same content in another file: everything unchanged, no new version.
    assert _merge(spark, path, acme, keys, first, day=5, seq=7) == (0, 0, 2, 0, None)
    assert ENGINE.version(path) == version

    # Newer file: one change, one unchanged, one new key.
    newer = [
        ("AC0000001", "Lee", "SILVER"),
        ("AC0000002", "Kim", "GOLD"),
        ("AC0000003", "Ng", "GOLD"),
    ]
    assert _merge(spark, path, acme, keys, newer, day=12)[:4] == (1, 1, 1, 0)

    # Late file (older creation date) with different content: stale, never applied.
    late = [("AC0000001", "Lee", "BRONZE"), ("AC0000004", "Ito", "GOLD")]
    assert _merge(spark, path, acme, keys, late, day=1)[:4] == (1, 0, 0, 1)

    # Same day, higher sequence wins; lower sequence afterwards is stale.
    assert _merge(spark, path, acme, keys, [("AC0000003", "Ng", "SILVER")], day=12, seq=2)[:4] == (
        0,
        1,
        0,
        0,
    )
    assert _merge(spark, path, acme, keys, [("AC0000003", "Ng", "BRONZE")], day=12, seq=1)[:4] == (
        0,
        0,
        0,
        1,
    )

    table = ENGINE.read(path, columns=["member_id", "plan_code"])
    plans = dict(
        zip(
            table.column("member_id").to_pylist(),
            table.column("plan_code").to_pylist(),
            strict=True,
        )
    )
    domain = token_domain(clients["acme"], "member_id")
    token = {m: hmac_hex(m, keys.token_key, domain=domain) for m in ("AC0000001", "AC0000003")}
    assert plans[token["AC0000001"]] == "SILVER"
    assert plans[token["AC0000003"]] == "SILVER"
    assert len(plans) == 4


def test_cdf_records_inserts_and_updates(
    spark: SparkSession, clients: dict[str, ClientConfig], keys: KeyRing, tmp_path: Path
) -> None:
    acme, path = clients["acme"], tmp_path / "silver"
    _merge(spark, path, acme, keys, [("AC0000001", "Lee", "GOLD")], day=5)
    start = ENGINE.version(path)
    assert start is not None
    _merge(
        spark,
        path,
        acme,
        keys,
        [("AC0000001", "Lee", "SILVER"), ("AC0000002", "Kim", "GOLD")],
        day=6,
    )
    cdf: pa.Table = ENGINE.read_cdf(path, starting_version=start + 1)
    changes = sorted(
        zip(
            cdf.column("_change_type").to_pylist(), cdf.column("plan_code").to_pylist(), strict=True
        )
    )
    assert changes == [
        ("insert", "GOLD"),
        ("update_postimage", "SILVER"),
        ("update_preimage", "GOLD"),
    ]
