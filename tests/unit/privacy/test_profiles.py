"""conf/exports.yaml: the shipped file loads; every mistake names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lakehouse.errors import ConfigError
from lakehouse.privacy.profiles import (
    DpCountsProfile,
    KAnonymityProfile,
    load_exports,
)

REPO = Path(__file__).resolve().parents[3]


def test_shipped_exports_load() -> None:
    exports = load_exports(REPO / "conf" / "exports.yaml")
    k = exports.profiles["members_k5"]
    dp = exports.profiles["members_by_plan"]
    assert isinstance(k, KAnonymityProfile) and k.k == 5
    assert isinstance(dp, DpCountsProfile) and dp.epsilon == pytest.approx(1.0)
    assert exports.consumers[dp.consumer].epsilon_budget >= dp.epsilon


def _broken(tmp_path: Path, edit: dict[str, object], at: tuple[str, ...]) -> ConfigError:
    data = yaml.safe_load((REPO / "conf" / "exports.yaml").read_text(encoding="utf-8"))
    target = data
    for part in at:
        target = target[part]
    target.update(edit)
    path = tmp_path / "exports.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_exports(path)
    assert caught.value.path == str(path)
    return caught.value


@pytest.mark.parametrize(
    ("edit", "at", "key_end"),
    [
        ({"k": 1}, ("profiles", "members_k5"), "members_k5.k"),
        ({"kk": 5}, ("profiles", "members_k5"), "members_k5.kk"),
        ({"method": "l_anonymity"}, ("profiles", "members_k5"), "members_k5"),
        ({"consumer": "nobody"}, ("profiles", "members_k5"), "members_k5.consumer"),
        ({"columns": ["zip"]}, ("profiles", "members_k5"), "quasi_identifiers.birth_date"),
        (
            {"levels": ["year", "decade"]},
            ("profiles", "members_k5", "quasi_identifiers", "birth_date"),
            "quasi_identifiers.birth_date.levels[1]",
        ),
        (
            {"levels": ["10y", "5y"]},
            ("profiles", "members_k5", "quasi_identifiers", "birth_date"),
            "quasi_identifiers.birth_date.levels",
        ),
        ({"max_suppression": 0.9}, ("profiles", "members_k5"), "max_suppression"),
    ],
)
def test_errors_name_the_key(
    tmp_path: Path, edit: dict[str, object], at: tuple[str, ...], key_end: str
) -> None:
    error = _broken(tmp_path, edit, at)
    assert error.key is not None and error.key.endswith(key_end), error.key
    assert error.key.startswith("profiles.members_k5")


def test_dp_query_needs_bounds(tmp_path: Path) -> None:
    error = _broken(
        tmp_path,
        {"queries": [{"name": "m", "stat": "mean", "column": "birth_date", "epsilon": 0.5}]},
        ("profiles", "members_by_plan"),
    )
    assert error.key is not None and error.key.endswith("queries[m].bounds")
    assert "bounds" in str(error)


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_exports(tmp_path / "exports.yaml")
