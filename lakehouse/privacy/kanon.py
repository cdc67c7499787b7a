"""k-anonymity by full-domain generalisation and suppression, with optional l-diversity.

The search (DesignDoc.md, "Privacy-safe exports"): each quasi-identifier is generalised to
one level for all rows (full-domain generalisation, so every released value of a column is
at the same level and means the same thing). A node of the lattice is one level per column;
its cost is the sum over columns of ``level / top level`` (columns with short and long
hierarchies weigh alike). Nodes are evaluated cheapest first (ties: fewer suppressed rows,
then the lexicographically smaller node); the first whose small classes (fewer than ``k``
rows, or fewer than ``l`` distinct sensitive values) hold at most ``max_suppression`` of the
rows wins, and those classes are suppressed. Generalising never splits a class, so the
number of suppressed rows only falls as levels rise: if the top node does not fit, none
does, and the export is refused naming the column whose full generalisation would have
helped most.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from fractions import Fraction
from typing import cast

import polars as pl

from lakehouse.errors import PrivacyError, PrivacyRefused
from lakehouse.privacy.hierarchies import ladder
from lakehouse.privacy.profiles import KAnonymityProfile

__all__ = ["MAX_LATTICE_NODES", "KAnonymityResult", "anonymise"]

log = logging.getLogger(__name__)

# Nodes the exhaustive search may visit; beyond, fewer levels must be configured.
MAX_LATTICE_NODES = 20_000
_KEEP = "__keep"


@dataclass(frozen=True)
class KAnonymityResult:
    """The released frame and what the report states about it (no values)."""

    frame: pl.DataFrame
    levels: dict[str, str]  # column -> level name ("as stored" for level 0)
    k_achieved: int
    l_achieved: int | None
    rows_in: int
    rows_suppressed: int
    classes: int
    nodes_evaluated: int
    node: tuple[int, ...] = field(default=())

    @property
    def rows_out(self) -> int:
        return self.frame.height


def _codes(levels: list[pl.Series]) -> list[pl.Series]:
    """Each level's values as small integer codes (grouping on integers is cheaper)."""
    return [s.rank("dense").fill_null(0).cast(pl.UInt32) for s in levels]


def _small_rows(
    at_node: list[pl.Series], sensitive: pl.Series | None, k: int, diversity: int
) -> tuple[int, pl.Series]:
    """Rows in classes too small (or not diverse enough), and the mask of rows to keep."""
    frame = pl.DataFrame({f"q{i}": codes for i, codes in enumerate(at_node)})
    keys = list(frame.columns)
    ok = pl.col(keys[0]).count().over(keys) >= k
    if sensitive is not None:
        frame = frame.with_columns(sensitive.alias("__s"))
        ok = ok & (pl.col("__s").n_unique().over(keys) >= diversity)
    keep = frame.select(ok.alias(_KEEP)).to_series()
    return int((~keep).sum()), keep


def _at(codes: list[list[pl.Series]], node: tuple[int, ...]) -> list[pl.Series]:
    return [codes[i][level] for i, level in enumerate(node)]


def _refuse(
    profile: KAnonymityProfile,
    name: str,
    codes: list[list[pl.Series]],
    sensitive: pl.Series | None,
    rows: int,
    suppressed: int,
    columns: list[str],
) -> PrivacyRefused:
    """The column whose full generalisation would have helped most at the top node."""
    diversity = profile.l_diversity.l if profile.l_diversity else 1
    top = _at(codes, tuple(len(c) - 1 for c in codes))
    everything = pl.Series([0] * rows, dtype=pl.UInt32)  # one column fully generalised
    gains: dict[str, int] = {}
    for i, column in enumerate(columns):
        without, _ = _small_rows(
            [*top[:i], everything, *top[i + 1 :]], sensitive, profile.k, diversity
        )
        gains[column] = suppressed - without
    blocker = max(columns, key=lambda c: (gains[c], -columns.index(c)))
    share = suppressed / rows if rows else 0.0
    return PrivacyRefused(
        f"k={profile.k}"
        + (f", l={diversity}" if profile.l_diversity else "")
        + f" cannot be reached within max_suppression {profile.max_suppression:.1%}: at the "
        f"coarsest configured levels {suppressed} of {rows} rows ({share:.1%}) would be "
        f"suppressed; '{blocker}' (at its top level) blocks it most",
        profile=name,
        column=blocker,
        fix=f"add a coarser level to quasi_identifiers.{blocker}.levels (e.g. '*'), leave "
        f"'{blocker}' out of the export, raise max_suppression or lower k",
    )


