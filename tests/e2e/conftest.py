"""Fixtures for end-to-end tests (helpers live in e2e_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import DemoLake, Workspace, build_demo_lake


@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(lake=tmp_path / "lake", landing=tmp_path / "landing")


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> DemoLake:
    """One README demo run per test session; the demo, ops, PII, notebook and backfill
    modules read it or work on copies (``demo_lake.copy(...)``)."""
    return build_demo_lake(tmp_path_factory.mktemp("demo-lake"))
