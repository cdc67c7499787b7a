"""Checks of a measurement dataset (``measurements:``), as pure Spark DataFrame functions.

They run on standardised rows that already carry ``_reasons`` (``lakehouse.validation``),
in this order: ``normalise_units`` (values into each type's canonical unit), then
``measurement_reasons`` (units, ranges, secondary value, future times: reason codes, and
``typical_flag``), ``member_checks`` (known member, reading before birth) and, on the rows
about to be merged, ``flag_outliers`` (robust score against the member's own history).
Every rule is built from the config as Spark expressions: no Python UDF runs.

Codes (``<column>:<code>``, columns as named by ``MeasurementSettings``):
- ``unit:unknown_unit``: the unit is not the type's canonical unit nor one of its ``convert``
  units (compared trimmed and case-insensitively), or it is missing;
- ``value:out_of_range``, ``<secondary>:out_of_range``: outside the type's ``valid`` range,
  in the canonical unit (only checked when the unit is known);
- ``<secondary>:not_null``: the type has a secondary value (diastolic) and the row has none;
  ``<secondary>:unexpected``: the type has none and the row has one;
  ``<secondary>:not_below_value``: ``below_value`` and secondary >= value;
- ``<time>:future_timestamp``: measured after ``now`` plus ``future_skew_minutes``;
- ``<time>:before_birth``: measured before the member's birth (``member_checks``).
A row of an unknown reading type (``reading_type:isin`` from the column checks) gets no unit,
range or secondary codes; a NULL value (``not_null`` / ``invalid_number`` already) no range
codes; a ``_record:malformed`` row nothing at all.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.config.measurements import MeasurementSettings, MeasurementType, Range
from lakehouse.transform.text import strip
from lakehouse.validation.checks import REASONS
from lakehouse.validation.reasons import RECORD, Code, reason

__all__ = [
    "BIRTH",
    "IS_OUTLIER",
    "MEMBER_KNOWN",
    "OUTLIER_METHOD",
    "OUTLIER_SCORE",
    "TYPICAL_FLAG",
    "flag_outliers",
    "measurement_reasons",
    "member_checks",
    "normalise_units",
]

TYPICAL_FLAG = "typical_flag"
MEMBER_KNOWN = "member_known"
BIRTH = "birth"  # the members frame's birth column (any generalised form, as a string)
IS_OUTLIER = "is_outlier"
OUTLIER_SCORE = "outlier_score"
OUTLIER_METHOD = "outlier_method"

_MALFORMED = reason(RECORD, Code.MALFORMED)
# Iglewicz and Hoaglin: 0.6745 = 1 / 1.4826 makes the MAD estimate a normal sigma; with MAD 0,
# the mean absolute deviation times 1.253314 (sqrt(pi / 2)) estimates it instead.
_MAD_SCALE = 0.6745
_MEAN_AD_SCALE = 1.253314
_MICROS_PER_DAY = 86_400 * 1_000_000


def _unit_key(column: Column) -> Column:
    """How units are compared: trimmed, lower-cased by Spark (both sides, so non-ASCII
    spellings such as a micro sign compare alike)."""
    return F.lower(strip(column))


def _is_unit(unit: Column, spelling: str) -> Column:
    return _unit_key(unit) == F.lower(F.lit(spelling))


def _accepted(unit: Column, kind: MeasurementType) -> Column:
    return _unit_key(unit).isin([F.lower(F.lit(u)) for u in (kind.unit, *kind.convert)])


def _outside(value: Column, valid: Range) -> Column:
    return (value < F.lit(valid.low)) | (value > F.lit(valid.high))


def _by_type(
    spec: MeasurementSettings, rule: dict[str, Column], otherwise: Column | None = None
) -> Column:
    """CASE reading_type WHEN <type> THEN rule[type] ... ELSE ``otherwise`` (NULL) END."""
    kind = F.col(spec.type_column)
    cases: Column | None = None
    for name, expression in rule.items():
        test = kind == F.lit(name)
        cases = F.when(test, expression) if cases is None else cases.when(test, expression)
    if cases is None:
        return F.lit(None) if otherwise is None else otherwise
    return cases if otherwise is None else cases.otherwise(otherwise)


def normalise_units(df: DataFrame, spec: MeasurementSettings) -> DataFrame:
    """Values in their type's canonical unit: ``canonical = value * factor + offset``.

    A row whose unit (trimmed, case-insensitive) is its type's canonical unit or one of its
    ``convert`` units gets the value (and, for a type with ``secondary``, the secondary value)
    converted and the unit spelled as the canonical unit; any other row (unknown type or unit,
    NULL unit) is unchanged, for ``measurement_reasons`` to flag. One projection.
    """
    unit, value = F.col(spec.unit_column), F.col(spec.value_column)
    secondary = F.col(spec.secondary_column) if spec.secondary_column is not None else None
    kind = F.col(spec.type_column)

    def converted(column: Column, with_secondary: bool) -> Column:
        result: Column | None = None
        for name, spec_type in spec.types.items():
            if with_secondary and spec_type.secondary is None:
                continue
            for spelling, conversion in spec_type.convert.items():
                test = (kind == F.lit(name)) & _is_unit(unit, spelling)
                to = column * F.lit(conversion.factor) + F.lit(conversion.offset)
                result = F.when(test, to) if result is None else result.when(test, to)
        return column if result is None else result.otherwise(column)

    canonical = _by_type(
        spec,
        {n: F.when(_accepted(unit, t), F.lit(t.unit)) for n, t in spec.types.items()},
    )
    columns = {
        spec.unit_column: F.coalesce(canonical, unit),
        spec.value_column: converted(value, with_secondary=False),
    }
    if spec.secondary_column is not None and secondary is not None:
        columns[spec.secondary_column] = converted(secondary, with_secondary=True)
    return df.withColumns(columns)


def _code(test: Column, column: str, code: Code) -> Column:
    return F.when(test, F.lit(reason(column, code)))


def _append(reasons: list[Column]) -> Column:
    """``_reasons`` plus the codes whose test held (kept as they are on malformed rows)."""
    found = F.filter(F.array(*reasons), lambda code: code.isNotNull())
    existing = F.col(REASONS)
    return F.when(F.array_contains(existing, _MALFORMED), existing).otherwise(
        F.array_union(existing, found)
    )


def measurement_reasons(df: DataFrame, spec: MeasurementSettings, *, now: dt.datetime) -> DataFrame:
    """Append the measurement codes to ``_reasons`` (module docstring) and add
    ``typical_flag``: ``low`` / ``high`` outside the type's ``typical`` range, else NULL (also
    for unknown types or units and types without a typical range).

    Run it after ``normalise_units``: ranges are in the canonical unit. ``now`` must be
    time-zone aware (the instant future readings are measured against).

    Raises:
        ValueError: ``now`` is naive.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be time-zone aware (e.g. datetime.now(datetime.UTC))")
    unit, value = F.col(spec.unit_column), F.col(spec.value_column)
    time = F.col(spec.time_column)
    existing = F.col(REASONS)
    unit_known = _by_type(spec, {n: _accepted(unit, t) for n, t in spec.types.items()})
    known_type = F.col(spec.type_column).isin(list(spec.types))
    # A NULL unit already failing not_null (a required column) is not flagged twice.
    unit_flagged = F.array_contains(existing, reason(spec.unit_column, Code.NOT_NULL))
    unknown_unit = known_type & (
        (unit.isNull() & ~unit_flagged) | (unit.isNotNull() & ~F.coalesce(unit_known, F.lit(False)))
    )
    checked = known_type & F.coalesce(unit_known, F.lit(False)) & value.isNotNull()
    value_range = _by_type(spec, {n: _outside(value, t.valid) for n, t in spec.types.items()})
    limit = F.lit(now.astimezone(dt.UTC) + dt.timedelta(minutes=spec.future_skew_minutes))
    codes = [
        _code(unknown_unit, spec.unit_column, Code.UNKNOWN_UNIT),
        _code(checked & value_range, spec.value_column, Code.OUT_OF_RANGE),
        _code(time.isNotNull() & (time > limit), spec.time_column, Code.FUTURE_TIMESTAMP),
    ]
    if spec.secondary_column is not None:
        codes += _secondary_codes(spec, spec.secondary_column, known_type, checked)
    typical = _by_type(
        spec,
        {
            n: F.when(value < F.lit(t.typical.low), F.lit("low")).when(
                value > F.lit(t.typical.high), F.lit("high")
            )
            for n, t in spec.types.items()
            if t.typical is not None
        },
    )
    malformed = F.array_contains(existing, _MALFORMED)
    flag = F.when(~malformed & checked, typical).cast("string")
    return df.withColumns({REASONS: _append(codes), TYPICAL_FLAG: flag})


