"""The HIPAA restricted three-digit ZIP prefixes (no Spark: exports and Spark share it)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["RESTRICTED_ZIP3_FILE", "restricted_zip3"]

RESTRICTED_ZIP3_FILE = Path(__file__).parent / "data" / "zip3_restricted.txt"


@lru_cache(maxsize=1)
def restricted_zip3() -> frozenset[str]:
    """Three-digit prefixes that generalise to ``000``."""
    lines = RESTRICTED_ZIP3_FILE.read_text(encoding="utf-8").splitlines()
    prefixes = frozenset(line.strip() for line in lines if line.strip() and line[0] != "#")
    if not prefixes or any(len(p) != 3 or not p.isdigit() for p in prefixes):
        raise ValueError(f"{RESTRICTED_ZIP3_FILE} must list 3-digit prefixes, one per line")
    return prefixes
