"""Several datasets per client: the forms of a client file, feeds, inheritance, references,
and problems that name the dataset's key as the file spells it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakehouse.config import load_client, load_clients
from lakehouse.config.datasets import feed_of, feeds_of
from lakehouse.config.loader import load_client_datasets
from lakehouse.errors import ConfigError
from lakehouse.ops.config_check import check_client_files
from lakehouse.pii.domains import token_domain

REPO = Path(__file__).resolve().parents[3]


def _acme() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "clients" / "acme.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def _write(directory: Path, data: object, stem: str = "acme") -> Path:
    path = directory / f"{stem}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _datasets_only(data: dict[str, Any]) -> dict[str, Any]:
    """acme rewritten in the datasets-only form: members moved under datasets."""
    members = {
        k: v
        for k, v in data.items()
        if k not in ("client_id", "phone_region", "datasets", "dataset")
    }
    return {
        "client_id": data["client_id"],
        "phone_region": data["phone_region"],
        "datasets": {"members": members, **data["datasets"]},
    }


def test_the_shipped_acme_has_members_and_readings() -> None:
    configs = load_client_datasets(REPO / "clients" / "acme.yaml")
    assert [(c.dataset, c.feed) for c in configs] == [
        ("members", "acme"),
        ("readings", "acme_readings"),
    ]
    members, readings = configs
    # Client-level keys are inherited; dataset rules are not.
    assert readings.phone_region == members.phone_region == "US"
    assert readings.drift is None and members.drift is not None
    assert readings.consent is None and members.consent is not None
    assert load_client(REPO / "clients" / "acme.yaml") == members


def test_the_datasets_only_form_loads_the_same_configs(tmp_path: Path) -> None:
    _write(tmp_path, _datasets_only(_acme()))
    loaded = load_clients(tmp_path)
    shipped = {f: c for f, c in load_clients(REPO / "clients").items() if c.client_id == "acme"}
    assert loaded == shipped


def test_default_dataset_decides_which_files_keep_bare_names(tmp_path: Path) -> None:
    data = _datasets_only(_acme())
    data["default_dataset"] = "readings"
    _write(tmp_path, data)
    assert sorted(load_clients(tmp_path)) == ["acme", "acme_members"]
    assert load_clients(tmp_path)["acme"].dataset == "readings"


def test_feeds_of_a_client_put_its_default_dataset_first() -> None:
    clients = load_clients(REPO / "clients")
    assert feeds_of(["acme"], clients) == ["acme", "acme_readings"]
    assert feeds_of(["globex", "acme"], clients) == ["globex", "acme", "acme_readings"]
    assert feed_of("acme", "readings", clients) == "acme_readings"
    # Audit rows from before datasets were audited belong to the default dataset.
    assert feed_of("acme", None, clients) == feed_of("acme", "members", clients) == "acme"


def test_a_reference_shares_the_referenced_token_domain() -> None:
    clients = load_clients(REPO / "clients")
    members, readings = clients["acme"], clients["acme_readings"]
    assert token_domain(readings, "member_id") == token_domain(members, "member_id")
    # Columns without a reference keep their own dataset's domain.
    assert token_domain(readings, "device_id") == "client:acme:readings:device_id"


@pytest.mark.parametrize(
    ("edit", "key", "words"),
    [
        (
            lambda d: d["datasets"]["readings"]["columns"][0].update(references="claims.member_id"),
            "datasets.readings.columns[member_id].references",
            "no other dataset 'claims'",
        ),
        (
            lambda d: d["datasets"]["readings"]["columns"][0].update(references="members.nope"),
            "datasets.readings.columns[member_id].references",
            "has no 'nope'",
        ),
        (
            lambda d: d["datasets"]["readings"]["columns"][0].update(pii="keep"),
            "datasets.readings.columns[member_id].references",
            "pii must match",
        ),
        (
            lambda d: d["datasets"]["readings"]["columns"][6].update(type="datetime"),
            "datasets.readings.columns[measured_at].type",
            "not an allowed value",
        ),
        (
            lambda d: d["datasets"]["readings"]["measurements"].update(time_column="taken_at"),
            "datasets.readings.measurements.time_column",
            "lacks",
        ),
        (
            lambda d: d["datasets"]["readings"].update(client_id="acme"),
            "datasets.readings.client_id",
            "not set per dataset",
        ),
        (
            lambda d: d["datasets"].update(members={"columns": []}),
            "datasets.members",
            "top-level one already",
        ),
    ],
)
def test_a_bad_dataset_names_its_key_in_the_file(
    tmp_path: Path, edit: Any, key: str, words: str
) -> None:
    data = _acme()
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_client_datasets(path)
    assert info.value.key == key
    assert words in str(info.value)
    # validate-config reports the same key, with every other problem of the file.
    _, problems = check_client_files(tmp_path)
    assert key in [p.key for p in problems]


def test_keys_that_belong_to_a_dataset_are_refused_beside_datasets_only(tmp_path: Path) -> None:
    data = _datasets_only(_acme())
    data["merge_key"] = ["member_id"]
    _write(tmp_path, data)
    _, problems = check_client_files(tmp_path)
    assert [(p.key, p.message.split(":")[0]) for p in problems] == [
        ("merge_key", "'merge_key' belongs to a dataset")
    ]
