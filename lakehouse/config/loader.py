"""Load and validate configuration once; turn every problem into a ``ConfigError``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lakehouse.config.datasets import DatasetBlock, dataset_blocks, prefixed
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.config.problems import read_yaml, validation_problems
from lakehouse.errors import ConfigError
from lakehouse.evolution.overlay import is_overlay, merge_overlay, overlay_path

__all__ = [
    "ENV_OVERRIDES",
    "client_files",
    "load_client",
    "load_client_datasets",
    "load_clients",
    "load_settings",
]

# Environment variables that override conf/lakehouse.yaml (flags override both).
ENV_OVERRIDES: Mapping[str, str] = {
    "LAKEHOUSE_LAKE_ROOT": "lake_root",
    "LAKEHOUSE_LANDING_DIR": "landing_dir",
    "LAKEHOUSE_CHECKPOINT_DIR": "checkpoint_dir",
    "LAKEHOUSE_CLIENTS_DIR": "clients_dir",
    "LAKEHOUSE_ARCHIVE_DIR": "archive_dir",
    "LAKEHOUSE_ARCHIVE_MODE": "archive_mode",
    "LAKEHOUSE_ENGINE": "engine",
    "LAKEHOUSE_UMASK": "umask",
    "LAKEHOUSE_SCRATCH_DIR": "scratch_dir",
}

_Model = TypeVar("_Model", bound=BaseModel)


def _read_yaml(path: Path) -> dict[str, Any]:
    """The file's top-level mapping; a duplicate key is an error (PyYAML keeps the last)."""
    data, duplicates = read_yaml(path)
    if duplicates:
        first = duplicates[0]
        raise ConfigError(
            first.message,
            path=str(path),
            key=first.key,
            expected=first.expected,
            found=first.found,
            fix="keep one of them" + _more(len(duplicates)),
        )
    return data


def _more(count: int) -> str:
    if count <= 1:
        return ""
    return f"; `lakehouse validate-config` lists all {count} problems of this file"


def _validate(
    model: type[_Model],
    data: Mapping[str, Any],
    path: Path,
    origins: Mapping[Any, str] | None = None,
    *,
    block: DatasetBlock | None = None,
) -> _Model:
    """``model`` from ``data``, or a ``ConfigError`` naming the first problem (a misspelt
    key first) with its key, what was expected and what was found."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(model, data, exc)
        if block is not None:
            problems = [prefixed(block, p) for p in problems]
        first = problems[0]
        top = (first.key or "").split(".")[0].split("[")[0]
        origin = origins.get(top) if origins else None
        raise ConfigError(
            first.message + (f" (value from {origin})" if origin else ""),
            path=str(path),
            key=first.key,
            expected=first.expected,
            found=first.found,
            fix="see `lakehouse config-schema` for every key and its type" + _more(len(problems)),
        ) from exc


def load_settings(
    path: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build ``Settings`` from a YAML file, then env vars, then explicit overrides (flags)."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = _read_yaml(path) if path is not None else {}
    origins: dict[Any, str] = {}
    for variable, key in ENV_OVERRIDES.items():
        if env.get(variable):
            data[key] = env[variable]
            origins[key] = f"environment variable {variable}"
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
            origins[key] = "command-line override"
    return _validate(Settings, data, path or Path("<settings>"), origins)


def load_client(path: Path) -> ClientConfig:
    """The client's default dataset from ``clients/<client_id>.yaml`` (its only one in the
    members-only form); ``load_client_datasets`` gives every dataset."""
    configs = load_client_datasets(path)
    return next(c for c in configs if c.feed == c.client_id)


def load_client_datasets(path: Path) -> list[ClientConfig]:
    """Load one ``clients/<client_id>.yaml``: one config per dataset, the default first
    (``lakehouse.config.datasets``); the file stem must equal its ``client_id``.

    Columns approved with ``lakehouse schema approve`` (``<client_id>.approved.yaml`` next to
    it) are merged into the default dataset first: they are declared columns like any other.
    """
    blocks, problems = dataset_blocks(_read_yaml(path))
    if problems:
        first = problems[0]
        raise ConfigError(
            first.message,
            path=str(path),
            key=first.key,
            expected=first.expected,
            found=first.found,
            fix="see README, 'Datasets'" + _more(len(problems)),
        )
    overlay = overlay_path(path)
    configs = []
    for block in blocks:
        data, source = block.data, path
        default = block.name is None or block.name == data.get("default_dataset")
        if default and overlay.is_file():
            try:
                data = merge_overlay(data, _read_yaml(overlay))
            except ValueError as exc:
                raise ConfigError(
                    str(exc),
                    path=str(overlay),
                    fix="the file is written by `lakehouse schema approve`; restore it from git",
                ) from exc
            source = overlay
        config = _validate(ClientConfig, data, source, block=block)
        if config.client_id != path.stem:
            raise ConfigError(
                "client_id must match the file name",
                path=str(path),
                key="client_id",
                expected=repr(path.stem),
                found=repr(config.client_id),
                fix=f"rename the file to {config.client_id}.yaml or fix client_id",
            )
        configs.append(config)
    configs.sort(key=lambda c: c.feed != c.client_id)  # the default dataset first
    _check_references(configs, path)
    return configs


def _check_references(configs: list[ClientConfig], path: Path) -> None:
    """``references: <dataset>.<column>`` must name a token column of a sibling dataset."""
    by_name = {c.dataset: c for c in configs}
    for config in configs:
        for column in config.columns:
            target = column.referenced
            if target is None:
                continue
            dataset, name = target
            other = by_name.get(dataset)
            names = [c.name for c in other.columns] if other is not None else []
            problem = None
            if other is None or other is config:
                problem = f"references '{column.references}': no other dataset '{dataset}'"
            elif name not in names:
                problem = f"references '{column.references}': dataset {dataset} has no '{name}'"
            elif column.pii != other.column(name).pii:
                problem = (
                    f"references '{column.references}': pii must match the referenced "
                    f"column's ({other.column(name).pii}) for the tokens to join"
                )
            if problem is not None:
                raise ConfigError(
                    problem,
                    path=str(path),
                    key=f"datasets.{config.dataset}.columns[{column.name}].references",
                    fix="name a column of another dataset of this client, with the same pii",
                )


def client_files(directory: Path) -> list[Path]:
    """The client files of ``directory`` (``*.yaml``, approved-column overlays excluded)."""
    return [p for p in sorted(directory.glob("*.yaml")) if not is_overlay(p)]


def load_clients(directory: Path) -> dict[str, ClientConfig]:
    """Load every ``*.yaml`` client file in ``directory``: one config per dataset, keyed by
    its feed (``ClientConfig.feed``: the client id for a client's default dataset,
    ``<client_id>_<dataset>`` for its others)."""
    if not directory.is_dir():
        raise ConfigError(
            "clients directory not found",
            path=str(directory),
            fix="set clients_dir in conf/lakehouse.yaml or LAKEHOUSE_CLIENTS_DIR",
        )
    clients = {}
    for path in client_files(directory):
        for config in load_client_datasets(path):
            clients[config.feed] = config
    if not clients:
        raise ConfigError("no client files (*.yaml)", path=str(directory))
    return clients