def _secondary_codes(
    spec: MeasurementSettings, name: str, known_type: Column, checked: Column
) -> list[Column]:
    """The secondary value's codes: missing, unexpected, out of range, not below the value."""
    secondary, value = F.col(name), F.col(spec.value_column)
    existing = F.col(REASONS)
    # A present but unparsable raw value is invalid_number already: not also "missing".
    unparsed = F.array_contains(existing, reason(name, Code.INVALID_NUMBER))
    has = {n: t.secondary is not None for n, t in spec.types.items()}
    needs = known_type & _by_type(spec, {n: F.lit(h) for n, h in has.items()})
    outside = _by_type(
        spec,
        {
            n: _outside(secondary, t.secondary.valid)
            for n, t in spec.types.items()
            if t.secondary is not None
        },
    )
    below = [
        n for n, t in spec.types.items() if t.secondary is not None and t.secondary.below_value
    ]
    must_be_below = F.col(spec.type_column).isin(below) if below else F.lit(False)
    present = secondary.isNotNull()
    return [
        _code(needs & ~present & ~unparsed, name, Code.NOT_NULL),
        _code(known_type & ~needs & present, name, Code.UNEXPECTED),
        _code(
            needs & checked & present & F.coalesce(outside, F.lit(False)), name, Code.OUT_OF_RANGE
        ),
        _code(
            needs & must_be_below & present & value.isNotNull() & (secondary >= value),
            name,
            Code.NOT_BELOW_VALUE,
        ),
    ]


