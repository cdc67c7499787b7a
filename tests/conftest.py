"""Shared fixtures: one SparkSession for the whole test run; tables go under tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from pyspark.sql import SparkSession

from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig
from lakehouse.pii.keys import KeyRing
from lakehouse.spark import BASE_CONF, driver_java_options, use_this_python

REPO = Path(__file__).resolve().parents[1]

hypothesis_settings.register_profile("ci", max_examples=60, deadline=None)
hypothesis_settings.register_profile("dev", max_examples=20, deadline=None)
hypothesis_settings.load_profile("ci")

TEST_KEY = bytes(range(32, 64))


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    use_this_python()
    builder = SparkSession.builder.master("local[2]").appName("lakehouse-tests")
    for key, value in {
        **BASE_CONF,
        "spark.sql.shuffle.partitions": "2",
        "spark.driver.extraJavaOptions": driver_java_options(),
    }.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def clients() -> dict[str, ClientConfig]:
    return load_clients(REPO / "clients")


@pytest.fixture()
def keys() -> KeyRing:
    return KeyRing(token_key_id="test", keys={"test": TEST_KEY})
