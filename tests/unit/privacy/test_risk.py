"""``--check`` figures on a frame whose classes are known."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from lakehouse.errors import LakehouseError
from lakehouse.privacy.risk import measure, read_export_file


def known() -> pl.DataFrame:
    # classes on (a, b): sizes 1, 1, 2, 3, 5 -> 12 rows
    sizes = {("x", 1): 1, ("x", 2): 1, ("y", 1): 2, ("y", 2): 3, ("z", None): 5}
    rows = [(a, b, i) for (a, b), n in sizes.items() for i in range(n)]
    return pl.DataFrame(rows, schema=["a", "b", "other"], orient="row")


def test_figures_on_a_known_frame() -> None:
    report = measure(known(), ["a", "b"])
    assert (report.rows, report.classes, report.min_class) == (12, 5, 1)
    assert report.unique_rows == 2 and report.unique_share == pytest.approx(2 / 12)
    assert report.histogram["1"] == {"classes": 2, "rows": 2}
    assert report.histogram["2"] == {"classes": 1, "rows": 2}
    assert report.histogram["3-4"] == {"classes": 1, "rows": 3}
    assert report.histogram["5-9"] == {"classes": 1, "rows": 5}
    assert sum(b["rows"] for b in report.histogram.values()) == 12
    assert measure(known(), ["a"]).min_class == 2


def test_unknown_column_is_named() -> None:
    with pytest.raises(LakehouseError, match="'c'"):
        measure(known(), ["a", "c"])


def test_reads_parquet_and_csv_exports(tmp_path: Path) -> None:
    frame = known()
    frame.write_parquet(tmp_path / "e.parquet")
    frame.write_csv(tmp_path / "e.csv")
    assert measure(read_export_file(tmp_path / "e.parquet"), ["a", "b"]).min_class == 1
    assert measure(read_export_file(tmp_path / "e.csv"), ["a", "b"]).classes == 5
    with pytest.raises(LakehouseError, match=r"parquet or \.csv"):
        read_export_file(tmp_path / "e.json")
