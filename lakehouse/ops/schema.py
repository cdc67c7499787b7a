"""JSON Schema of ``clients/<id>.yaml`` for editors (autocomplete, inline validation)."""

from __future__ import annotations

from typing import Any

from lakehouse.config.models import ClientConfig

__all__ = ["SCHEMA_DIALECT", "client_json_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def client_json_schema() -> dict[str, Any]:
    """The schema pydantic derives from ``ClientConfig`` (the model the loader validates with).

    Cross-field rules (merge key columns exist and are required, unique names, date formats)
    are checked by ``lakehouse validate-config``, not by the schema.
    """
    schema = ClientConfig.model_json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": "lakehouse-client.schema.json",
        **schema,
        "title": "lakehouse client configuration (clients/<client_id>.yaml)",
    }
