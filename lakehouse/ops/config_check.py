"""Check every configuration file and report every problem, not only the first.

``load_clients`` stops at the first error (a run must not start on bad config); an operator
fixing files wants the whole list: each problem names the file, the key, what was expected
and what was found.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lakehouse.config.datasets import DatasetBlock, dataset_blocks, prefixed
from lakehouse.config.loader import client_files, load_client_datasets
from lakehouse.config.models import ClientConfig
from lakehouse.config.problems import Problem, read_yaml, validation_problems
from lakehouse.errors import ConfigError
from lakehouse.ops.schedules import Schedules
from lakehouse.privacy.profiles import ExportsConfig

__all__ = ["ConfigProblem", "check_client_files", "check_exports_file", "check_schedules_file"]


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


def _problems(path: Path, found: Sequence[Problem]) -> list[ConfigProblem]:
    return [ConfigProblem(str(path), p.key, p.message, p.expected, p.found) for p in found]


def _validate_all(model: type[BaseModel], path: Path) -> list[ConfigProblem]:
    """Every problem of one file: duplicate keys, then each field and cross-field rule."""
    try:
        data, duplicates = read_yaml(path)
    except ConfigError as exc:
        return [ConfigProblem(str(path), exc.key, exc.problem, exc.expected, exc.found)]
    problems = _problems(path, duplicates)
    blocks, found = (
        dataset_blocks(data)
        if model is ClientConfig
        else ([DatasetBlock(None, data, frozenset())], [])
    )
    problems += _problems(path, found)
    for block in blocks:
        try:
            model.model_validate(block.data)
        except ValidationError as exc:
            found = [prefixed(block, p) for p in validation_problems(model, block.data, exc)]
            problems += _problems(path, found)
    return problems


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
            # File-level rules: client_id equals the file name, references resolve.
            configs = load_client_datasets(path)
        except ConfigError as exc:
            problems.append(ConfigProblem(str(path), exc.key, exc.problem, exc.expected, exc.found))
            continue
        clients.update({config.feed: config for config in configs})
    return clients, problems


def check_schedules_file(path: Path, client_ids: Collection[str]) -> list[ConfigProblem]:
    """Every problem of ``conf/schedules.yaml``, including schedules for clients without a
    client file (``client_ids``: every client that has one, valid or not)."""
    problems = _validate_all(Schedules, path)
    if problems:
        return problems
    data, _ = read_yaml(path)
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


def check_exports_file(
    path: Path, clients: Mapping[str, ClientConfig], client_ids: Collection[str]
) -> list[ConfigProblem]:
    """Every problem of ``conf/exports.yaml`` (export profiles): the file's own rules, then
    each profile against the clients (``clients``: the valid ones; ``client_ids``: every
    client with a file, valid or not): a profile's clients must be configured and write its
    dataset."""
    problems = _validate_all(ExportsConfig, path)
    if problems:
        return problems
    # Keys of ``clients`` are feeds (acme, acme_readings); profiles name clients.
    client_ids = {c.client_id for c in clients.values()} | {
        i for i in client_ids if i not in clients
    }
    data, _ = read_yaml(path)
    exports = ExportsConfig.model_validate(data)
    for name, profile in exports.profiles.items():
        for i, client_id in enumerate(profile.clients):
            key = f"profiles.{name}.clients[{i}]"
            if client_id not in client_ids:
                problems.append(
                    ConfigProblem(
                        str(path),
                        key,
                        "profile for a client that is not configured",
                        expected=", ".join(sorted(client_ids)) or "a configured client",
                        found=repr(client_id),
                    )
                )
            elif client_id in clients and profile.dataset not in (
                written := sorted(c.dataset for c in clients.values() if c.client_id == client_id)
            ):
                problems.append(
                    ConfigProblem(
                        str(path),
                        f"profiles.{name}.dataset",
                        f"client '{client_id}' writes another dataset",
                        expected=" or ".join(map(repr, written)),
                        found=repr(profile.dataset),
                    )
                )
    return problems