def _birth_micros(birth: Column) -> Column:
    """The first instant of a birth (UTC midnight), in epoch microseconds: Jan 1 of a year
    ("1980"), the day of an ISO date ("1980-05-05"); NULL for anything else (age bands,
    "90+", blanks). Epoch arithmetic: no session or JVM zone is involved."""
    text = strip(birth)
    iso = "yyyy-MM-dd"
    day = F.when(
        text.rlike(r"^[0-9]{4}$"), F.try_to_date(F.concat(text, F.lit("-01-01")), iso)
    ).when(text.rlike(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), F.try_to_date(text, iso))
    return F.unix_date(day).cast("long") * F.lit(_MICROS_PER_DAY)


def member_checks(
    df: DataFrame, members: DataFrame | None, spec: MeasurementSettings, *, key: str
) -> DataFrame:
    """Add ``member_known`` and append ``<time>:before_birth``.

    ``members``: ``client_id``, ``key`` and ``birth`` (a string: a year, an ISO date, or
    anything else: unknown) of the members dataset, with ``key`` in the same representation
    as ``df``'s (e.g. both tokens). ``member_known``: a members row has the reading's
    ``(client_id, key)``. ``before_birth``: measured before Jan 1 of the birth year (a year) or
    before the birth date (a date), both at 00:00 UTC; an unknown birth, or
    ``spec.birth_column`` None, is not checked. A member with several rows counts once, with
    the earliest of their births (fewer readings quarantined on conflicting records).
    ``members=None`` (no members table yet): every row ``member_known = false``, no birth
    check. The row count never changes; malformed rows get no code.

    Cost: ``df``'s distinct keys (one member per reading or fewer, usually small) are
    broadcast to cut ``members`` down to the members in ``df``; those are deduplicated and
    broadcast back for a left join, so ``df`` is read twice (persist it) and never shuffled.
    """
    if members is None:
        return df.withColumn(MEMBER_KNOWN, F.lit(False))
    keys = ["client_id", key]
    check_birth = spec.birth_column is not None
    wanted = df.select(*keys).where(F.col(key).isNotNull()).distinct()
    relevant = members.join(F.broadcast(wanted), on=keys, how="left_semi")
    bound = "__birth_micros"
    found = "__member_found"
    side = relevant.groupBy(*keys).agg(
        F.min(_birth_micros(F.col(BIRTH)) if check_birth else F.lit(None).cast("long")).alias(
            bound
        ),
        F.lit(True).alias(found),
    )
    joined = df.join(F.broadcast(side), on=keys, how="left")
    time = F.col(spec.time_column)
    before = time.isNotNull() & F.col(bound).isNotNull() & (F.unix_micros(time) < F.col(bound))
    replaced = {
        REASONS: _append([_code(before, spec.time_column, Code.BEFORE_BIRTH)]),
        MEMBER_KNOWN: F.coalesce(F.col(found), F.lit(False)),
    }
    return joined.select(
        *[replaced[c].alias(c) if c in replaced else F.col(c) for c in df.columns],
        replaced[MEMBER_KNOWN].alias(MEMBER_KNOWN),
    )


