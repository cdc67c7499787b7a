"""Fixtures for end-to-end tests (helpers live in e2e_support.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import Workspace


@pytest.fixture()
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(lake=tmp_path / "lake", landing=tmp_path / "landing")
