"""``drift:`` loads into typed settings once; every mistake names the key, what was expected
and what was found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lakehouse.config import load_client
from lakehouse.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def _load(tmp_path: Path, drift: Any) -> Any:
    data = yaml.safe_load((REPO / "clients" / "acme.yaml").read_text(encoding="utf-8"))
    data["drift"] = drift
    path = tmp_path / "acme.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_client(path)


def test_a_full_section_loads_with_rules_per_column(tmp_path: Path) -> None:
    drift = _load(
        tmp_path,
        {
            "window": 10,
            "min_history": 4,
            "row_count": {"tolerance": 0.5, "action": "hold"},
            "null_share": {
                "tolerance": 0.1,
                "columns": ["phone", "email"],
                "overrides": {"phone": {"tolerance": 0.3, "action": "hold"}},
            },
            "invalid_share": {"tolerance": 0.05},
        },
    ).drift
    assert drift.window == 10 and drift.row_count.action == "hold"
    rules = drift.null_share.rules(["member_id", "phone", "email"])
    assert list(rules) == ["phone", "email"]
    assert (rules["phone"].tolerance, rules["phone"].action) == (0.3, "hold")
    assert (rules["email"].tolerance, rules["email"].action) == (0.1, "alert")
    assert rules["email"].direction == "both"
    every = drift.invalid_share.rules(["member_id", "phone"])
    assert list(every) == ["member_id", "phone"] and every["phone"].direction == "up"


ERRORS = {
    "ratio of 1 or more": (
        {"row_count": {"tolerance": 1.5}},
        "drift.row_count.tolerance",
        "expected a number < 1.0",
        "1.5",
    ),
    "share tolerance above 1": (
        {"null_share": {"tolerance": 10}},
        "drift.null_share.tolerance",
        "expected a number <= 1.0",
        "10",
    ),
    "unknown action": (
        {"row_count": {"tolerance": 0.5, "action": "page"}},
        "drift.row_count.action",
        "'alert' or 'hold'",
        "'page'",
    ),
    "min_history above window": (
        {"window": 3, "min_history": 5, "row_count": {"tolerance": 0.5}},
        "drift.min_history",
        "no check could ever apply",
        "5",
    ),
    "no check": ({"window": 10}, "drift", "names no check", "none"),
    "unknown column": (
        {"null_share": {"tolerance": 0.1, "columns": ["member_id", "fone"]}},
        "drift.null_share.columns[1]",
        "column 'fone', which is not among the columns",
        "'fone'",
    ),
    "override of an unknown column": (
        {"invalid_share": {"tolerance": 0.1, "overrides": {"fone": {"tolerance": 0.2}}}},
        "drift.invalid_share.overrides.fone",
        "not among the columns",
        "'fone'",
    ),
    "override of a column the check leaves out": (
        {"null_share": {"tolerance": 0.1, "columns": ["email"], "overrides": {"phone": {}}}},
        "drift.null_share.overrides.phone",
        "which this check does not cover",
        "'phone'",
    ),
    "misspelt key": (
        {"row_count": {"tolerence": 0.5}},
        "drift.row_count.tolerence",
        "unknown key",
        "0.5",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_a_bad_section_names_the_key_and_the_fix(tmp_path: Path, case: str) -> None:
    drift, key, message, found = ERRORS[case]
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, drift)
    error = info.value
    assert error.key == key, str(error)
    assert message in str(error)
    assert error.found == found
    assert error.fix and "config-schema" in error.fix


def test_the_shipped_acme_example_loads() -> None:
    drift = load_client(REPO / "clients" / "acme.yaml").drift
    assert drift is not None and drift.row_count is not None
