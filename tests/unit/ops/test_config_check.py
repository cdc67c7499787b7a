"""validate-config reports every problem of every file; config-schema matches the files."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lakehouse.cli import main
from lakehouse.ops import check_client_files, check_schedules_file, client_json_schema

REPO = Path(__file__).resolve().parents[3]


def _json_compatible(data: Any) -> Any:
    """YAML 1.1 reads 1900-01-01 as a date; editors (YAML 1.2 core schema) see a string."""
    if isinstance(data, dict):
        return {k: _json_compatible(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_json_compatible(v) for v in data]
    return data.isoformat() if isinstance(data, dt.date) else data


@pytest.mark.parametrize("path", sorted((REPO / "clients").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_client_file_validates_against_the_schema(path: Path) -> None:
    schema = client_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = _json_compatible(yaml.safe_load(path.read_text(encoding="utf-8")))
    jsonschema.Draft202012Validator(schema).validate(data)


def test_schema_catches_what_editors_should_flag() -> None:
    validator = jsonschema.Draft202012Validator(client_json_schema())
    data = _json_compatible(yaml.safe_load((REPO / "clients/acme.yaml").read_text()))
    data["columns"][0]["type"] = "strng"
    data["thresholds"]["max_invalid_ratoi"] = 0.1
    messages = sorted(e.message for e in validator.iter_errors(data))
    assert any("strng" in m for m in messages)
    assert any("max_invalid_ratoi" in m for m in messages)


def _clients_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "clients"
    shutil.copytree(REPO / "clients", directory)
    acme = yaml.safe_load((directory / "acme.yaml").read_text())
    acme["columns"][1]["type"] = "strng"  # two problems in one file
    acme["thresholds"]["max_invalid_ratoi"] = 0.1
    (directory / "acme.yaml").write_text(yaml.safe_dump(acme))
    globex = yaml.safe_load((directory / "globex.yaml").read_text())
    (directory / "initech.yaml").write_text(yaml.safe_dump(globex))  # client_id != file name
    (directory / "broken.yaml").write_text("client_id: [unclosed\n")
    return directory


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    clients, problems = check_client_files(_clients_dir(tmp_path))
    assert sorted(clients) == ["globex"]
    by_file: dict[str, list[str | None]] = {}
    for problem in problems:
        by_file.setdefault(Path(problem.file).name, []).append(problem.key)
    assert sorted(by_file) == ["acme.yaml", "broken.yaml", "initech.yaml"]
    assert sorted(k or "" for k in by_file["acme.yaml"]) == [
        "columns[first_name].type",
        "thresholds.max_invalid_ratoi",
    ]
    assert by_file["initech.yaml"] == ["client_id"]
    typo = next(p for p in problems if p.key == "columns[first_name].type")
    assert typo.found == "'strng'" and "string" in (typo.expected or "")
    assert "acme.yaml: key 'columns[first_name].type'" in str(typo)


def test_validate_config_command_prints_all_errors_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code = main(["validate-config", "--clients-dir", str(_clients_dir(tmp_path))])
    out = capsys.readouterr().out
    assert code == 1
    assert "ok     globex" in out
    assert out.count("error  ") == 4
    assert "4 problem(s) in 3 file(s)" in out
    again = _clients_dir(tmp_path / "again")
    code = main(["validate-config", "--json", "--clients-dir", str(again)])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["ok"] == ["globex"] and len(report["problems"]) == 4


def test_shipped_configuration_is_valid(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    assert main(["validate-config"]) == 0
    out = capsys.readouterr().out
    assert "ok     acme" in out and "ok     conf/schedules.yaml" in out


def test_schedules_are_checked_against_the_clients(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text("clients:\n  umbrella: {ingest: '0 * * * *'}\n  acme: {ingest: '61 * * * *'}\n")
    (problem,) = check_schedules_file(path, {})
    assert problem.key == "clients.acme.ingest" and "minute: 61" in problem.message
    path.write_text("clients:\n  umbrella: {ingest: '0 * * * *'}\n")
    (problem,) = check_schedules_file(path, {})
    assert problem.key == "clients.umbrella"


def test_config_schema_command_writes_the_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "schema" / "client.json"
    assert main(["config-schema", "--out", str(out)]) == 0
    schema = json.loads(out.read_text())
    assert schema["$schema"].endswith("2020-12/schema")
    assert {"client_id", "dataset", "columns", "merge_key"} <= set(schema["properties"])
    assert schema["required"] == ["client_id"]
    # Either the members-only form's keys, or datasets (README, "Datasets and readings").
    members_only, datasets_only = schema["anyOf"]
    assert set(members_only["required"]) >= {"client_id", "dataset", "columns", "merge_key"}
    assert datasets_only == {"required": ["datasets"]}
    assert "columns" in schema["$defs"]["Dataset"]["properties"]
    assert main(["config-schema"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1]) == schema


def test_validate_config_as_a_new_user_meets_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    clients = tmp_path / "clients"
    clients.mkdir()
    shutil.copy(REPO / "clients/globex.yaml", clients)
    acme = (
        (REPO / "clients/acme.yaml")
        .read_text(encoding="utf-8")
        .replace("thresholds:\n  max_invalid_ratio: 0.20", "max_invalid_ratio: 0.2")
        .replace('formats: ["yyyy-MM-dd", "MM/dd/yyyy"]', "formats: MM/dd/yyyy")  # accepted
        .replace("    type: phone\n", "    type: phone_number\n")
        .replace("merge_key: [member_id]", "merge_key: [member_id, member_no]")
    )
    (clients / "acme.yaml").write_text(acme, encoding="utf-8")
    exports = tmp_path / "exports.yaml"
    exports.write_text(
        (REPO / "conf/exports.yaml").read_text(encoding="utf-8").replace("k: 5", "k: 1"),
        encoding="utf-8",
    )
    code = main(["validate-config", "--clients-dir", str(clients), "--exports", str(exports)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    a, e = clients / "acme.yaml", exports
    assert out == [
        "ok     globex: dataset=members columns=10",
        "ok     conf/schedules.yaml",
        f"error  {a}: key 'columns[phone].type': not an allowed value; expected 'string', "
        "'code', 'name', 'integer', 'number', 'date', 'timestamp', 'phone', 'email' or 'zip', "
        "found "
        "'phone_number'",
        f"error  {a}: key 'max_invalid_ratio': not a top-level key: it belongs under "
        "thresholds:; expected thresholds: {max_invalid_ratio: 0.2}, found 0.2",
        f"error  {a}: key 'merge_key[1]': merge_key column 'member_no' is not among the "
        "columns; expected one of member_id, first_name, last_name, birth_date, phone, email, "
        "zip, plan_code, found 'member_no'",
        f"error  {e}: key 'profiles.members_k5.k': out of range; expected a number >= 2, found 1",
        "4 problem(s) in 2 file(s)",
    ]
