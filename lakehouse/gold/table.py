"""What a gold table module gives the shared refresh (``refresh.py``): its silver source, the
groups a range of silver's change feed touched, and how the recomputed groups are written.

The refresh owns the watermark, the full/incremental decision, the lock and the audit; a
table owns its key, its pure computation and its "which groups changed" rule.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import polars as pl

from lakehouse.engine.base import TableEngine

__all__ = ["GoldTable", "Scope", "Written"]


@dataclass(frozen=True, eq=False)
class Scope:
    """What one refresh recomputes: every group of ``clients``, and the single ``groups``
    (key columns of the table; None: none) of other clients."""

    clients: frozenset[str] = frozenset()
    groups: pl.DataFrame | None = None

    def with_clients(self, more: Collection[str]) -> Scope:
        """This scope with every group of ``more`` clients too."""
        return Scope(self.clients | frozenset(more), self.groups)

    @property
    def partial(self) -> pl.DataFrame | None:
        """The single groups outside the whole clients (None: none)."""
        if self.groups is None:
            return None
        rest = self.groups.filter(~pl.col("client_id").is_in(sorted(self.clients)))
        return None if rest.is_empty() else rest

    @property
    def touched(self) -> tuple[str, ...]:
        """Every client with a group in scope, sorted."""
        partial = self.partial
        some = set() if partial is None else set(partial.get_column("client_id").to_list())
        return tuple(sorted(self.clients | some))


@dataclass(frozen=True)
class Written:
    """What a table's write did: rows inserted or rewritten, and the commit (None: none)."""

    rows: int = 0
    version: int | None = None


class GoldTable(Protocol):
    """One gold table, bound to its spec (``lakehouse/gold/registry.py`` builds them)."""

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str:
        """The silver dataset the table is computed from."""
        ...

    def changed(self, engine: TableEngine, silver: Path, start: int, end: int) -> Scope:
        """The groups whose silver rows changed in versions ``start``..``end``.

        Raises:
            EngineError: that range of the change feed cannot be read (the refresh then
                recomputes every client).
        """
        ...

    def write(
        self,
        engine: TableEngine,
        silver: Path,
        gold: Path,
        scope: Scope,
        *,
        source_version: int,
        metadata: Mapping[str, str],
    ) -> Written:
        """Recompute ``scope`` from silver's current rows and replace it in gold in one
        commit carrying ``metadata`` (none when gold already holds the same rows)."""
        ...
