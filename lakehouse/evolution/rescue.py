"""``rescue`` mode: undeclared columns and values that do not fit their declared type go to one
``_rescued_data`` JSON column (``{"<header>": "<raw value>"}``); bronze and quarantine encrypt it
like every raw PII value (``protect_raw``), silver never sees it."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.config.models import ClientConfig
from lakehouse.evolution.plan import RESCUED_COLUMN, FilePlan
from lakehouse.transform.standardise import standardise_column

__all__ = ["RESCUABLE_TYPES", "rescue_frame"]

# Types whose standardiser can fail to parse a present value (invalid_<type> otherwise).
RESCUABLE_TYPES = frozenset({"integer", "number", "date", "timestamp", "phone", "email", "zip"})


def _misfit(raw: Column, standardised: Column) -> Column:
    return raw.isNotNull() & (F.trim(raw) != F.lit("")) & standardised.isNull()


def rescue_frame(frame: DataFrame, plan: FilePlan, *, corrupt_column: str) -> DataFrame:
    """Raw rows -> raw rows with ``_rescued_data`` (NULL when nothing was rescued).

    Rescued declared values are set to NULL in their column. Required and merge-key columns
    are never rescued: a row without them cannot be valid, so their bad values stay
    ``invalid_<type>`` reasons in quarantine. A malformed record (``corrupt_column`` set) keeps
    its fields as they are: its encrypted raw text already holds everything.
    """
    client: ClientConfig = plan.client
    intact = F.col(corrupt_column).isNull()
    entries: list[tuple[str, Column]] = [(c.header, F.col(c.name)) for c in plan.rescued]
    replaced: dict[str, Column] = {}
    if plan.rescue_types:
        for spec in client.columns:
            if spec.type not in RESCUABLE_TYPES or spec.required or spec.name in client.merge_key:
                continue
            raw = F.col(spec.name)
            misfit = intact & _misfit(raw, standardise_column(raw, spec, client.phone_region))
            entries.append((spec.header, F.when(misfit, raw)))
            replaced[spec.name] = F.when(~misfit, raw)
    if not entries:
        return frame
    pairs = F.create_map(*[part for header, value in entries for part in (F.lit(header), value)])
    kept = F.map_filter(pairs, lambda _k, v: v.isNotNull())
    rescued = F.when(intact & (F.size(kept) > 0), F.to_json(kept))
    dropped = [c.name for c in plan.rescued]
    return frame.withColumns({**replaced, RESCUED_COLUMN: rescued}).drop(*dropped)
