"""The forms of a client file, and how datasets become one config each.

Members-only form (as before)::

    client_id: acme
    dataset: members
    columns: [...]

The same, with more datasets beside it (the top-level dataset stays the default)::

    client_id: acme
    dataset: members
    columns: [...]
    datasets:
      readings: {file: {format: jsonl}, columns: [...], measurements: {...}}

Datasets only (the default is ``default_dataset``, or else the first one listed)::

    client_id: acme
    phone_region: US
    default_dataset: members
    datasets:
      members:  {columns: [...], merge_key: [...], ...}
      readings: {columns: [...], ...}

A dataset block takes every key of a client file but ``client_id`` and ``dataset`` (its
name is the key). It inherits only the client-level keys (``CLIENT_LEVEL``) of the top level,
never another dataset's columns or rules. Files of the default dataset keep the bare
``{client_id}_{date}[_N].{ext}`` name; the others are ``{client_id}_{dataset}_{date}[_N].{ext}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lakehouse.config.problems import Problem

if TYPE_CHECKING:
    from lakehouse.config.models import ClientConfig

__all__ = ["CLIENT_LEVEL", "DatasetBlock", "dataset_blocks", "feed_of", "feeds_of", "prefixed"]

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
# What a dataset block inherits from the top level of its client file.
CLIENT_LEVEL = ("client_id", "phone_region", "token_domain")


@dataclass(frozen=True)
class DatasetBlock:
    """One dataset's config mapping (client-level keys merged in) and where its keys live in
    the file (``datasets.readings.`` for a block's own keys, '' for inherited ones)."""

    name: str | None  # None: the members-only form
    data: dict[str, Any]
    own_keys: frozenset[str]

    def key_in_file(self, key: str | None) -> str | None:
        """A problem key of ``data`` as it is spelt in the file."""
        if key is None or self.name is None:
            return key
        top = key.split(".")[0].split("[")[0]
        return f"datasets.{self.name}.{key}" if top in self.own_keys else key


def dataset_blocks(data: Mapping[str, Any]) -> tuple[list[DatasetBlock], list[Problem]]:
    """The dataset mappings of one client file, the default first, and the problems of its
    ``datasets:`` section."""
    if "datasets" not in data:
        return [DatasetBlock(None, dict(data), frozenset())], []
    problems: list[Problem] = []
    raw = data["datasets"]
    if not isinstance(raw, Mapping) or not raw:
        problems.append(
            Problem(
                "datasets",
                "datasets must map dataset names to their config",
                expected="a mapping such as {readings: {...}}",
                found=type(raw).__name__ if raw else "nothing",
            )
        )
        return [], problems
    shared = {k: data[k] for k in CLIENT_LEVEL if k in data}
    blocks: list[DatasetBlock] = []
    top = data.get("dataset")
    if top is not None:  # the top level is the default dataset
        if "default_dataset" in data:
            problems.append(
                Problem(
                    "default_dataset",
                    "the top-level dataset is the default one",
                    expected="no default_dataset beside a top-level 'dataset'",
                    found=repr(data["default_dataset"]),
                )
            )
        default = top
        own = {k: v for k, v in data.items() if k != "datasets"}
        blocks.append(DatasetBlock(None, {**own, "default_dataset": top}, frozenset()))
    else:
        default = data.get("default_dataset", next(iter(raw)))
        stray = sorted(set(data) - {*CLIENT_LEVEL, "datasets", "default_dataset"})
        for key in stray:
            problems.append(
                Problem(
                    key,
                    f"'{key}' belongs to a dataset: without a top-level 'dataset', set it in "
                    "each dataset's block",
                    expected=f"only {', '.join(CLIENT_LEVEL)} beside datasets",
                    found=key,
                )
            )
        if default not in raw:
            problems.append(
                Problem(
                    "default_dataset",
                    "default_dataset must be one of the datasets",
                    expected=f"one of {', '.join(map(str, raw))}",
                    found=repr(default),
                )
            )
    for name, block in raw.items():
        key = f"datasets.{name}"
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            problems.append(Problem(key, "a dataset name must be snake_case", found=repr(name)))
            continue
        if name == top:
            problems.append(
                Problem(key, f"dataset '{name}' is the top-level one already", found=name)
            )
            continue
        if not isinstance(block, Mapping):
            problems.append(
                Problem(key, "a dataset's config must be a mapping", found=type(block).__name__)
            )
            continue
        misplaced = [
            k for k in ("client_id", "dataset", "datasets", "default_dataset") if k in block
        ]
        for k in misplaced:
            problems.append(
                Problem(
                    f"{key}.{k}",
                    f"'{k}' is not set per dataset",
                    expected="the dataset's name as its key" if k == "dataset" else "top level",
                    found=repr(block[k]),
                )
            )
        if not misplaced:
            merged = {**shared, **block, "dataset": name, "default_dataset": default}
            blocks.append(DatasetBlock(name, merged, frozenset(block)))
    blocks.sort(key=lambda b: b.data.get("dataset") != default)
    return blocks, problems


def prefixed(block: DatasetBlock, problem: Problem) -> Problem:
    """``problem`` of ``block.data`` with its key as spelt in the file."""
    return Problem(block.key_in_file(problem.key), problem.message, problem.expected, problem.found)


def feed_of(client_id: str, dataset: str | None, clients: Mapping[str, ClientConfig]) -> str:
    """The feed key of ``client_id``'s ``dataset`` (``ClientConfig.feed``); ``dataset`` None
    (audit rows written before datasets were recorded) is the client's default dataset.
    ``clients`` maps feeds to configs, so ``clients[client_id]`` is the default dataset."""
    default = clients.get(client_id)
    if dataset is None or default is None or default.dataset == dataset:
        return client_id
    return f"{client_id}_{dataset}"


def feeds_of(client_ids: Iterable[str], clients: Mapping[str, ClientConfig]) -> list[str]:
    """Every feed of ``client_ids`` (a client's default dataset first), in client order."""
    wanted = list(dict.fromkeys(client_ids))
    return [
        feed
        for client_id in wanted
        for feed, config in sorted(clients.items(), key=lambda item: item[0] != client_id)
        if config.client_id == client_id
    ]
