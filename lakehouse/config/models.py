"""Typed, frozen configuration: environment settings and one ``ClientConfig`` per client file.

Every model forbids unknown keys, so a typo in YAML is an error that names the key instead of a
setting silently ignored. Values are validated once, at load time.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "Checks",
    "ClientConfig",
    "ColumnSpec",
    "ColumnType",
    "FileFormat",
    "PiiPolicy",
    "Settings",
    "SparkSettings",
    "Thresholds",
]

ColumnType = Literal["string", "code", "name", "integer", "number", "date", "phone", "email", "zip"]
"""Logical column types; each has a standardiser (``lakehouse.transform``) and a parse check."""

PiiPolicy = Literal["token", "drop", "keep"]
"""What happens to a PII column before silver: keyed HMAC token, removed, or kept as is."""

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
# Client ids cannot contain '_' because '_' separates the parts of a landing file name.
_CLIENT_ID = re.compile(r"^[a-z][a-z0-9]*$")
_SPARK_DATE_TOKENS = re.compile(r"(yyyy|MM|dd|M|d)")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Checks(_Frozen):
    """Value checks applied after standardisation; each failure becomes a reason code."""

    regex: str | None = Field(None, description="Full-match regular expression (raw string).")
    isin: tuple[str, ...] | None = Field(None, description="Allowed values (after casing).")
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    min: float | None = Field(None, description="Minimum for integer/number columns.")
    max: float | None = Field(None, description="Maximum for integer/number columns.")
    min_date: dt.date | None = Field(None, description="Earliest allowed date (date columns).")
    not_in_future: bool = Field(False, description="Dates after the file's creation date fail.")

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
        return value


class ColumnSpec(_Frozen):
    """One column of a client's file: where it comes from, what it is, how it is protected."""

    name: str = Field(description="Canonical column name in bronze/silver (snake_case).")
    source: str | None = Field(None, description="Header in the client's file; default: name.")
    type: ColumnType = "string"
    required: bool = Field(False, description="Empty or missing values fail 'not_null'.")
    formats: tuple[str, ...] = Field(
        (), description="Date columns: accepted Spark date patterns, tried in order."
    )
    case: Literal["upper", "lower", "title", "none"] = Field(
        "none", description="Casing applied to string/code columns."
    )
    checks: Checks = Checks()
    pii: PiiPolicy | None = Field(None, description="Set for PII columns: token, drop or keep.")

    @property
    def header(self) -> str:
        return self.source if self.source is not None else self.name

    @field_validator("name")
    @classmethod
    def _snake_case(cls, value: str) -> str:
        if not _IDENTIFIER.match(value) or value.startswith("_"):
            raise ValueError("must be snake_case: a lower-case letter, then [a-z0-9_]")
        return value

    @field_validator("formats")
    @classmethod
    def _date_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            if not _SPARK_DATE_TOKENS.search(pattern):
                raise ValueError(f"'{pattern}' is not a date pattern such as yyyy-MM-dd")
        return value

    @model_validator(mode="after")
    def _formats_match_type(self) -> ColumnSpec:
        if self.type == "date" and not self.formats:
            raise ValueError(f"date column '{self.name}' needs 'formats', e.g. [yyyy-MM-dd]")
        if self.type != "date" and self.formats:
            raise ValueError(f"'formats' only applies to date columns, not '{self.type}'")
        return self


class FileFormat(_Frozen):
    """How a client's CSV files are written and named."""

    delimiter: str = Field(",", min_length=1, max_length=1)
    quote: str = Field('"', min_length=1, max_length=1)
    escape: str = Field('"', min_length=1, max_length=1)
    encoding: str = "UTF-8"
    multiline: bool = Field(True, description="Allow newlines inside quoted fields (RFC 4180).")
    name_date_format: str = Field(
        "%Y-%m-%d", description="strftime pattern of the creation date in file names."
    )

    @field_validator("name_date_format")
    @classmethod
    def _strftime(cls, value: str) -> str:
        if not any(token in value for token in ("%Y", "%y")):
            raise ValueError("must contain a year directive such as %Y")
        return value


class Thresholds(_Frozen):
    max_invalid_ratio: float = Field(
        0.05, ge=0, le=1, description="Share of quarantined rows above which a file is flagged."
    )


class ClientConfig(_Frozen):
    """One client's files, as declared in ``clients/<client_id>.yaml``."""

    client_id: str
    dataset: str = Field(description="Target table name under bronze/, quarantine/, silver/.")
    description: str = ""
    phone_region: str = Field("US", min_length=2, max_length=2, description="ISO 3166 region.")
    file: FileFormat = FileFormat()
    columns: tuple[ColumnSpec, ...] = Field(min_length=1)
    merge_key: tuple[str, ...] = Field(min_length=1)
    thresholds: Thresholds = Thresholds()

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not _CLIENT_ID.match(value):
            raise ValueError("must be lower-case letters and digits only (no '_', no '-')")
        return value

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError("must be snake_case")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ClientConfig:
        names = [c.name for c in self.columns]
        headers = [c.header for c in self.columns]
        for label, values in (("name", names), ("source", headers)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"duplicate column {label}(s): {', '.join(dupes)}")
        by_name = {c.name: c for c in self.columns}
        for key in self.merge_key:
            column = by_name.get(key)
            if column is None:
                raise ValueError(f"merge_key column '{key}' is not among the columns")
            if not column.required:
                raise ValueError(f"merge_key column '{key}' must be 'required: true'")
            if column.pii not in (None, "token", "keep"):
                raise ValueError(
                    f"merge_key column '{key}' has pii '{column.pii}'; use token (or keep)"
                )
        return self

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


class SparkSettings(_Frozen):
    master: str = "local[2]"
    app_name: str = "lakehouse"
    conf: dict[str, str] = Field(default_factory=dict)


class Settings(_Frozen):
    """Environment-level settings (``conf/lakehouse.yaml``, env vars, command-line flags)."""

    lake_root: Path = Path("lake")
    landing_dir: Path = Path("landing")
    checkpoint_dir: Path | None = Field(
        None, description="Structured Streaming checkpoints; default <lake_root>/_checkpoints."
    )
    clients_dir: Path = Path("clients")
    engine: Literal["delta-rs", "delta-spark"] = "delta-rs"
    trigger: Literal["available_now", "processing_time"] = "available_now"
    processing_time: str = Field("1 minute", description="Interval in processing_time mode.")
    max_files_per_trigger: int | None = Field(None, ge=1)
    merge_retries: int = Field(5, ge=0, le=50)
    spark: SparkSettings = SparkSettings()

    @property
    def checkpoints(self) -> Path:
        return self.checkpoint_dir or self.lake_root / "_checkpoints"

    def table_path(self, zone: Literal["bronze", "quarantine", "silver"], dataset: str) -> Path:
        return self.lake_root / zone / dataset

    @property
    def audit_path(self) -> Path:
        return self.lake_root / "audit" / "files"

    @property
    def staging_dir(self) -> Path:
        return self.lake_root / "_staging"
