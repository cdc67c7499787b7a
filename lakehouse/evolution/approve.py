"""``lakehouse schema approve``: record a column decision in the registry, then write the
overlay the config loader merges, so the column is declared from the next command on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from lakehouse.config.models import ClientConfig, ColumnSpec, ColumnType, PiiPolicy, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError, SchemaChangeRefused
from lakehouse.evolution.compat import check_type_change, manual_path
from lakehouse.evolution.diff import diff_client
from lakehouse.evolution.overlay import read_overlay, write_overlay
from lakehouse.evolution.registry import RegistryEntry, column_record, record_change

__all__ = ["NOT_PII", "Approval", "approve_column", "refuse_removal"]

NOT_PII = "none"  # --pii none: a person looked and the column holds no PII


@dataclass(frozen=True)
class Approval:
    entry: RegistryEntry
    overlay: Path
    column: ColumnSpec


def refuse_removal(client: ClientConfig, column: str) -> None:
    """Removing a configured column is never done in place.

    Raises:
        SchemaChangeRefused: always, naming the manual path.
    """
    raise SchemaChangeRefused(
        f"removing column {column} is a breaking change: silver keeps it for old rows and "
        "readers rely on it, while new files would leave it empty",
        client=client.client_id,
        step="schema approve",
        fix=manual_path(client),
    )


def _policy(client: ClientConfig, column: str, pii: str | None) -> PiiPolicy | None:
    if pii is None:
        raise LakehouseError(
            f"column {column} has no PII decision: an unclassified column may hold PII",
            client=client.client_id,
            step="schema approve",
            fix=f"pass --pii with one of {', '.join(get_args(PiiPolicy))}, or --pii "
            f"{NOT_PII} once someone has checked that it holds no PII",
        )
    if pii == NOT_PII:
        return None
    if pii not in get_args(PiiPolicy):
        raise LakehouseError(
            f"unknown PII policy {pii!r}",
            client=client.client_id,
            step="schema approve",
            fix=f"use one of {', '.join(get_args(PiiPolicy))} or {NOT_PII}",
        )
    return pii  # type: ignore[return-value]


def _spec(client: ClientConfig, fields: dict[str, Any]) -> ColumnSpec:
    try:
        return ColumnSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LakehouseError(
            f"column {fields['name']}: {first['msg']}",
            client=client.client_id,
            step="schema approve",
            fix="see `lakehouse config-schema` for the column keys (e.g. --format for dates)",
        ) from None


def approve_column(
    settings: Settings,
    client: ClientConfig,
    engine: TableEngine,
    *,
    column: str,
    pii: str | None,
    column_type: ColumnType,
    formats: Sequence[str] = (),
    reason: str,
    approved_by: str,
) -> Approval:
    """Approve ``column`` (a proposed column's name or header, or a declared column for a
    type change that keeps its stored type).

    Raises:
        LakehouseError: no PII decision, no reason, no file proposes the column, or the column
            is declared as asked already.
        SchemaChangeRefused: a stored-type change or a PII policy change of a declared column.
    """
    if not reason.strip():
        raise LakehouseError(
            "an approval needs a reason", client=client.client_id, fix="pass --reason TEXT"
        )
    policy = _policy(client, column, pii)
    declared = next((c for c in client.columns if column in (c.name, c.header)), None)
    if declared is not None:
        if declared.pii != policy:
            raise SchemaChangeRefused(
                f"column {declared.name}: PII policy {declared.pii or NOT_PII} -> "
                f"{policy or NOT_PII} would leave old silver rows protected the old way",
                client=client.client_id,
                step="schema approve",
                fix=manual_path(client),
            )
        if declared.type == column_type:
            raise LakehouseError(
                f"column {declared.name} is declared as {column_type} already",
                client=client.client_id,
                fix="nothing to approve",
            )
        check_type_change(client, declared, column_type)
        fields = declared.model_dump(mode="json", exclude_defaults=True)
        fields.update(type=column_type, formats=list(formats) or None)
        spec, change = _spec(client, fields), "type"
    else:
        proposals, _ = diff_client(settings, client, engine)
        added = [p for p in proposals if p.kind == "added" and p.header is not None]
        match = next((p for p in added if column in (p.column, p.header)), None)
        if match is None:
            raise LakehouseError(
                f"no landing or held file has a new column {column}",
                client=client.client_id,
                step="schema approve",
                fix=f"run `lakehouse schema diff --client {client.client_id}` and use a name "
                "or header from its 'added' rows",
            )
        fields = {
            "name": match.column,
            "source": match.header if match.header != match.column else None,
            "type": column_type,
            "pii": policy,
            "formats": list(formats) or None,
        }
        spec, change = _spec(client, fields), "add"
    columns = [spec if c.name == spec.name else c for c in client.columns]
    if declared is None:
        columns.append(spec)
    try:  # the whole client must stay valid (merge key, consent column, free text...)
        ClientConfig.model_validate({**client.model_dump(), "columns": columns})
    except ValidationError as exc:
        raise LakehouseError(
            f"the client would be invalid: {exc.errors()[0]['msg']}",
            client=client.client_id,
            step="schema approve",
        ) from None
    entry = record_change(
        engine,
        settings.lake_root,
        before=client,
        approved=[spec],
        change=change,
        approved_by=approved_by,
        reason=reason,
    )
    client_file = settings.clients_dir / f"{client.client_id}.yaml"
    existing = (read_overlay(client_file) or {}).get("columns") or []
    kept = [c for c in existing if isinstance(c, dict) and c.get("name") != spec.name]
    overlay = write_overlay(
        client_file, client.client_id, entry.version, [*kept, column_record(spec)]
    )
    return Approval(entry=entry, overlay=overlay, column=spec)
