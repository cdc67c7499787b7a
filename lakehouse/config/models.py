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

from lakehouse.alerts.config import AlertSettings
from lakehouse.config.calendar import DeliveryCalendar
from lakehouse.config.consent import ConsentSettings
from lakehouse.config.drift import DriftSettings
from lakehouse.config.keyed import KeyedValueError
from lakehouse.config.retention import RetentionPolicy

__all__ = [
    "Checks",
    "ClientConfig",
    "ColumnSpec",
    "ColumnType",
    "ConsentSettings",
    "DeliveryCalendar",
    "DriftSettings",
    "FileFormat",
    "GeneraliseOptions",
    "KeyedValueError",
    "MaskOptions",
    "PhiSettings",
    "PiiPolicy",
    "RetentionPolicy",
    "Settings",
    "SparkSettings",
    "Thresholds",
]

ColumnType = Literal["string", "code", "name", "integer", "number", "date", "phone", "email", "zip"]
"""Logical column types; each has a standardiser (``lakehouse.transform``) and a parse check."""

PiiPolicy = Literal[
    "token", "encrypt", "deterministic_encrypt", "mask", "generalise", "drop", "keep"
]
"""What happens to a PII column before silver (see README, "PII protection"): keyed HMAC
token, AES-GCM, AES-SIV, partial mask, generalisation, removed, or kept as is. Bronze and
quarantine encrypt every PII column whatever its silver policy."""

Generalisation = Literal["year", "age_band", "zip3"]

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


class MaskOptions(_Frozen):
    """``pii: mask``: keep the first/last characters, replace the others with a fixed run of
    mask characters (the value's length is not revealed unless ``keep_length``)."""

    keep_first: int = Field(0, ge=0, le=8)
    keep_last: int = Field(0, ge=0, le=8)
    char: str = Field("*", min_length=1, max_length=1)
    masked_chars: int = Field(
        6, ge=1, le=32, description="Mask characters between the kept ones, whatever the length."
    )
    keep_length: bool = Field(
        False,
        description="Mask every hidden character one for one (reveals the value's length, "
        "which with other fields can single a person out).",
    )