def _median(values: Column, n: Column) -> Column:
    """Median of a sorted array of ``n`` elements; NULL when empty (CASE evaluates only the
    branch taken, so no index 0 is ever read)."""
    middle = F.element_at(values, ((n + 1) / 2).cast("int"))
    low = F.element_at(values, (n / 2).cast("int"))
    high = F.element_at(values, (n / 2 + 1).cast("int"))
    return F.when(n == 0, F.lit(None)).when(n % 2 == 1, middle).otherwise((low + high) / 2)


def flag_outliers(
    new: DataFrame, history: DataFrame | None, spec: MeasurementSettings
) -> DataFrame:
    """Add ``is_outlier``, ``outlier_score`` and ``outlier_method`` to the rows of ``new``.

    A reading is scored against the last ``outliers.window`` readings of the same
    ``(client_id, member, reading type)`` strictly before its time, taken from ``history``
    (the stored table) and ``new`` together; a stored row with the same key (client, member,
    type, time) as a new row is the same reading re-sent, so only the new one counts. With
    fewer than ``min_history`` such readings: not an outlier, score NULL. Otherwise, with
    ``m`` the median of those readings:

    - score = 0.6745 (x - m) / MAD, MAD the median of |v - m| (Iglewicz and Hoaglin);
    - MAD 0 (over half the readings equal): score = (x - m) / (1.253314 * mean |v - m|);
    - both 0 (every reading equal): score 0 if x = m, else NULL (no spread to measure
      against) and not an outlier.

    ``is_outlier``: |score| > ``threshold``. Blood pressure is scored on ``value`` (systolic).
    ``outlier_method`` is ``outliers.label`` (``mad>3.5/30``).

    Cost: ``history`` is semi-joined to the (client, member, type) keys of ``new`` (broadcast)
    so other members' rows are dropped before any shuffle; the rest is one window partitioned
    by (client, member, type) and ordered by time, whose frame is bounded by ``window`` rows,
    and array functions over that frame (no Python UDF). Each key's stored readings are sorted
    once, so the cost grows with the history of the members in ``new``, not the table.
    """
    outliers = spec.outliers
    group = ["client_id", spec.member_column, spec.type_column]
    reading = [*group, spec.time_column]
    marker = "__new"
    rows = new.withColumn(marker, F.lit(True))
    if history is not None:
        keys = F.broadcast(new.select(*group).distinct())
        stored = (
            history.select(*reading, spec.value_column)
            .join(keys, on=group, how="left_semi")
            .join(new.select(*reading), on=reading, how="left_anti")
            .withColumn(marker, F.lit(False))
        )
        rows = rows.unionByName(stored, allowMissingColumns=True)
    window = (
        Window.partitionBy(*group)
        .orderBy(F.col(spec.time_column), F.col(marker))
        .rowsBetween(-outliers.window, -1)
    )
    before = "__before"
    x = F.col(spec.value_column)
    scored = rows.withColumn(
        before, F.array_sort(F.collect_list(spec.value_column).over(window))
    ).where(F.col(marker))
    values = F.col(before)
    n = F.size(values)
    median = _median(values, n)
    staged = scored.withColumn("__median", median)
    m = F.col("__median")
    deviations = F.array_sort(F.transform(values, lambda v: F.abs(v - m)))
    staged = staged.withColumns(
        {
            "__mad": _median(deviations, n),
            # Guarded: ANSI division by zero raises.
            "__mean_ad": F.when(
                n > 0, F.aggregate(deviations, F.lit(0.0), lambda acc, d: acc + d) / n
            ),
        }
    )
    mad, mean_ad = F.col("__mad"), F.col("__mean_ad")
    score = (
        F.when(n < F.lit(outliers.min_history), F.lit(None))
        .when(mad > 0, F.lit(_MAD_SCALE) * (x - m) / mad)
        .when(mean_ad > 0, (x - m) / (F.lit(_MEAN_AD_SCALE) * mean_ad))
        .when(x == m, F.lit(0.0))
        .cast("double")
    )
    result = staged.withColumn(OUTLIER_SCORE, score)
    return result.select(
        *new.columns,
        F.coalesce(F.abs(F.col(OUTLIER_SCORE)) > F.lit(outliers.threshold), F.lit(False)).alias(
            IS_OUTLIER
        ),
        F.col(OUTLIER_SCORE),
        F.lit(outliers.label).alias(OUTLIER_METHOD),
    )
