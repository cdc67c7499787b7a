"""The approved-columns overlay: ``clients/<client_id>.approved.yaml`` next to the client file.

``lakehouse schema approve`` writes it; the config loader merges it into the client's
``columns`` (an entry whose ``name`` is declared replaces that column, e.g. an approved type
change; others are appended), so an approved column is a declared column for every command.
It lives beside the YAML, not in the lake, so every command that loads clients sees the same
columns without lake access, and the approval shows up in the config's review (git diff);
the registry (``<lake>/schema/registry``) keeps who approved what, when and why.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = ["OVERLAY_SUFFIX", "is_overlay", "merge_overlay", "overlay_path", "write_overlay"]

OVERLAY_SUFFIX = ".approved.yaml"
_HEADER = (
    "# Written by `lakehouse schema approve`: columns approved through the schema registry\n"
    "# (<lake>/schema/registry: who, when, why). Merged into {client}.yaml's columns by the\n"
    "# config loader. Move a column into {client}.yaml when you like; remove it here then.\n"
)


def overlay_path(client_file: Path) -> Path:
    return client_file.with_name(client_file.stem + OVERLAY_SUFFIX)


def is_overlay(path: Path) -> bool:
    return path.name.endswith(OVERLAY_SUFFIX)


def merge_overlay(client: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``client``'s YAML mapping with ``overlay``'s columns merged in by name.

    Raises:
        ValueError: the overlay is not a mapping of ``client_id``, ``schema_version`` and a
            list of column mappings with a ``name``, or names another client.
    """
    unknown = set(overlay) - {"client_id", "schema_version", "columns"}
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)}; expected client_id, columns")
    if overlay.get("client_id") != client.get("client_id"):
        raise ValueError(f"client_id {overlay.get('client_id')!r} is not the client file's")
    approved = overlay.get("columns") or []
    if not isinstance(approved, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) for c in approved
    ):
        raise ValueError("columns must be a list of mappings, each with a name")
    declared = list(client.get("columns") or [])
    index = {c.get("name"): i for i, c in enumerate(declared) if isinstance(c, dict)}
    for column in approved:
        if column["name"] in index:
            declared[index[column["name"]]] = column
        else:
            index[column["name"]] = len(declared)
            declared.append(column)
    return {**client, "columns": declared}


def write_overlay(
    client_file: Path, client_id: str, version: int, columns: Sequence[Mapping[str, Any]]
) -> Path:
    """Replace the overlay atomically (temporary file, then rename); returns its path."""
    path = overlay_path(client_file)
    body = yaml.safe_dump(
        {"client_id": client_id, "schema_version": version, "columns": [dict(c) for c in columns]},
        sort_keys=False,
        allow_unicode=True,
    )
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(_HEADER.format(client=client_id) + body)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read_overlay(client_file: Path) -> dict[str, Any] | None:
    """The overlay's mapping, or None when the client has none."""
    path = overlay_path(client_file)
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}
