"""Which schema changes silver takes in place, and the refusal (with the manual path) of the
others.

Silver stores each logical type as one physical type (``STORAGE``). A change that keeps the
physical type (``code`` -> ``string``, ``zip`` -> ``string``) is a declaration change only. A
change of physical type needs Delta type widening, which delta-rs 1.6.6 neither writes nor reads
(a table using it becomes unreadable to the embedded engine), so it is refused: ``integer`` is
already ``bigint`` (no int -> long step exists), ``integer`` -> ``number`` (bigint -> double)
and every narrowing need a rewrite. A new nullable column is added by the engines' schema
merge (``write_deltalake(schema_mode="merge")``, ``merge(merge_schema=True)``, the staged
commit's ``add_columns``); old rows read NULL.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pyarrow as pa

from lakehouse.config.models import ClientConfig, ColumnSpec, ColumnType
from lakehouse.errors import SchemaChangeRefused

__all__ = ["STORAGE", "manual_path", "refuse_breaking", "storage_type"]

STORAGE: Mapping[ColumnType, str] = {
    "string": "string",
    "code": "string",
    "name": "string",
    "phone": "string",
    "email": "string",
    "zip": "string",
    "integer": "bigint",
    "number": "double",
    "date": "date",
    "timestamp": "timestamp",  # an instant (UTC); Delta's timestamp, not timestamp_ntz
}


def storage_type(column_type: ColumnType) -> str:
    return STORAGE[column_type]


def manual_path(client: ClientConfig) -> str:
    return (
        f"either start a new dataset (set dataset: {client.dataset}_v2 in "
        f"clients/{client.client_id}.yaml and backfill it from the archive: `lakehouse "
        "backfill`), or rewrite silver with the new schema in a maintenance window (read the "
        "table, cast/drop the column, overwrite it, then change the YAML); silver readers must "
        "be told either way"
    )


def _arrow_name(kind: pa.DataType) -> str | None:
    if pa.types.is_int64(kind):
        return "bigint"
    if pa.types.is_int32(kind):
        return "int"
    if pa.types.is_float64(kind):
        return "double"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return "string"
    if pa.types.is_date32(kind):
        return "date"
    if pa.types.is_timestamp(kind):
        # Delta's timestamp is zone-aware (Arrow: tz set); timestamp_ntz has no zone.
        return "timestamp" if kind.tz is not None else "timestamp_ntz"
    if pa.types.is_boolean(kind):
        return "boolean"
    return None  # other types are not business columns' (lineage, nested): not compared


def refuse_breaking(
    client: ClientConfig,
    table: pa.Schema | None,
    source: Mapping[str, str],
    *,
    accepted: Collection[str] = (),
) -> None:
    """Refuse a silver write that would break the table's schema.

    ``table``: silver's current schema (None: no table yet). ``source``: column -> Spark
    simple type name of the rows about to be merged. ``accepted``: the silver columns of the
    client's latest registry version (a dataset's table is shared by clients with different
    columns, so only the registry says which columns are this client's).

    Raises:
        SchemaChangeRefused: a column of the client's accepted schema is missing from the rows
            (removed from the YAML, or its policy became ``drop``), or a column of the table
            has another type.
    """
    removed = sorted(name for name in accepted if name not in source)
    if removed:
        raise SchemaChangeRefused(
            f"the schema registry accepts column(s) {', '.join(removed)} that the config no "
            "longer fills (removed, or pii: drop): a breaking change for silver readers",
            client=client.client_id,
            step="silver",
            fix=f"declare the column(s) again to keep ingesting; to remove them, "
            f"{manual_path(client)}",
        )
    if table is None:
        return
    business = [f for f in table if not f.name.startswith("_") and f.name in source]
    changed = []
    for found in business:
        stored = _arrow_name(found.type)
        if stored is not None and source[found.name] != stored:
            changed.append(f"{found.name} ({stored} -> {source[found.name]})")
    if changed:
        raise SchemaChangeRefused(
            f"column type change(s) silver cannot take in place: {', '.join(changed)}",
            client=client.client_id,
            step="silver",
            fix=f"restore the declared type in clients/{client.client_id}.yaml; to change "
            f"it, {manual_path(client)}",
        )


def check_type_change(client: ClientConfig, declared: ColumnSpec, new_type: ColumnType) -> None:
    """Refuse a declared column's type change that changes its stored type.

    Raises:
        SchemaChangeRefused: ``new_type`` is stored differently from ``declared.type``.
    """
    before, after = storage_type(declared.type), storage_type(new_type)
    if before != after:
        kind = "widening" if (before, after) == ("bigint", "double") else "change"
        raise SchemaChangeRefused(
            f"column {declared.name}: type {declared.type} -> {new_type} is a stored-type "
            f"{kind} ({before} -> {after}); delta-rs cannot widen a Delta column in place",
            client=client.client_id,
            step="schema approve",
            fix=manual_path(client),
        )
