"""Erasure: one member leaves silver, bronze, quarantine, CDF files, the log, landing and the
archive; other members stay byte for byte; the verification scan proves it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from pyspark.sql import SparkSession

from lakehouse.bronze import bronze_app_id
from lakehouse.config import load_client
from lakehouse.config.models import ClientConfig
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.errors import LakehouseError
from lakehouse.pii.domains import token_domain
from lakehouse.pii.erasure import forget, member_key
from lakehouse.pii.scan import scan_files
from lakehouse.pii.tokens import hmac_hex

ENGINE = DeltaRsEngine()
TOKEN = bytes([11]) * 32  # the token key of the pii_ring fixture
Lake = Any
Ring = Any

HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"


def _filler(start: int) -> str:
    """Eight valid members, so no file crosses the client's max_invalid_ratio (0.2)."""
    return "".join(
        f"AC00001{i:02d},Flo,Fay,1960-01-01,,,10005,gold\n" for i in range(start, start + 8)
    )


FILES = {
    "acme_2026-03-01.csv": HEADER
    + "AC0000001,Ann,Lee,1970-05-05,(212) 555-0142,ann@example.org,10001,gold\n"
    + "AC0000002,Bo,Kim,1980-02-02,,bo@example.org,10002,silver\n"
    + _filler(0),
    "acme_2026-03-02.csv": HEADER
    + "AC0000001,Ann,Lee-Ng,1970-05-05,(212) 555-0142,ann@example.org,10001,silver\n"
    + "AC0000002,Bo,Kim,1980-02-30,,,10002,silver\n"  # impossible date: quarantined
    + _filler(10),
    "acme_2026-03-03.csv": HEADER
    + "AC0000001,Ann,Lee, Jr,1970-05-05,,,10001,gold\n"  # malformed: one field too many
    + "AC0000003,Cy,Ito,1990-01-01,,,10003,bronze\n"
    + _filler(20),
}
ACME = load_client(Path(__file__).resolve().parents[3] / "clients" / "acme.yaml")
ANN = hmac_hex("AC0000001", TOKEN, domain=token_domain(ACME, "member_id"))


@pytest.fixture()
def lake(spark: SparkSession, pii_lake: Lake, pii_ring: Ring) -> Lake:
    built = pii_lake
    for name, text in FILES.items():
        built.ingest(spark, pii_ring(), name, text)
    archive = built.settings.archive_root / "acme"
    archive.mkdir(parents=True)
    shutil.copy(built.settings.landing_dir / "acme_2026-03-01.csv", archive)
    return built


def _ann_rows(lake: Lake) -> dict[str, int]:
    counts = {}
    for zone, column in (
        ("silver", "member_id"),
        ("bronze", "_key_token"),
        ("quarantine", "_key_token"),
    ):
        table = lake.table(zone, "acme")
        counts[zone] = int(pc.sum(pc.equal(table.column(column), ANN)).as_py() or 0)
    return counts


def test_member_key_standardises_like_the_pipeline(
    spark: SparkSession, clients: dict[str, ClientConfig], pii_ring: Ring
) -> None:
    member = member_key(spark, clients["acme"], pii_ring(), [" ac0000001 "])
    assert member.standardised == ("AC0000001",)
    assert member.silver_values == (ANN,) and member.key_token == ANN
    assert member.fingerprint not in (ANN,) and len(member.fingerprint) == 64
    assert "AC0000001" not in repr(member) and ANN not in repr(member)
    with pytest.raises(LakehouseError, match="1-part key"):
        member_key(spark, clients["acme"], pii_ring(), ["a", "b"])


def test_dry_run_changes_nothing(
    spark: SparkSession, clients: dict[str, ClientConfig], lake: Lake, pii_ring: Ring
) -> None:
    versions = {
        z: ENGINE.version(lake.settings.table_path(z, "members")) for z in ("bronze", "silver")
    }
    landing = {p.name: p.read_bytes() for p in lake.settings.landing_dir.iterdir()}
    report = forget(
        spark, lake.settings, clients["acme"], ENGINE, pii_ring(), ["AC0000001"], dry_run=True
    )
    assert report.rows == {"bronze": 3, "quarantine": 1, "silver": 1}
    assert set(report.raw_files) == {str(lake.settings.landing_dir / n) for n in FILES} | {
        str(lake.settings.archive_root / "acme" / "acme_2026-03-01.csv")
    }
    assert {z: ENGINE.version(lake.settings.table_path(z, "members")) for z in versions} == versions
    assert {p.name: p.read_bytes() for p in lake.settings.landing_dir.iterdir()} == landing
    # The malformed record's first field is still the key, so its key token finds it too.
    assert _ann_rows(lake) == {"silver": 1, "bronze": 3, "quarantine": 1}


