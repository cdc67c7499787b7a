"""Key rotation: every encrypted value moves to the new key id and still decrypts; tokens,
row hashes and merge behaviour stay exactly as they were."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from lakehouse.config.models import ClientConfig
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.pii.access import reveal
from lakehouse.pii.crypto import is_encrypted, key_id_of
from lakehouse.pii.rotation import RotationReport, encrypted_columns, rotate_client

ENGINE = DeltaRsEngine()
TOKEN = bytes([11]) * 32  # the token key of the pii_ring fixture
Lake = Any
Ring = Any

HEADER = (
    "member_no|given_name|family_name|date_of_birth|mobile|email_address|postal_code|"
    "coverage|care_notes|pcp_npi\n"
)
FIRST = (
    HEADER
    + (
        "GX-000001|Ann|Lee|17.05.1970|212-555-0142|ann@example.org|10001|GOLD|SSN 123-45-6789|"
        "1234567893\n"
        "GX-000002|Bo|Kim|19800202||bo@example.org|10002|SILVER||\n"
        "GX-000003|Cy|Ito|31.02.1990||||GOLD||\n"  # impossible date: quarantined
        "GX-000004|Di|Wu\n"  # malformed
    )
    + "".join(  # valid members, so the file stays under max_invalid_ratio (0.2)
        f"GX-0001{i:02d}|Flo|Fay|01.01.1960||||GOLD||\n" for i in range(8)
    )
)
SECOND = HEADER + "GX-000001|Ann|Lee|17.05.1970|212-555-0143|ann@example.org|10001|GOLD||\n"


def _key_ids(lake: Lake, client: ClientConfig) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for zone in ("bronze", "quarantine", "silver"):
        table = lake.table(zone, client.client_id)
        for name in encrypted_columns(client, zone):
            for value in table.column(name).to_pylist():
                if is_encrypted(value):
                    found.setdefault(zone, set()).add(key_id_of(value))
    return found


def _plain(lake: Lake, client: ClientConfig, keys: object, zone: str) -> list[dict[str, object]]:
    revealed = reveal(lake.settings, client, ENGINE, keys, zone=zone)  # type: ignore[arg-type]
    return sorted(
        revealed.table.drop_columns(["_updated_at"] if zone == "silver" else []).to_pylist(),
        key=str,
    )


@pytest.fixture()
def lake(spark: SparkSession, pii_lake: Lake, pii_ring: Ring) -> Lake:
    built = pii_lake
    built.ingest(spark, pii_ring("enc-1", "siv-1"), "globex_20260301.csv", FIRST)
    return built


def test_rotation_reencrypts_and_keeps_tokens(
    spark: SparkSession, clients: dict[str, ClientConfig], lake: Lake, pii_ring: Ring
) -> None:
    globex = clients["globex"]
    old = pii_ring("enc-1", "siv-1")
    assert _key_ids(lake, globex) == {z: {"enc-1"} for z in ("bronze", "quarantine")} | {
        "silver": {"enc-1", "siv-1"}
    }
    plain = {z: _plain(lake, globex, old, z) for z in ("bronze", "quarantine", "silver")}
    stable = {
        z: sorted(map(str, lake.table(z, "globex").select(cols).to_pylist()))
        for z, cols in (
            ("silver", ["member_id", "_row_hash", "email"]),
            ("bronze", ["_key_token", "_record_number"]),
        )
    }
    new = pii_ring("enc-2", "siv-1")
    dry = RotationReport()
    rotate_client(lake.settings, globex, ENGINE, new, dry_run=True, report=dry)
    assert dry.total > 0 and dry.rewritten == []
    report = RotationReport()
    rotate_client(lake.settings, globex, ENGINE, new, dry_run=False, report=report)
    assert report.total == dry.total
    assert report.rewritten == ["globex/bronze", "globex/quarantine", "globex/silver"]
    assert _key_ids(lake, globex) == {z: {"enc-2"} for z in ("bronze", "quarantine")} | {
        "silver": {"enc-2", "siv-1"}
    }
    # Same plaintext, same tokens and hashes, SIV untouched (its key did not change).
    assert {z: _plain(lake, globex, new, z) for z in plain} == plain
    after = {
        z: sorted(map(str, lake.table(z, "globex").select(cols).to_pylist()))
        for z, cols in (
            ("silver", ["member_id", "_row_hash", "email"]),
            ("bronze", ["_key_token", "_record_number"]),
        )
    }
    assert after == stable
    # The old key can now go: a ring without it reads everything.
    assert {
        z: _plain(lake, globex, pii_ring("enc-2", "siv-1", old=False), z) for z in plain
    } == plain
    # A rerun has nothing left to do.
    again = RotationReport()
    rotate_client(lake.settings, globex, ENGINE, new, dry_run=False, report=again)
    assert again.total == 0 and again.rewritten == []
    # Merge keys are stable: the same member in a new file is an update, not an insert.
    record = lake.ingest(spark, new, "globex_20260308.csv", SECOND)
    assert (record.rows_inserted, record.rows_updated) == (0, 1)


def test_siv_rotation_keeps_values_joinable(
    spark: SparkSession, clients: dict[str, ClientConfig], lake: Lake, pii_ring: Ring
) -> None:
    globex = clients["globex"]
    before = lake.table("silver", "globex").column("email").to_pylist()
    plain = _plain(lake, globex, pii_ring("enc-1", "siv-1"), "silver")
    rotate_client(
        lake.settings,
        globex,
        ENGINE,
        pii_ring("enc-1", "siv-2"),
        dry_run=False,
        report=RotationReport(),
    )
    after = lake.table("silver", "globex").column("email").to_pylist()
    assert all(key_id_of(v) == "siv-2" for v in after if v)
    assert set(after) != set(before)
    assert _plain(lake, globex, pii_ring("enc-1", "siv-2"), "silver") == plain
    # Deterministic again under the new key: new rows with the same e-mail join.
    record = lake.ingest(spark, pii_ring("enc-1", "siv-2"), "globex_20260308.csv", SECOND)
    assert record.rows_updated == 1
    emails = pa.table(lake.table("silver", "globex")).column("email").to_pylist()
    assert len({e for e in emails if e}) == 2  # Ann and Bo; Ann's row updated, not added
