"""Retention: expired rows leave every file of the table (change feed included), archived
files by their creation date, other clients untouched; the command audits counts."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from deltalake import DeltaTable, write_deltalake

from lakehouse.cli import main
from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.config.retention import RetentionPolicy
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.pii.retention import apply_retention

REPO = Path(__file__).resolve().parents[3]
TODAY = dt.date(2026, 3, 1)
OLD, NEW = dt.date(2024, 6, 1), dt.date(2026, 2, 20)
POLICY = {"bronze": "400d", "quarantine": "90d", "silver": "365d", "archive": "30d"}


def _rows(client: str, day: dt.date, n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {"client_id": client, "member": f"{client}-{start + i}", "_creation_date": day}
        for i in range(n)
    ]


def _write(path: Path, rows: list[dict[str, object]], *, mode: str = "append") -> None:
    write_deltalake(
        str(path),
        pa.Table.from_pylist(rows),
        mode=mode,  # type: ignore[arg-type]
        partition_by=["client_id"],
        configuration={"delta.enableChangeDataFeed": "true"},
    )


@pytest.fixture()
def lake(tmp_path: Path) -> tuple[Settings, ClientConfig]:
    settings = Settings(
        lake_root=tmp_path / "lake",
        landing_dir=tmp_path / "landing",
        clients_dir=REPO / "clients",
    )
    for zone in ("bronze", "quarantine", "silver"):
        path = settings.table_path(zone, "members")  # type: ignore[arg-type]
        _write(path, _rows("acme", OLD, 3) + _rows("acme", NEW, 2, 10) + _rows("globex", OLD, 2))
    # an update writes the old rows into the change feed (_change_data): they must go too
    DeltaTable(str(settings.table_path("silver", "members"))).update(
        predicate="member = 'acme-0'", updates={"member": "'acme-0b'"}
    )
    archive = settings.archive_root
    for relative in ("acme/acme_2024-06-01.csv", "acme/acme_2026-02-20_2.csv"):
        (archive / relative).parent.mkdir(parents=True, exist_ok=True)
        (archive / relative).write_text("MemberID\n")
    rejected = archive / "_rejected" / "acme" / "acme-final.csv"  # no date: aged by mtime
    rejected.parent.mkdir(parents=True)
    rejected.write_text("x\n")
    old = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp()
    os.utime(rejected, (old, old))
    outside = settings.lake_root.parent / "outside_2020-01-01.csv"
    outside.write_text("keep me\n")
    (archive / "acme" / "acme_2020-01-01.csv").symlink_to(outside)  # never removed through
    client = load_clients(REPO / "clients")["acme"]
    return settings, client.model_copy(update={"retention": RetentionPolicy(**POLICY)})


def _every_file_dates(path: Path, client: str) -> list[dt.date]:
    """``_creation_date`` of every row in every data file of the partition, any version."""
    dates: list[dt.date] = []
    for file in path.rglob("*.parquet"):
        if f"client_id={client}" in file.parts:
            dates += pq.read_table(file, columns=["_creation_date"]).column(0).to_pylist()
    return dates


def test_expired_rows_leave_every_file_and_the_change_feed(
    lake: tuple[Settings, ClientConfig],
) -> None:
    settings, client = lake
    silver = settings.table_path("silver", "members")
    assert list(silver.rglob("_change_data/**/*.parquet")), "the update wrote a change feed"
    report = apply_retention(settings, DeltaRsEngine(), client, today=TODAY)
    assert report.rows == {"bronze": 3, "quarantine": 3, "silver": 3}
    assert report.cutoffs["quarantine"] == "2025-12-01"
    assert report.verified and report.leftovers == {"bronze": 0, "quarantine": 0, "silver": 0}
    for zone in ("bronze", "quarantine", "silver"):
        path = settings.table_path(zone, "members")  # type: ignore[arg-type]
        assert set(_every_file_dates(path, "acme")) == {NEW}, zone
        assert _every_file_dates(path, "globex") == [OLD, OLD], "other clients keep theirs"
        current = DeltaTable(str(path)).to_pyarrow_table()
        assert current.num_rows == 4
    archive = settings.archive_root
    assert report.archive_files == 2
    assert sorted(p.name for p in (archive / "acme").iterdir()) == [
        "acme_2020-01-01.csv",  # the link stays, and so does its target
        "acme_2026-02-20_2.csv",
    ]
    assert (settings.lake_root.parent / "outside_2020-01-01.csv").read_text() == "keep me\n"
    assert not list((archive / "_rejected" / "acme").iterdir())


def test_a_dry_run_counts_and_changes_nothing(lake: tuple[Settings, ClientConfig]) -> None:
    settings, client = lake
    bronze = settings.table_path("bronze", "members")
    version = DeltaTable(str(bronze)).version()
    report = apply_retention(settings, DeltaRsEngine(), client, today=TODAY, dry_run=True)
    assert report.rows["bronze"] == 3 and report.archive_files == 2
    assert DeltaTable(str(bronze)).version() == version
    assert (settings.archive_root / "acme" / "acme_2024-06-01.csv").exists()


def test_periods_are_whole_days() -> None:
    with pytest.raises(ValueError, match="whole number of days"):
        RetentionPolicy(bronze="36h")
    assert RetentionPolicy(archive="30d").cutoff("archive", TODAY) == dt.date(2026, 1, 30)
    assert RetentionPolicy().cutoff("bronze", TODAY) is None


def test_the_command_audits_counts_and_takes_every_lock_of_the_dataset(
    lake: tuple[Settings, ClientConfig], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _ = lake
    clients_dir = tmp_path / "clients"
    clients_dir.mkdir()
    for name in ("acme", "globex"):
        data = yaml.safe_load((REPO / "clients" / f"{name}.yaml").read_text(encoding="utf-8"))
        if name == "acme":
            data["retention"] = POLICY
            data.pop("datasets")  # its members table only (readings: test_pii_e2e)
        (clients_dir / f"{name}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    args = ["retention", "--lake-root", str(settings.lake_root), "--clients-dir", str(clients_dir)]
    from lakehouse.ingest.lock import ClientLock

    with ClientLock(settings.lock_dir, "globex", run_id="ingest-1"):  # shares the table
        assert main([*args, "--as-of", TODAY.isoformat(), "--reason", "POL-7"]) == 1
    assert "being ingested" in capsys.readouterr().err
    assert main([*args, "--as-of", TODAY.isoformat(), "--reason", "POL-7"]) == 0
    out = capsys.readouterr().out
    assert "bronze      created before 2025-01-25: deleted 3 row(s)" in out
    events = DeltaTable(str(settings.lake_root / "audit" / "pii_events")).to_pyarrow_table()
    rows = [r for r in events.to_pylist() if r["event"] == "retention"]
    assert sorted(r["status"] for r in rows) == ["FAILED", "SUCCESS"]  # the refusal too
    done = next(r for r in rows if r["status"] == "SUCCESS")
    assert (done["client_id"], done["rows"], done["reason"]) == ("acme", 9, "POL-7")
    assert json.loads(done["detail"])["verified"] is True
