"""Fixtures for PII tests that need a small real lake built by ``process_file``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from lakehouse.audit import AuditRecord
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.ingest.file import process_file
from lakehouse.ingest.job import Job
from lakehouse.ingest.outcome import FileAttempt, StageClock, outcome_record
from lakehouse.landing.filenames import parse_file_name
from lakehouse.pii.keys import KeyRing

ENGINE = DeltaRsEngine()
TOKEN, ENC1, ENC2, SIV1, SIV2 = (bytes([i]) * 32 for i in range(11, 16))


def ring(encrypt: str = "enc-1", siv: str = "siv-1", *, old: bool = True) -> KeyRing:
    return KeyRing(
        token_key_id="tok",
        keys={"tok": TOKEN, "enc-1": ENC1, "enc-2": ENC2, "siv-1": SIV1, "siv-2": SIV2},
        encrypt_key_id=encrypt,
        encrypt_old_key_ids=frozenset({"enc-1", "enc-2"} - {encrypt}) if old else frozenset(),
        siv_key_id=siv,
        siv_old_key_ids=frozenset({"siv-1", "siv-2"} - {siv}) if old else frozenset(),
    )


@dataclass(frozen=True)
class Lake:
    settings: Settings
    clients: dict[str, ClientConfig]

    def table(self, zone: str, client_id: str | None = None) -> pa.Table:
        table = pa.table(
            DeltaTable(str(self.settings.lake_root / zone / "members"))
            .to_pyarrow_dataset()
            .to_table()
        )
        if client_id is None:
            return table
        return table.filter(pa.compute.equal(table.column("client_id"), client_id))

    def ingest(self, spark: SparkSession, keys: KeyRing, name: str, text: str) -> AuditRecord:
        path = self.settings.landing_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        landing = parse_file_name(name, self.clients)
        job = Job(
            spark=spark,
            settings=self.settings,
            clients=self.clients,
            keys=keys,
            engine=ENGINE,
            run_id=f"test-{name}",
        )
        attempt = FileAttempt(
            client_id=landing.client_id,
            file_name=name,
            file_size=len(text.encode()),
            file_sha256=hashlib.sha256(text.encode()).hexdigest(),
        )
        clock = StageClock()
        return outcome_record(job, attempt, process_file(job, landing, path, attempt, clock))


def make_lake(tmp_path: Path, clients: dict[str, ClientConfig]) -> Lake:
    settings = Settings(
        lake_root=tmp_path / "lake",
        landing_dir=tmp_path / "landing",
        clients_dir=tmp_path / "clients",
    )
    return Lake(settings=settings, clients=clients)


RingFactory = Callable[..., KeyRing]


@pytest.fixture()
def pii_ring() -> RingFactory:
    """``pii_ring(encrypt="enc-1", siv="siv-1", old=True)``: a ring with two keys per purpose."""
    return ring


@pytest.fixture()
def pii_lake(tmp_path: Path, clients: dict[str, ClientConfig]) -> Lake:
    return make_lake(tmp_path, clients)