def test_forget_removes_the_member_everywhere(
    spark: SparkSession, clients: dict[str, ClientConfig], lake: Lake, pii_ring: Ring
) -> None:
    settings = lake.settings
    before = {z: lake.table(z, "acme").num_rows for z in ("bronze", "quarantine", "silver")}
    assert scan_files([settings.lake_root], [ANN])  # the token is there, CDF and log included
    report = forget(spark, settings, clients["acme"], ENGINE, pii_ring(), ["ac0000001"])
    assert report.verified, report.leftovers
    assert report.rows == {"bronze": 3, "quarantine": 1, "silver": 1}
    after = {z: lake.table(z, "acme").num_rows for z in before}
    assert after == {z: before[z] - report.rows[z] for z in before}
    assert _ann_rows(lake) == {"silver": 0, "bronze": 0, "quarantine": 0}
    # Nothing under the lake holds the token, and no file anywhere holds the key.
    assert scan_files([settings.lake_root], [ANN, "AC0000001"]) == []
    assert scan_files([settings.landing_dir], ["AC0000001", "Lee-Ng"]) == []
    assert not list((settings.lake_root / "silver" / "members" / "_change_data").rglob("*.parquet"))
    # Other members are untouched, raw files keep their other records byte for byte.
    silver = set(lake.table("silver", "acme").column("member_id").to_pylist())
    domain = token_domain(ACME, "member_id")
    assert {hmac_hex(m, TOKEN, domain=domain) for m in ("AC0000002", "AC0000003")} <= silver
    assert (settings.landing_dir / "acme_2026-03-01.csv").read_text() == (
        HEADER + "AC0000002,Bo,Kim,1980-02-02,,bo@example.org,10002,silver\n" + _filler(0)
    )
    assert (settings.archive_root / "acme" / "acme_2026-03-01.csv").read_text() == (
        settings.landing_dir / "acme_2026-03-01.csv"
    ).read_text()
    # Idempotency markers survive the log purge: replays still skip these files.
    sha = __import__("hashlib").sha256(FILES["acme_2026-03-02.csv"].encode()).hexdigest()
    bronze = settings.table_path("bronze", "members")
    version = ENGINE.version(bronze)
    replay = lake.table("bronze", "acme").slice(0, 1)
    assert not ENGINE.append(bronze, replay, app_id=bronze_app_id(sha))
    assert ENGINE.version(bronze) == version
    # A second request finds nothing and still verifies.
    again = forget(spark, settings, clients["acme"], ENGINE, pii_ring(), ["AC0000001"])
    assert again.rows == {"bronze": 0, "quarantine": 0, "silver": 0} and again.verified


def test_forget_needs_the_keys_that_decrypt_malformed_records(
    spark: SparkSession, clients: dict[str, ClientConfig], lake: Lake, pii_ring: Ring
) -> None:
    from lakehouse.errors import KeyMissingError

    wrong = pii_ring(encrypt="enc-2", old=False)
    with pytest.raises(KeyMissingError, match="'enc-1'"):
        forget(spark, lake.settings, clients["acme"], ENGINE, wrong, ["AC0000001"])


def test_forget_proves_an_archive_and_checkpoints_outside_the_lake(
    spark: SparkSession,
    clients: dict[str, ClientConfig],
    lake: Lake,
    pii_ring: Ring,
    tmp_path: Path,
) -> None:
    settings = lake.settings.model_copy(
        update={"archive_dir": tmp_path / "vault", "checkpoint_dir": tmp_path / "streams"}
    )
    archived = settings.archive_root / "acme" / "acme_2026-03-01.csv"
    archived.parent.mkdir(parents=True)
    shutil.move(lake.settings.archive_root / "acme" / "acme_2026-03-01.csv", archived)
    stray = settings.checkpoints / "acme" / "offsets" / "0"
    stray.parent.mkdir(parents=True)
    stray.write_text('{"note": "AC0000001"}', encoding="utf-8")
    report = forget(spark, settings, clients["acme"], ENGINE, pii_ring(), ["AC0000001"])
    assert str(archived) in report.raw_files  # the external archive is erased ...
    assert "AC0000001" not in archived.read_text()
    assert report.leftovers == [str(stray)] and not report.verified  # ... and proved


def test_forget_never_rewrites_through_a_landing_symlink(
    spark: SparkSession,
    clients: dict[str, ClientConfig],
    lake: Lake,
    pii_ring: Ring,
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside" / "other-system.csv"
    outside.parent.mkdir()
    outside.write_text(HEADER + "AC0000001,Ann,Lee,1970-05-05,,,10001,gold\n", encoding="utf-8")
    link = lake.settings.landing_dir / "acme_2026-03-09.csv"
    link.symlink_to(outside)
    before = outside.read_bytes()
    report = forget(spark, lake.settings, clients["acme"], ENGINE, pii_ring(), ["AC0000001"])
    assert str(link) not in report.raw_files
    assert link.is_symlink() and outside.read_bytes() == before
    assert report.verified  # links are not followed by the proof either
