"""What a new user reads when a client file is wrong: the key by column name, what was
expected, what was found, every problem of the file in one pass (lakehouse.config.problems)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from lakehouse.config import load_client
from lakehouse.config.problems import Problem
from lakehouse.errors import ConfigError
from lakehouse.ops import ConfigProblem, check_client_files, check_exports_file

REPO = Path(__file__).resolve().parents[3]
ACME_TEXT = (REPO / "clients" / "acme.yaml").read_text(encoding="utf-8")
ACME: dict[str, Any] = yaml.safe_load(ACME_TEXT)


def _problems(tmp_path: Path, text: str) -> list[tuple[str | None, str, str | None, str | None]]:
    directory = tmp_path / "clients"
    directory.mkdir(exist_ok=True)
    (directory / "acme.yaml").write_text(text, encoding="utf-8")
    _, problems = check_client_files(directory)
    return [(p.key, p.message, p.expected, p.found) for p in problems]


def _edited(**changes: Any) -> str:
    data = copy.deepcopy(ACME)
    for dotted, value in changes.items():
        node: Any = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return yaml.safe_dump(data, sort_keys=False)


def test_a_column_is_named_by_its_name_not_its_position(tmp_path: Path) -> None:
    assert _problems(tmp_path, _edited(columns__3__formats=None)) == [
        (
            "columns[birth_date].formats",
            "date column 'birth_date' needs 'formats', e.g. [yyyy-MM-dd]",
            "at least one date pattern",
            "[]",
        )
    ]


def test_a_single_value_where_a_list_is_expected_is_a_list_of_one(tmp_path: Path) -> None:
    text = (
        ACME_TEXT.replace('formats: ["yyyy-MM-dd", "MM/dd/yyyy"]', "formats: MM/dd/yyyy")
        .replace("merge_key: [member_id]", "merge_key: member_id")
        .replace("{isin: [GOLD, SILVER, BRONZE]}", "{isin: GOLD}")
    )
    path = tmp_path / "acme.yaml"
    path.write_text(text + "phi: {mrn_patterns: 'MRN[0-9]{6}'}\n", encoding="utf-8")
    client = load_client(path)
    assert client.column("birth_date").formats == ("MM/dd/yyyy",)
    assert client.merge_key == ("member_id",)
    assert client.column("plan_code").checks.isin == ("GOLD",)
    assert client.phi.mrn_patterns == ("MRN[0-9]{6}",)


def test_a_list_of_mappings_given_as_a_scalar_says_what_a_list_looks_like(
    tmp_path: Path,
) -> None:
    assert _problems(tmp_path, _edited(columns="member_id")) == [
        ("columns", "not a list", "a list of mappings, one '- name: ...' each", "'member_id'")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            ACME_TEXT.replace("thresholds:\n  max_invalid_ratio: 0.20", "max_invalid_ratio: 0.2"),
            (
                "max_invalid_ratio",
                "not a top-level key: it belongs under thresholds:",
                "thresholds: {max_invalid_ratio: 0.2}",
                "0.2",
            ),
        ),
        (
            ACME_TEXT + 'delimiter: ";"\n',
            (
                "delimiter",
                "not a top-level key: it belongs under file:",
                "file: {delimiter: ';'}",
                "';'",
            ),
        ),
        (
            ACME_TEXT.replace(
                "    case: upper\n    checks: {isin:", "    isin: [GOLD]\n    checks: {isin:"
            ),
            (
                "columns[plan_code].isin",
                "not a key here: it belongs under checks:",
                "checks: {isin: ...}",
                None,
            ),
        ),
        (
            ACME_TEXT + "formats: [yyyy-MM-dd]\n",
            (
                "formats",
                "not a top-level key: it belongs under columns: (in each item)",
                "'formats' in an item of columns:",
                None,
            ),
        ),
    ],
    ids=["thresholds", "file", "checks", "columns"],
)
def test_a_key_at_the_wrong_level_says_where_it_belongs(
    tmp_path: Path, text: str, expected: tuple[str, str, str, str | None]
) -> None:
    assert _problems(tmp_path, text) == [expected]


def test_a_misspelt_key_gets_the_nearest_spelling_or_the_allowed_keys(tmp_path: Path) -> None:
    text = ACME_TEXT.replace('  delimiter: ","', '  delimeter: ","').replace(
        "    case: upper\n    checks: {isin:", "    regexp: x\n    checks: {isin:"
    )
    assert _problems(tmp_path, text + "colour: blue\n") == [
        ("file.delimeter", "unknown key", "'delimiter' (check the spelling)", "','"),
        (
            "columns[plan_code].regexp",
            "unknown key",
            "'regex' under checks: (check the spelling)",
            "'x'",
        ),
        (
            "colour",
            "unknown key",
            "one of client_id, dataset, description, phone_region, file, columns, merge_key, "
            "thresholds, phi, delivery, retention, consent, schema_evolution, drift, "
            "measurements, default_dataset, token_domain (check the spelling)",
            "'blue'",
        ),
    ]


def test_allowed_values_are_listed_once_without_pydantic_prefixes(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        _edited(columns__4__type="phone_number", columns__0__checks={"regex": "^AC[0-9"}),
    )
    assert problems == [
        (
            "columns[member_id].checks.regex",
            "not a valid regular expression (unterminated character set at position 3)",
            None,
            "'^AC[0-9'",
        ),
        (
            "columns[phone].type",
            "not an allowed value",
            "'string', 'code', 'name', 'integer', 'number', 'date', 'timestamp', 'phone', "
            "'email' or 'zip'",
            "'phone_number'",
        ),
    ]
    line = str(ConfigProblem("acme.yaml", *problems[1]))
    assert line.count("'phone'") == 1 and "Input should be" not in line
    assert not any(p[1].startswith(("Value error", "Assertion failed")) for p in problems)


def test_merge_key_problems_carry_key_expected_and_found_and_come_all_at_once(
    tmp_path: Path,
) -> None:
    text = _edited(
        merge_key=["member_id", "last_name", "member_no"],
        columns__0__pii="encrypt",
        columns__2__required=False,
        columns__2__source="FirstName",
    )
    assert _problems(tmp_path, text) == [
        (
            "columns[last_name].source",
            "duplicate column source 'FirstName' (columns 2 and 3)",
            "unique column sources",
            "'FirstName'",
        ),
        (
            "merge_key[0]",
            "merge_key column 'member_id' has pii 'encrypt'; use token (or keep)",
            "pii: token or keep",
            "pii: encrypt",
        ),
        (
            "merge_key[1]",
            "merge_key column 'last_name' must be required (set required: true on it)",
            "a required column",
            "required: false",
        ),
        (
            "merge_key[1]",
            "merge_key column 'last_name' has pii 'mask'; use token (or keep)",
            "pii: token or keep",
            "pii: mask",
        ),
        (
            "merge_key[2]",
            "merge_key column 'member_no' is not among the columns",
            "one of member_id, first_name, last_name, birth_date, phone, email, zip, plan_code",
            "'member_no'",
        ),
    ]


def test_cross_field_problems_come_with_field_problems_in_one_pass(tmp_path: Path) -> None:
    # A field error stops pydantic before the client-level rules; they are still checked.
    text = _edited(columns__4__type="phone_number", columns__0__required=False)
    assert [p[0] for p in _problems(tmp_path, text)] == ["columns[phone].type", "merge_key[0]"]


def test_a_duplicate_yaml_key_names_the_key_and_both_lines(tmp_path: Path) -> None:
    text = ACME_TEXT.replace("merge_key: [member_id]", "merge_key: [member_id]\nmerge_key: [zip]")
    line = text.splitlines().index("merge_key: [zip]") + 1
    duplicate = (
        "merge_key",
        f"duplicate key (line {line}; first at line {line - 1}): YAML keeps only the last value",
        "each key once per mapping",
        "'merge_key' twice",
    )
    problems = _problems(tmp_path, text)
    assert problems[0] == duplicate
    assert [p[0] for p in problems[1:]] == ["merge_key[0]", "merge_key[0]"]  # zip: not required
    path = tmp_path / "clients" / "acme.yaml"
    with pytest.raises(ConfigError) as info:
        load_client(path)  # a run refuses it too
    assert (info.value.key, info.value.problem) == duplicate[:2]


def test_loading_names_the_first_problem_and_counts_the_others(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(_edited(columns__4__type="phone_number", columns__0__required=False))
    with pytest.raises(ConfigError) as info:
        load_client(path)
    assert info.value.key == "columns[phone].type"
    assert info.value.fix is not None
    assert info.value.fix.endswith("`lakehouse validate-config` lists all 2 problems of this file")


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    assert _problems(tmp_path, "client_id: acme\n\tdataset: members\n") == [
        (
            None,
            "not valid YAML at line 2, column 1: while scanning for the next token found "
            "character '\\t' that cannot start any token",
            None,
            None,
        )
    ]


def _exports(tmp_path: Path, edit: dict[str, Any]) -> list[Problem]:
    data = yaml.safe_load((REPO / "conf" / "exports.yaml").read_text(encoding="utf-8"))
    data["profiles"]["members_k5"].update(edit)
    path = tmp_path / "exports.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    clients, _ = check_client_files(REPO / "clients")
    return [
        Problem(p.key, p.message, p.expected, p.found)
        for p in check_exports_file(path, clients, set(clients))
    ]


def test_export_profiles_are_checked_the_same_way(tmp_path: Path) -> None:
    assert _exports(tmp_path, {"k": 1, "kk": 5, "consumer": "nobody"}) == [
        Problem(
            "profiles.members_k5.kk",
            "unknown key",
            "one of clients, dataset, consumer, purpose, description, method, columns, "
            "quasi_identifiers, k, max_suppression, l_diversity (check the spelling)",
            "5",
        ),
        Problem("profiles.members_k5.k", "out of range", "a number >= 2", "1"),
    ]
    assert _exports(tmp_path, {"consumer": "nobody", "columns": ["zip", "plan_code"]}) == [
        Problem(
            f"profiles.members_k5.quasi_identifiers.{name}",
            f"quasi-identifier '{name}' is not an output column",
            "one of columns ['zip', 'plan_code']",
            f"'{name}'",
        )
        for name in ("first_name", "last_name", "birth_date")
    ]
    assert _exports(tmp_path, {"clients": "initech", "dataset": "claims"}) == [
        Problem(
            "profiles.members_k5.clients[0]",
            "profile for a client that is not configured",
            "acme, globex",
            "'initech'",
        )
    ]
    assert _exports(tmp_path, {"dataset": "claims"}) == [
        Problem(
            "profiles.members_k5.dataset",
            "client 'acme' writes another dataset",
            "'members' or 'readings'",
            "'claims'",
        )
    ]


def test_an_impossible_yaml_date_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    text = ACME_TEXT.replace("min_date: 1900-01-01", "min_date: 1900-13-01")
    assert _problems(tmp_path, text) == [
        (
            None,
            "a value is not what it looks like (month must be in 1..12)",
            "a real date such as 1900-01-01",
            None,
        )
    ]
