"""Fixtures for end-to-end tests (helpers live in e2e_support.py)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import DemoLake, Workspace, build_demo_lake
from jvm_archive import CLASS_ARCHIVE


@pytest.fixture(scope="session", autouse=True)
def _class_archive(request: pytest.FixtureRequest) -> Iterator[None]:
    """The JVMs end-to-end tests start map Spark's classes from the session's class archive
    (``jvm_archive.JvmClassArchive``), once its training run has written it."""
    archive = request.config.stash.get(CLASS_ARCHIVE, None)
    option = archive.option() if archive is not None else None
    if archive is not None and option is None:
        warnings.warn(
            f"no JVM class archive, cold JVMs start slower: {archive.failure}", stacklevel=2
        )
    if option is None:
        yield
        return
    os.environ["SPARK_SUBMIT_OPTS"] = option
    yield
    del os.environ["SPARK_SUBMIT_OPTS"]


@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(lake=tmp_path / "lake", landing=tmp_path / "landing")


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> DemoLake:
    """One README demo run per test session; the demo, ops, PII, notebook and backfill
    modules read it or work on copies (``demo_lake.copy(...)``)."""
    return build_demo_lake(tmp_path_factory.mktemp("demo-lake"))
