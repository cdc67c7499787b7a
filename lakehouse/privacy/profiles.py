"""``conf/exports.yaml``: export profiles, typed and frozen, validated once at load time.

A profile says who may receive what from one dataset and how it is protected:
``k_anonymity`` (generalise quasi-identifiers, suppress what still stands out) or
``dp_counts`` (differentially private counts, sums and means per declared group, charged to
the consumer's epsilon budget). Every model forbids unknown keys; an error names the file,
the key, what was expected and what was found (``ConfigError``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lakehouse.config.loader import _read_yaml, _validate
from lakehouse.config.models import KeyedValueError, KeyedValueErrors, OneOrMany
from lakehouse.errors import ConfigError

__all__ = [
    "DEFAULT_EXPORTS",
    "DpCountsProfile",
    "DpQuery",
    "ExportProfile",
    "ExportsConfig",
    "Hierarchy",
    "KAnonymityProfile",
    "LDiversity",
    "QuasiIdentifier",
    "level_rank",
    "load_exports",
]

DEFAULT_EXPORTS = Path("conf/exports.yaml")

Hierarchy = Literal["date", "zip", "category", "number"]
"""How a quasi-identifier generalises (``lakehouse.privacy.hierarchies``)."""

_BAND = re.compile(r"^([1-9][0-9]*)y$")
_WIDTH = re.compile(r"^[1-9][0-9]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_DEFAULT_LEVELS: Mapping[str, tuple[str, ...]] = {
    "date": ("month", "year", "5y", "10y"),
    "zip": ("zip3", "000"),
    "category": ("*",),
}
_ALLOWED = {
    "date": "'month', 'year', '<N>y' (an N-year band) or '*'",
    "zip": "'zip3', '000'",
    "category": "'group' (needs groups) or '*'",
    "number": "'<N>' (ranges N wide) or '*'",
}


def level_rank(hierarchy: str, level: str) -> float | None:
    """Coarseness of a level within its hierarchy (None: not a level of it)."""
    if level == "*" and hierarchy != "zip":
        return float("inf")
    if hierarchy == "date":
        if level in ("month", "year"):
            return 1.0 if level == "month" else 2.0
        band = _BAND.match(level)
        return 2.0 + int(band.group(1)) if band else None
    if hierarchy == "zip":
        return {"zip3": 1.0, "000": 2.0}.get(level)
    if hierarchy == "category":
        return 1.0 if level == "group" else None
    return float(level) if _WIDTH.match(level) else None


def _nests(hierarchy: str, levels: tuple[str, ...]) -> bool:
    """Bands and ranges must nest (each width a multiple of the one before), so every value
    of a level falls in exactly one value of the next."""
    widths = [
        int(m.group(1)) if (m := _BAND.match(level)) else int(level)
        for level in levels
        if _BAND.match(level) or (hierarchy == "number" and _WIDTH.match(level))
    ]
    return all(b % a == 0 for a, b in itertools.pairwise(widths))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuasiIdentifier(_Frozen):
    """One quasi-identifier: its hierarchy and the levels the search may use, finest first
    (level 0 is the value as stored)."""

    hierarchy: Hierarchy
    levels: OneOrMany | None = Field(
        None,
        description="Generalisation steps, finest first; default date: month, year, 5y, 10y; "
        "zip: zip3, 000; category: * (group, * with groups); number: required.",
    )
    groups: dict[str, str] | None = Field(
        None, description="category: value -> group, the 'group' level (others become '*')."
    )

    @model_validator(mode="after")
    def _levels_fit(self) -> QuasiIdentifier:
        levels = self.effective_levels
        allowed = _ALLOWED[self.hierarchy]
        if not levels:
            raise KeyedValueError(
                f"a {self.hierarchy} quasi-identifier needs levels",
                key=("levels",),
                expected=f"a list of {allowed}",
                found="none",
            )
        problems = [
            KeyedValueError(
                f"'{level}' is not a level of the {self.hierarchy} hierarchy",
                key=("levels", i),
                expected=allowed,
                found=repr(level),
            )
            for i, level in enumerate(levels)
            if level_rank(self.hierarchy, level) is None
        ]
        known = [
            r for r in (level_rank(self.hierarchy, level) for level in levels) if r is not None
        ]
        if known != sorted(set(known)) or not _nests(self.hierarchy, levels):
            problems.append(
                KeyedValueError(
                    "levels must go from finer to coarser, each band a multiple of the one before",
                    key=("levels",),
                    expected="e.g. [month, year, 5y, 10y]",
                    found=repr(list(levels)),
                )
            )
        if "group" in levels and not self.groups:
            problems.append(
                KeyedValueError(
                    "level 'group' needs a groups mapping",
                    key=("groups",),
                    expected="value: group",
                    found="none",
                )
            )
        if problems:
            raise KeyedValueErrors(problems)
        return self

    @property
    def effective_levels(self) -> tuple[str, ...]:
        if self.levels is not None:
            return self.levels
        if self.hierarchy == "category" and self.groups:
            return ("group", "*")
        return _DEFAULT_LEVELS.get(self.hierarchy, ())


class LDiversity(_Frozen):
    """Every released equivalence class holds at least ``l`` distinct ``column`` values."""

    column: str
    l: int = Field(ge=2, description="Distinct sensitive values per class.")  # noqa: E741


class _Profile(_Frozen):
    clients: OneOrMany = Field(min_length=1, description="Clients this profile serves.")
    dataset: str = Field(description="Silver table name (the clients' dataset).")
    consumer: str = Field(description="Who receives the export (declared under consumers).")
    purpose: str | None = Field(
        None,
        description="The consent purpose of the export: members without consent for it "
        "(clients' consent settings) are left out before anything is computed.",
    )
    description: str | None = None


class KAnonymityProfile(_Profile):
    method: Literal["k_anonymity"]
    columns: OneOrMany = Field(min_length=1, description="Output columns, in order.")
    quasi_identifiers: dict[str, QuasiIdentifier] = Field(min_length=1)
    k: int = Field(ge=2, le=1000)
    max_suppression: float = Field(
        0.05, ge=0, le=0.5, description="Largest share of rows that may be left out."
    )
    l_diversity: LDiversity | None = None

    @model_validator(mode="after")
    def _columns_known(self) -> KAnonymityProfile:
        problems = [
            KeyedValueError(
                f"quasi-identifier '{name}' is not an output column",
                key=("quasi_identifiers", name),
                expected=f"one of columns {list(self.columns)}",
                found=repr(name),
            )
            for name in self.quasi_identifiers
            if name not in self.columns
        ]
        sensitive = self.l_diversity.column if self.l_diversity else None
        if sensitive is not None and sensitive not in self.columns:
            problems.append(
                KeyedValueError(
                    f"l_diversity column '{sensitive}' is not an output column",
                    key=("l_diversity", "column"),
                    expected=f"one of columns {list(self.columns)}",
                    found=repr(sensitive),
                )
            )
        if sensitive is not None and sensitive in self.quasi_identifiers:
            problems.append(
                KeyedValueError(
                    "the sensitive column cannot also be a quasi-identifier",
                    key=("l_diversity", "column"),
                    expected="a column outside quasi_identifiers",
                    found=repr(sensitive),
                )
            )
        if problems:
            raise KeyedValueErrors(problems)
        return self


class DpQuery(_Frozen):
    """One statistic per group: ``count`` of rows, or ``sum``/``mean`` of a clamped column."""

    name: str = Field(description="Output column name.")
    stat: Literal["count", "sum", "mean"]
    epsilon: float = Field(gt=0, le=10)
    column: str | None = Field(None, description="sum/mean: the numeric column.")
    bounds: tuple[float, float] | None = Field(
        None, description="sum/mean: values are clamped into [low, high] before adding."
    )

    @model_validator(mode="after")
    def _column_and_bounds(self) -> DpQuery:
        if self.stat != "count" and (self.column is None or self.bounds is None):
            raise KeyedValueError(
                f"a {self.stat} needs a column and bounds",
                key=("bounds" if self.column else "column",),
                expected="column: NAME and bounds: [low, high]",
                found="none",
            )
        if self.bounds is not None and not self.bounds[0] < self.bounds[1]:
            raise KeyedValueError(
                "bounds must be [low, high] with low < high",
                key=("bounds",),
                expected="[low, high]",
                found=repr(list(self.bounds)),
            )
        return self


class DpCountsProfile(_Profile):
    method: Literal["dp_counts"]
    group_by: dict[str, OneOrMany] = Field(
        min_length=1,
        description="Column -> its public categories; released groups never depend on data.",
    )
    queries: tuple[DpQuery, ...] = Field(min_length=1)

    @property
    def epsilon(self) -> float:
        """What one export costs (sequential composition of its queries)."""
        return sum(q.epsilon for q in self.queries)


ExportProfile = Annotated[KAnonymityProfile | DpCountsProfile, Field(discriminator="method")]


class Consumer(_Frozen):
    epsilon_budget: float = Field(
        0, ge=0, description="Total epsilon per client and dataset over all dp_counts exports."
    )


class ExportsConfig(_Frozen):
    """``conf/exports.yaml``."""

    consumers: dict[str, Consumer] = Field(default_factory=dict)
    profiles: dict[str, ExportProfile] = Field(default_factory=dict)

    @field_validator("profiles", "consumers")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        problems = [
            KeyedValueError(
                "names are lower case letters, digits, '_' and '-'",
                key=(name,),
                expected="e.g. members_k5",
                found=repr(name),
            )
            for name in value
            if not _NAME.match(name)
        ]
        if problems:
            raise KeyedValueErrors(problems)
        return value

    @model_validator(mode="after")
    def _consumers_declared(self) -> ExportsConfig:
        problems = [
            KeyedValueError(
                f"consumer '{profile.consumer}' is not declared under consumers",
                key=("profiles", name, "consumer"),
                expected=f"one of {sorted(self.consumers)}",
                found=repr(profile.consumer),
            )
            for name, profile in self.profiles.items()
            if profile.consumer not in self.consumers
        ]
        if problems:
            raise KeyedValueErrors(problems)
        return self


def load_exports(path: Path = DEFAULT_EXPORTS) -> ExportsConfig:
    """Load and validate ``conf/exports.yaml``.

    Raises:
        ConfigError: missing, unreadable or invalid; names the file and the key.
    """
    if not path.is_file():
        raise ConfigError(
            "export profiles file not found",
            path=str(path),
            fix="create conf/exports.yaml (README, 'Privacy-safe exports') or pass --exports",
        )
    return _validate(ExportsConfig, _read_yaml(path), path)
