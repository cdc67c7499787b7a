"""Check every configuration file and report every problem, not only the first.

``load_clients`` stops at the first error (a run must not start on bad config); an operator
fixing files wants the whole list: each problem names the file, the key, what was expected
and what was found.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lakehouse.config.loader import client_files, load_client
from lakehouse.config.models import ClientConfig
from lakehouse.errors import ConfigError
from lakehouse.ops.schedules import Schedules

__all__ = ["ConfigProblem", "check_client_files", "check_schedules_file"]


@dataclass(frozen=True)
class ConfigProblem:
    file: str
    key: str | None
    message: str
    expected: str | None = None
    found: str | None = None

    def as_row(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        text = f"{self.file}" + (f": key '{self.key}'" if self.key else "") + f": {self.message}"
        if self.expected is not None:
            text += f"; expected {self.expected}"
        if self.found is not None:
            text += f", found {self.found}"
        return text


def _expected(error: Mapping[str, Any]) -> str | None:
    ctx = error.get("ctx") or {}
    if "expected" in ctx:
        return str(ctx["expected"])
    return {
        "extra_forbidden": "no such key (check the spelling)",
        "missing": "the key to be present",
    }.get(error["type"])


def _from_validation(path: Path, exc: ValidationError) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors():
        found = error.get("input")
        problems.append(
            ConfigProblem(
                file=str(path),
                key=".".join(str(part) for part in error["loc"]) or None,
                message=error["msg"],
                expected=_expected(error),
                found=None if isinstance(found, dict | list) or found is None else repr(found),
            )
        )
    return problems


def _from_config_error(exc: ConfigError) -> ConfigProblem:
    if isinstance(exc.__cause__, ValidationError):
        raise AssertionError("validation errors are expanded, not summarised")  # pragma: no cover
    return ConfigProblem(file=exc.path, key=exc.key, message=str(exc), expected=None, found=None)


def _validate_all(model: type[BaseModel], path: Path) -> list[ConfigProblem]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        return [ConfigProblem(str(path), None, f"cannot read YAML: {exc}")]
    if not isinstance(data, dict):
        return [ConfigProblem(str(path), None, "top level must be a mapping")]
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return _from_validation(path, exc)
    return []


def check_client_files(
    directory: Path,
) -> tuple[dict[str, ClientConfig], list[ConfigProblem]]:
    """Load every ``*.yaml`` in ``directory``; return the good clients and every problem."""
    if not directory.is_dir():
        return {}, [ConfigProblem(str(directory), None, "clients directory not found")]
    clients: dict[str, ClientConfig] = {}
    problems: list[ConfigProblem] = []
    paths = client_files(directory)  # approved-column overlays are merged by load_client
    if not paths:
        problems.append(ConfigProblem(str(directory), None, "no client files (*.yaml)"))
    for path in paths:
        schema_problems = _validate_all(ClientConfig, path)
        if schema_problems:
            problems.extend(schema_problems)
            continue
        try:
            client = load_client(path)  # file-level rules: client_id equals the file name
        except ConfigError as exc:
            problems.append(
                ConfigProblem(
                    str(path),
                    exc.key,
                    "client_id must match the file name",
                    exc.expected,
                    exc.found,
                )
                if exc.key == "client_id"
                else _from_config_error(exc)
            )
            continue
        clients[client.client_id] = client
    return clients, problems


def check_schedules_file(path: Path, client_ids: Collection[str]) -> list[ConfigProblem]:
    """Every problem of ``conf/schedules.yaml``, including schedules for clients without a
    client file (``client_ids``: every client that has one, valid or not)."""
    problems = _validate_all(Schedules, path)
    if problems:
        return problems
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [
        ConfigProblem(
            str(path),
            f"clients.{client_id}",
            "schedule for a client that is not configured",
            expected=", ".join(sorted(client_ids)) or "a configured client",
            found=repr(client_id),
        )
        for client_id in sorted(data.get("clients") or {})
        if client_id not in client_ids
    ]
