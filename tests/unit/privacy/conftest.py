"""Synthetic member frames and a small silver table (delta-rs, no Spark) for export tests."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from deltalake import write_deltalake

REPO = Path(__file__).resolve().parents[3]
PLANS = ("GOLD", "SILVER", "BRONZE")


def members(rows: int, *, seed: int = 7) -> pl.DataFrame:
    """Rows shaped like acme's silver: masked names, birth year (or 90+), zip3, plan."""
    rng = random.Random(seed)
    return pl.DataFrame(
        {
            "member_id": [f"{rng.getrandbits(128):032x}" for _ in range(rows)],
            "first_name": [rng.choice("ABCDEFGHJKLMNPRSTW") + "******" for _ in range(rows)],
            "last_name": [rng.choice("ABCDEFGHJKLMNPRSTW") + "******" for _ in range(rows)],
            "birth_date": [
                "90+" if rng.random() < 0.03 else str(rng.randint(1937, 2008)) for _ in range(rows)
            ],
            "phone": ["******" + f"{rng.randint(0, 9999):04d}" for _ in range(rows)],
            "zip": [rng.choice(["100", "112", "606", "941", "945", "000"]) for _ in range(rows)],
            "plan_code": [rng.choice(PLANS) for _ in range(rows)],
        }
    )


MakeMembers = Callable[..., pl.DataFrame]


@pytest.fixture()
def make_members() -> MakeMembers:
    return members


@pytest.fixture()
def frame() -> pl.DataFrame:
    return members(600)


SilverLake = Callable[[pl.DataFrame], Path]


@pytest.fixture()
def silver_lake(tmp_path: Path) -> SilverLake:
    """Write ``frame`` as acme's rows of ``<lake>/silver/members``; returns the lake root."""

    def build(data: pl.DataFrame) -> Path:
        lake = tmp_path / "lake"
        table = data.with_columns(pl.lit("acme").alias("client_id")).to_arrow()
        write_deltalake(str(lake / "silver" / "members"), table, partition_by=["client_id"])
        return lake

    return build
