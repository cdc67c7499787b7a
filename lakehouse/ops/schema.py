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
    properties = dict(schema["properties"])
    required = list(schema.get("required", []))
    # A dataset block (``datasets: {readings: {...}}``): every key but the client's own.
    dataset = {
        "type": "object",
        "additionalProperties": False,
        "description": "One more dataset of the client (README, 'Datasets and readings').",
        "properties": {
            k: v for k, v in properties.items() if k not in ("client_id", *_NOT_PER_DATASET)
        },
        "required": [k for k in required if k not in ("client_id", *_NOT_PER_DATASET)],
    }
    properties["datasets"] = {
        "type": "object",
        "description": "The client's other datasets (or all, without a top-level 'dataset'), "
        "by snake_case name.",
        "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
        "additionalProperties": {"$ref": "#/$defs/Dataset"},
    }
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": "lakehouse-client.schema.json",
        **schema,
        "$defs": {**schema.get("$defs", {}), "Dataset": dataset},
        "properties": properties,
        # The members-only form, or datasets only (then client_id and datasets suffice).
        "required": ["client_id"],
        "anyOf": [{"required": required}, {"required": ["datasets"]}],
        "title": "lakehouse client configuration (clients/<client_id>.yaml)",
    }


_NOT_PER_DATASET = ("dataset", "default_dataset")
