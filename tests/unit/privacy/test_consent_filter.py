"""An export for a purpose leaves out members without consent for it, before any
generalisation or noise, and its report says how many."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from lakehouse.config import load_client
from lakehouse.config.models import Settings
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.pii.consent import ConsentRecord, append_consent
from lakehouse.privacy.exporter import _consented_silver

REPO = Path(__file__).resolve().parents[3]


def test_members_who_withdrew_the_purpose_are_left_out(tmp_path: Path) -> None:
    settings = Settings(lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing")
    engine = DeltaRsEngine()
    silver = pa.table(
        {
            "client_id": ["acme"] * 3,
            "member_id": ["t1", "t2", "t3"],
            "plan_code": ["GOLD", "SILVER", "GOLD"],
        }
    )
    engine.append(settings.table_path("silver", "members"), silver, partition_by=["client_id"])
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    append_consent(
        engine,
        settings.lake_root,
        [
            ConsentRecord("acme", "t2", "research", "withdrawn", at, at, "e", "record", "x", "u"),
            ConsentRecord("acme", "t3", "care", "withdrawn", at, at, "e", "record", "x", "u"),
        ],
    )
    acme = load_client(REPO / "clients" / "acme.yaml")  # consent: default grant
    frame, excluded = _consented_silver(settings, engine, acme, ["plan_code"], "research")
    assert (frame.columns, frame.height, excluded) == (["plan_code"], 2, 1)
    everyone, none = _consented_silver(settings, engine, acme, ["plan_code"], None)
    assert (everyone.height, none) == (3, None)
