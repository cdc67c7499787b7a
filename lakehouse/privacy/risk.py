"""``lakehouse export --check``: how identifying a table or a file is on its quasi-identifiers.

Counts only (class sizes), never values: the smallest equivalence class, how many rows are
unique on the quasi-identifiers and their share, and a histogram of class sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import polars as pl

from lakehouse.errors import LakehouseError
from lakehouse.safe_files import read_regular

__all__ = ["BUCKETS", "RiskReport", "measure", "read_export_file"]

# Class-size buckets of the histogram: (label, smallest size, largest size or None).
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-4", 3, 4),
    ("5-9", 5, 9),
    ("10-19", 10, 19),
    ("20-49", 20, 49),
    ("50-99", 50, 99),
    ("100+", 100, None),
)


@dataclass(frozen=True)
class RiskReport:
    quasi_identifiers: tuple[str, ...]
    rows: int
    classes: int
    min_class: int
    unique_rows: int
    # bucket label -> {"classes": n, "rows": n}
    histogram: dict[str, dict[str, int]]

    @property
    def unique_share(self) -> float:
        return self.unique_rows / self.rows if self.rows else 0.0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "unique_share": round(self.unique_share, 6)}


def measure(frame: pl.DataFrame, quasi: Sequence[str]) -> RiskReport:
    """Class sizes of ``frame`` grouped on ``quasi`` (NULL is a value like any other).

    Raises:
        LakehouseError: no quasi-identifier given, or one is not a column of ``frame``.
    """
    if not quasi:
        raise LakehouseError("--quasi names no column", fix="give --quasi col,col")
    missing = [c for c in quasi if c not in frame.columns]
    if missing:
        raise LakehouseError(
            f"column '{missing[0]}' is not in the data",
            fix=f"choose --quasi columns from {sorted(frame.columns)}",
        )
    sizes = frame.group_by(list(quasi)).len()["len"]
    histogram: dict[str, dict[str, int]] = {}
    for label, low, high in BUCKETS:
        chosen = sizes.filter((sizes >= low) & ((sizes <= high) if high is not None else True))
        histogram[label] = {"classes": chosen.len(), "rows": int(chosen.sum())}
    return RiskReport(
        quasi_identifiers=tuple(quasi),
        rows=frame.height,
        classes=sizes.len(),
        min_class=int(cast(int, sizes.min())) if sizes.len() else 0,
        unique_rows=int((sizes == 1).sum()),
        histogram=histogram,
    )


def read_export_file(path: Path) -> pl.DataFrame:
    """An exported Parquet or CSV file (CSV: every column as text), opened without
    following a link.

    Raises:
        LakehouseError: neither ``.parquet`` nor ``.csv``.
    """
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise LakehouseError(
            f"cannot measure '{path.name}'", fix="give a .parquet or .csv file with --file"
        )
    data = read_regular(path)
    if suffix == ".parquet":
        return pl.read_parquet(data)
    return pl.read_csv(data, infer_schema=False)
