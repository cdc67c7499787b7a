"""Load and validate configuration once; turn every problem into a ``ConfigError``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from lakehouse.config.models import ClientConfig, KeyedValueError, Settings
from lakehouse.errors import ConfigError
from lakehouse.evolution.overlay import is_overlay, merge_overlay, overlay_path

__all__ = ["ENV_OVERRIDES", "client_files", "load_client", "load_clients", "load_settings"]

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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read file ({exc.strerror})", path=str(path), fix="check the path"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start})", path=str(path), fix="save the file as UTF-8"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=str(path)) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            "top level must be a mapping",
            path=str(path),
            expected="a mapping",
            found=type(data).__name__,
        )
    return data


def _validate(
    model: type[_Model],
    data: Mapping[str, Any],
    path: Path,
    origins: Mapping[Any, str] | None = None,
) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt required key is both 'missing' and 'extra': name the typo first.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(first["loc"])
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, KeyedValueError):
            loc += cause.key
        key = ".".join(str(part) for part in loc) or None
        found = first.get("input")
        found_text = None if isinstance(found, dict | list) else repr(found)
        if isinstance(cause, KeyedValueError):
            found_text = cause.found
        origin = origins.get(loc[0]) if origins and loc else None
        raise ConfigError(
            first["msg"] + (f" (value from {origin})" if origin else ""),
            path=str(path),
            key=key,
            expected=_expected(first),
            found=found_text,
            fix="see `lakehouse config-schema` for every key and its type",
        ) from exc


def _expected(error: Mapping[str, Any]) -> str | None:
    ctx = error.get("ctx") or {}
    if isinstance(ctx.get("error"), KeyedValueError):
        return str(ctx["error"].expected)
    if "expected" in ctx:
        return str(ctx["expected"])
    if error["type"] == "extra_forbidden":
        return "no such key (check the spelling)"
    if error["type"] == "missing":
        return "the key to be present"
    return None


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
    """Load one ``clients/<client_id>.yaml``; the file stem must equal its ``client_id``.

    Columns approved with ``lakehouse schema approve`` (``<client_id>.approved.yaml`` next to
    it) are merged in first: they are declared columns like any other.
    """
    data = _read_yaml(path)
    overlay = overlay_path(path)
    if overlay.is_file():
        try:
            data = merge_overlay(data, _read_yaml(overlay))
        except ValueError as exc:
            raise ConfigError(
                str(exc),
                path=str(overlay),
                fix="the file is written by `lakehouse schema approve`; restore it from git",
            ) from exc
        config = _validate(ClientConfig, data, overlay)
    else:
        config = _validate(ClientConfig, data, path)
    if config.client_id != path.stem:
        raise ConfigError(
            "client_id must match the file name",
            path=str(path),
            key="client_id",
            expected=repr(path.stem),
            found=repr(config.client_id),
            fix=f"rename the file to {config.client_id}.yaml or fix client_id",
        )
    return config


def client_files(directory: Path) -> list[Path]:
    """The client files of ``directory`` (``*.yaml``, approved-column overlays excluded)."""
    return [p for p in sorted(directory.glob("*.yaml")) if not is_overlay(p)]


def load_clients(directory: Path) -> dict[str, ClientConfig]:
    """Load every ``*.yaml`` client file in ``directory``, keyed by client id."""
    if not directory.is_dir():
        raise ConfigError(
            "clients directory not found",
            path=str(directory),
            fix="set clients_dir in conf/lakehouse.yaml or LAKEHOUSE_CLIENTS_DIR",
        )
    clients = {}
    for path in client_files(directory):
        config = load_client(path)
        clients[config.client_id] = config
    if not clients:
        raise ConfigError("no client files (*.yaml)", path=str(directory))
    return clients
