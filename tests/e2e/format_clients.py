"""A JSON-lines client and an XML client for end-to-end tests (written into a clients folder
beside copies of the shipped ones), and files in their formats."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]

_COLUMNS: list[dict[str, Any]] = [
    {
        "name": "member_id",
        "type": "code",
        "required": True,
        "case": "upper",
        "checks": {"regex": "^M[0-9]{4}$"},
        "pii": "token",
    },
    {"name": "first_name", "type": "name", "required": True, "pii": "encrypt"},
    {"name": "birth_date", "type": "date", "formats": ["yyyy-MM-dd"], "pii": "generalise"},
    {"name": "plan_code", "type": "code", "case": "upper"},
]
_SOURCES = {
    "jsonl": {
        "member_id": "id",
        "first_name": "name.first",
        "birth_date": "dob",
        "plan_code": "plan",
    },
    "xml": {
        "member_id": "@id",
        "first_name": "name/first",
        "birth_date": "dob",
        "plan_code": "plan/@code",
    },
}
FORMAT_CLIENTS = {"jsonl": "jsonco", "xml": "xmlco"}


def _client(kind: str) -> dict[str, Any]:
    file: dict[str, Any] = {"format": kind, "encoding": "UTF-8"}
    if kind == "xml":
        file["xml"] = {"record": "members/member"}
    return {
        "client_id": FORMAT_CLIENTS[kind],
        "dataset": f"{kind}_members",
        "description": f"end-to-end test client delivering {kind} files",
        "file": file,
        "merge_key": ["member_id"],
        "thresholds": {"max_invalid_ratio": 0.5},
        "columns": [{**c, "source": _SOURCES[kind][c["name"]]} for c in _COLUMNS],
    }


def write_clients(folder: Path) -> Path:
    """``folder`` with the shipped clients plus the two format clients."""
    shutil.copytree(REPO / "clients", folder, dirs_exist_ok=True)
    for kind, client_id in FORMAT_CLIENTS.items():
        (folder / f"{client_id}.yaml").write_text(yaml.safe_dump(_client(kind)), encoding="utf-8")
    return folder


def jsonl_members(*records: str) -> bytes:
    return ("\n".join(records) + "\n").encode()


def jsonl_member(n: int, *, first: str = "Ann", dob: str = "1970-05-05") -> str:
    return f'{{"id": "M{n:04d}", "name": {{"first": "{first}"}}, "dob": "{dob}", "plan": "gold"}}'


def xml_members(*records: str, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return f"{prolog}\n<members>\n{''.join(records)}</members>\n".encode()


def xml_member(n: int, *, first: str = "Ann", dob: str = "1970-05-05") -> str:
    return (
        f'<member id="M{n:04d}"><name><first>{first}</first></name><dob>{dob}</dob>'
        '<plan code="gold"/></member>\n'
    )