def anonymise(frame: pl.DataFrame, profile: KAnonymityProfile, *, name: str) -> KAnonymityResult:
    """``frame``'s output columns, quasi-identifiers generalised and small classes removed.

    Raises:
        PrivacyError: a configured column is missing or the lattice is too large.
        PrivacyRefused: no node fits within ``max_suppression`` (names the blocking column).
    """
    missing = [c for c in profile.columns if c not in frame.columns]
    if missing:
        raise PrivacyError(
            "column not in the table",
            profile=name,
            column=missing[0],
            fix=f"choose output columns from {sorted(frame.columns)}",
        )
    columns = list(profile.quasi_identifiers)
    specs = [profile.quasi_identifiers[c] for c in columns]
    levels = [ladder(frame[c], spec) for c, spec in zip(columns, specs, strict=True)]
    heights = [len(spec.effective_levels) for spec in specs]
    size = 1
    for height in heights:
        size *= height + 1
    if size > MAX_LATTICE_NODES:
        raise PrivacyError(
            f"{size} level combinations exceed the search limit {MAX_LATTICE_NODES}",
            profile=name,
            fix="configure fewer levels or quasi-identifiers",
        )
    codes = [_codes(ls) for ls in levels]
    sensitive = frame[profile.l_diversity.column] if profile.l_diversity else None
    diversity = profile.l_diversity.l if profile.l_diversity else 1
    rows = frame.height
    allowed = int(profile.max_suppression * rows)
    nodes = sorted(
        itertools.product(*(range(h + 1) for h in heights)),
        key=lambda n: (_cost(n, heights), n),
    )
    best: tuple[tuple[int, ...], int, pl.Series] | None = None
    evaluated = 0
    for node in nodes:
        if best is not None and _cost(node, heights) > _cost(best[0], heights):
            break
        evaluated += 1
        suppressed, keep = _small_rows(_at(codes, node), sensitive, profile.k, diversity)
        if suppressed <= allowed and (best is None or suppressed < best[1]):
            best = (node, suppressed, keep)
    if best is None:
        top_suppressed, _ = _small_rows(_at(codes, nodes[-1]), sensitive, profile.k, diversity)
        raise _refuse(profile, name, codes, sensitive, rows, top_suppressed, columns)
    node, suppressed, keep = best
    generalised = frame.with_columns(
        [levels[i][level].alias(c) for i, (c, level) in enumerate(zip(columns, node, strict=True))]
    )
    released = generalised.filter(keep).select(profile.columns)
    stats = released.group_by(columns).agg(
        pl.len().alias("n"),
        *(
            [pl.col(profile.l_diversity.column).n_unique().alias("d")]
            if profile.l_diversity
            else []
        ),
    )
    log.info(
        "k-anonymity node chosen",
        extra={"profile": name, "node": list(node), "evaluated": evaluated, "rows": rows},
    )
    return KAnonymityResult(
        frame=released,
        levels={
            c: ("as stored" if lv == 0 else specs[i].effective_levels[lv - 1])
            for i, (c, lv) in enumerate(zip(columns, node, strict=True))
        },
        k_achieved=_min(stats["n"]),
        l_achieved=_min(stats["d"]) if profile.l_diversity else None,
        rows_in=rows,
        rows_suppressed=suppressed,
        classes=stats.height,
        nodes_evaluated=evaluated,
        node=node,
    )


def _cost(node: tuple[int, ...], heights: list[int]) -> Fraction:
    """Total generalisation, exact (float sums of equal costs could differ in the last bit)."""
    return sum((Fraction(lv, h) for lv, h in zip(node, heights, strict=True)), Fraction(0))


def _min(series: pl.Series) -> int:
    value = series.min()
    return int(cast(int, value)) if value is not None else 0
