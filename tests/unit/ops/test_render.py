"""Text tables and JSON for the operations commands."""

from __future__ import annotations

import datetime as dt
import json

from lakehouse.ops.render import Column, format_value, render_table, to_json


def test_table_aligns_columns_and_marks_missing_values() -> None:
    rows = [
        {"client": "acme", "rows": 1205, "rate": 0.0597},
        {"client": "globex", "rows": 7, "rate": None},
    ]
    text = render_table(
        rows,
        [
            Column("client", "client"),
            Column("rows", "rows", ">"),
            Column("rate", "q", ">", percent=True),
        ],
    )
    lines = text.splitlines()
    assert lines[0].split() == ["client", "rows", "q"]
    assert lines[1] == "acme    1205  6.0%"
    assert lines[2] == "globex     7     -"


def test_values_are_formatted_for_people() -> None:
    stamp = dt.datetime(2026, 1, 5, 10, 30, 1, 999, tzinfo=dt.UTC)
    assert format_value(stamp) == "2026-01-05 10:30:01"
    assert format_value(3.14159) == "3.14"
    assert format_value(0.25, percent=True) == "25.0%"
    assert format_value(None) == "-"


def test_long_and_multiline_cells_are_cut_to_one_line() -> None:
    text = render_table([{"e": "x" * 80 + "\nsecond"}], [Column("e", "e")])
    assert "\n" not in text.splitlines()[1]
    assert text.splitlines()[1].endswith("…")


def test_json_has_iso_dates_and_sorted_keys() -> None:
    data = json.loads(
        to_json([{"b": dt.date(2026, 1, 5), "a": dt.datetime(2026, 1, 5, tzinfo=dt.UTC)}])
    )
    assert data == [{"a": "2026-01-05T00:00:00+00:00", "b": "2026-01-05"}]
