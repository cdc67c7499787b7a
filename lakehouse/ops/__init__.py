"""Operations: read-only views of the lake (status, audit, quarantine reasons, history,
silver changes), configuration checks and the client JSON Schema. Nothing here starts Spark.
"""

from __future__ import annotations

from lakehouse.ops.audit_views import audit_rows, client_status, read_audit
from lakehouse.ops.config_check import (
    ConfigProblem,
    check_client_files,
    check_exports_file,
    check_schedules_file,
)
from lakehouse.ops.render import Column, render_table, to_json
from lakehouse.ops.schema import client_json_schema
from lakehouse.ops.tables import (
    TABLES,
    TableName,
    dataset_of,
    quarantine_reasons,
    silver_changes,
    table_history,
)

__all__ = [
    "TABLES",
    "Column",
    "ConfigProblem",
    "TableName",
    "audit_rows",
    "check_client_files",
    "check_exports_file",
    "check_schedules_file",
    "client_json_schema",
    "client_status",
    "dataset_of",
    "quarantine_reasons",
    "read_audit",
    "render_table",
    "silver_changes",
    "table_history",
    "to_json",
]
