"""What a landing file's undeclared headers do to it, per the client's ``schema_evolution``.

``plan_file`` turns the headers ``check_header`` found (every configured header is present,
so the first line *is* the header line and the names are header names, not data) into a
``FilePlan``: headers that hold the file (``failOnNewColumns``), headers ignored (``none``),
headers added to bronze encrypted until approved (``addNewColumns``, read under a pending
canonical name), and headers whose values go to ``_rescued_data`` (``rescue``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lakehouse.config.models import ClientConfig, ColumnSpec

__all__ = [
    "DRIFT_REASON",
    "NEW_COLUMNS_REASON",
    "RESCUED_COLUMN",
    "FilePlan",
    "NewColumn",
    "pending_name",
    "plan_file",
]

RESCUED_COLUMN = "_rescued_data"
DRIFT_REASON = "schema_drift"  # HELD: a header the config does not declare (failOnNewColumns)
NEW_COLUMNS_REASON = "schema_added"  # SUCCESS: bronze gained pending column(s) in this run
# A pending column is PII until someone classifies it: encrypted in bronze and quarantine.
PENDING_POLICY = "encrypt"
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@dataclass(frozen=True)
class NewColumn:
    """A header of the file that the config does not declare, and its canonical name."""

    header: str
    name: str


@dataclass(frozen=True)
class FilePlan:
    """How one file is read given its undeclared headers."""

    client: ClientConfig  # the config the file is read with (declared + pending columns)
    held: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    added: tuple[NewColumn, ...] = ()
    rescued: tuple[NewColumn, ...] = ()  # read under ``name``, folded into _rescued_data
    rescue_types: bool = False  # declared values that do not parse go to _rescued_data too

    @property
    def rescues(self) -> bool:
        return bool(self.rescued) or self.rescue_types

    def extra_columns(self) -> list[tuple[str, str]]:
        """(header, column) pairs the reader selects beyond the file client's columns."""
        return [(c.header, c.name) for c in self.rescued]


def pending_name(header: str, taken: Iterable[str]) -> str:
    """A snake_case canonical name for an undeclared header, unique among ``taken``.

    ``CarePlan`` -> ``care_plan``, ``2nd Phone`` -> ``c_2nd_phone``; a clash gets ``_2``...
    """
    words = _NOT_IDENTIFIER.sub("_", _CAMEL.sub("_", header.strip()).lower()).strip("_")
    base = words or "column"
    if not base[0].isalpha():
        base = f"c_{base}"
    used = set(taken)
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    return name


def plan_file(client: ClientConfig, unknown: Sequence[str]) -> FilePlan:
    """The plan for a file whose header has the undeclared headers ``unknown``.

    ``unknown`` must come from ``check_header`` (it raises first when configured headers are
    missing: then the first line may be a data row, and no name may be used).
    """
    evolution = client.schema_evolution
    taken = [c.name for c in client.columns]
    held: list[str] = []
    ignored: list[str] = []
    added: list[NewColumn] = []
    rescued: list[NewColumn] = []
    for header in unknown:
        mode = evolution.mode_for(header)
        if mode == "failOnNewColumns":
            held.append(header)
        elif mode == "none":
            ignored.append(header)
        else:
            column = NewColumn(header, pending_name(header, taken))
            taken.append(column.name)
            (added if mode == "addNewColumns" else rescued).append(column)
    file_client = client
    if added:
        pending = tuple(
            ColumnSpec(name=c.name, source=c.header, type="string", pii=PENDING_POLICY)
            for c in added
        )
        file_client = client.model_copy(update={"columns": (*client.columns, *pending)})
    return FilePlan(
        client=file_client,
        held=tuple(held),
        ignored=tuple(ignored),
        added=tuple(added),
        rescued=tuple(rescued),
        rescue_types=evolution.mode == "rescue",
    )


def drift_reason(count: int) -> str:
    return f"{DRIFT_REASON}:new_columns={count}"


def added_reason(count: int) -> str:
    return f"{NEW_COLUMNS_REASON}:new_columns={count}"