class GeneraliseOptions(_Frozen):
    """``pii: generalise``: dates to a year or an age band, zips to HIPAA zip3."""

    to: Generalisation | None = Field(
        None, description="year | age_band (date columns), zip3 (zip); default by type."
    )
    band_years: int = Field(10, ge=1, le=50, description="Width of an age band.")
    top_age: int = Field(
        90,
        ge=1,
        le=120,
        description="Ages from here on share one band ('90+', HIPAA); with to: year, a year "
        "this many years or more before the file's date becomes '90+' too.",
    )


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
    pii: PiiPolicy | None = Field(
        None, description="Set for PII columns: the policy that protects it in silver."
    )
    mask: MaskOptions | None = Field(None, description="Options of pii: mask.")
    generalise: GeneraliseOptions | None = Field(None, description="Options of pii: generalise.")
    free_text: bool = Field(
        False, description="Scan for PHI (SSN, card, phone, email, dates, MRN) and redact it."
    )

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
            raise KeyedValueError(
                f"date column '{self.name}' needs 'formats', e.g. [yyyy-MM-dd]",
                key=("formats",),
                expected="at least one date pattern",
                found="[]",
            )
        if self.type != "date" and self.formats:
            raise KeyedValueError(
                f"'formats' only applies to date columns, not '{self.type}'",
                key=("formats",),
                expected="no formats",
                found=repr(list(self.formats)),
            )
        return self

    @field_validator("pii", mode="before")
    @classmethod
    def _pii_needs_a_policy(cls, value: object) -> object:
        if value is True or value == {}:
            raise ValueError(
                "column is marked PII but has no policy; set pii to one of token, encrypt, "
                "deterministic_encrypt, mask, generalise, drop, keep"
            )
        return value

    @model_validator(mode="after")
    def _pii_options_match_policy(self) -> ColumnSpec:
        for option in ("mask", "generalise"):
            if getattr(self, option) is not None and self.pii != option:
                raise ValueError(
                    f"column '{self.name}' has '{option}' options but pii is "
                    f"{self.pii!r}: a PII column needs its policy; set pii: {option}"
                )
        if self.pii == "generalise":
            to = self.generalisation
            allowed = {"date": ("year", "age_band"), "zip": ("zip3",)}.get(self.type, ())
            if to not in allowed:
                raise ValueError(
                    f"generalise of a '{self.type}' column: expected "
                    f"{' or '.join(allowed) or 'a date or zip column'}, found {to!r}"
                )
        if self.free_text:
            if self.type != "string":
                raise ValueError(f"free_text applies to string columns, not '{self.type}'")
            if self.pii is None:
                raise ValueError(
                    f"free_text column '{self.name}' is PII and needs a policy for what "
                    "remains after redaction (keep, encrypt, drop)"
                )
            if self.pii in ("mask", "generalise"):
                raise ValueError(f"free_text column '{self.name}' cannot use pii '{self.pii}'")
        return self

    @property
    def is_pii(self) -> bool:
        """PII in bronze and quarantine (encrypted there): any policy, or free text."""
        return self.pii is not None or self.free_text

    @property
    def generalisation(self) -> Generalisation | None:
        options = self.generalise or GeneraliseOptions()
        if options.to is not None:
            return options.to
        return {"date": "year", "zip": "zip3"}.get(self.type)  # type: ignore[return-value]

    @property
    def mask_options(self) -> MaskOptions:
        """Declared options, else: phones keep the last 4, anything else the first 1."""
        if self.mask is not None:
            return self.mask
        return MaskOptions(keep_last=4) if self.type == "phone" else MaskOptions(keep_first=1)


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
    max_field_chars: int = Field(
        10_000, ge=1, description="Longer raw values are invalid (`too_long`)."
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


class PhiSettings(_Frozen):
    """Free-text PHI scanning for ``free_text`` columns."""

    mrn_patterns: tuple[str, ...] = Field(
        (), description="Regexes of this client's medical record numbers (whole tokens)."
    )

    @field_validator("mrn_patterns")
    @classmethod
    def _patterns_compile(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"'{pattern}' is not a valid regular expression ({exc})") from exc
            if compiled.match(""):
                raise ValueError(f"'{pattern}' matches the empty string")
        return value


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
    phi: PhiSettings = PhiSettings()
    delivery: DeliveryCalendar | None = Field(
        None, description="When files are due (`lakehouse freshness`); none: not checked."
    )
    retention: RetentionPolicy = Field(
        RetentionPolicy(), description="How long each layer keeps data (`lakehouse retention`)."
    )
    consent: ConsentSettings | None = Field(
        None, description="Purposes members consent to; exports for a purpose need it."
    )
    drift: DriftSettings | None = Field(
        None, description="Data-quality drift checks against the client's own history."
    )
    token_domain: str | None = Field(
        None,
        description="Token (and SIV) domain. Default: this client's own (client, dataset, "
        "column), so the same value gives different tokens in different clients. A name shared "
        "by several clients makes their tokens equal (cross-client linkage, opt-in). '_legacy': "
        "the column name only, as before domains were bound (lakes tokenised that way).",
    )

    @field_validator("token_domain")
    @classmethod
    def _token_domain(cls, value: str | None) -> str | None:
        if value is not None and value != "_legacy" and not _IDENTIFIER.match(value):
            raise ValueError("must be a snake_case name (or '_legacy')")
        return value

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
                second = values.index(dupes[0], values.index(dupes[0]) + 1)
                raise KeyedValueError(
                    f"duplicate column {label}(s): {', '.join(dupes)}",
                    key=("columns", second, label),
                    expected=f"unique column {label}s",
                    found=repr(dupes[0]),
                )
        by_name = {c.name: c for c in self.columns}
        if self.consent is not None and self.consent.column is not None:
            column = by_name.get(self.consent.column)
            if column is None or column.type not in ("string", "code") or column.is_pii:
                raise KeyedValueError(
                    f"consent column '{self.consent.column}' must be a non-PII string column",
                    key=("consent", "column"),
                    expected=f"a string or code column without pii, one of {', '.join(names)}",
                    found=repr(self.consent.column),
                )
        for i, key in enumerate(self.merge_key):
            column = by_name.get(key)
            if column is None:
                raise KeyedValueError(
                    f"merge_key column '{key}' is not among the columns",
                    key=("merge_key", i),
                    expected=f"one of {', '.join(names)}",
                    found=repr(key),
                )
            if not column.required:
                raise KeyedValueError(
                    f"merge_key column '{key}' must be 'required: true'",
                    key=("merge_key", i),
                    expected="a required column",
                    found="required: false",
                )
            if column.pii not in (None, "token", "keep"):
                raise KeyedValueError(
                    f"merge_key column '{key}' has pii '{column.pii}'; use token (or keep)",
                    key=("merge_key", i),
                    expected="pii token or keep",
                    found=repr(column.pii),
                )
        return self

    @model_validator(mode="after")
    def _drift_columns(self) -> ClientConfig:
        if self.drift is not None:
            error = self.drift.unknown_column([c.name for c in self.columns])
            if error is not None:
                raise KeyedValueError(
                    str(error),
                    key=("drift", *error.key),
                    expected=error.expected,
                    found=error.found,
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
    archive_dir: Path | None = Field(
        None, description="Processed landing files, by client; default <lake_root>/_archive."
    )
    archive_mode: Literal["copy", "move"] = Field(
        "copy", description="copy keeps files in landing; move empties it (see DesignDoc.md)."
    )
    engine: Literal["delta-rs", "delta-spark"] = "delta-rs"
    trigger: Literal["available_now", "processing_time"] = "available_now"
    processing_time: str = Field("1 minute", description="Interval in processing_time mode.")
    max_files_per_trigger: int | None = Field(None, ge=1)
    merge_retries: int = Field(5, ge=0, le=50)
    umask: str = Field(
        "0077",
        pattern=r"^0?[0-7]{3}$",
        description="File creation mask of the job (octal): 0077 owner only; 0027 lets a "
        "service group read. Other users never get access (the last digit must be 7).",
    )
    scratch_dir: Path | None = Field(
        None,
        description="Spark's local dir (shuffle, spill, cache blocks): one 0700 folder per "
        "run below it; default <lake_root>/_scratch.",
    )
    spark: SparkSettings = SparkSettings()
    alerts: AlertSettings = AlertSettings()  # sinks, routing, delivery (README, "Alerts")

    @field_validator("umask")
    @classmethod
    def _umask_private(cls, value: str) -> str:
        if int(value, 8) & 0o007 != 0o007:
            raise ValueError(
                f"umask {value} gives other users access to PII files; use 0077 (owner only) "
                "or 0027 (owner and group)"
            )
        return value

    @property
    def umask_bits(self) -> int:
        return int(self.umask, 8)

    @property
    def scratch_root(self) -> Path:
        return self.scratch_dir or self.lake_root / "_scratch"

    @property
    def checkpoints(self) -> Path:
        return self.checkpoint_dir or self.lake_root / "_checkpoints"

    @property
    def archive_root(self) -> Path:
        return self.archive_dir or self.lake_root / "_archive"

    @model_validator(mode="after")
    def _archive_outside_landing(self) -> Settings:
        # The landing stream lists landing recursively: an archive inside it would be re-read.
        archive, landing = self.archive_root.resolve(), self.landing_dir.resolve()
        if archive == landing or landing in archive.parents:
            raise ValueError("archive_dir must not be inside landing_dir")
        return self

    def table_path(self, zone: Literal["bronze", "quarantine", "silver"], dataset: str) -> Path:
        return self.lake_root / zone / dataset

    @property
    def audit_path(self) -> Path:
        return self.lake_root / "audit" / "files"

    @property
    def lock_dir(self) -> Path:
        return self.lake_root / "_locks"

    @property
    def staging_dir(self) -> Path:
        return self.lake_root / "_staging"
