"""Typed, frozen configuration: environment settings and one ``ClientConfig`` per client file.

Every model forbids unknown keys, so a typo in YAML is an error that names the key instead of a
setting silently ignored. Values are validated once, at load time.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from lakehouse.alerts.config import AlertSettings
from lakehouse.config.calendar import DeliveryCalendar
from lakehouse.config.consent import ConsentSettings
from lakehouse.config.drift import DriftSettings
from lakehouse.config.gold import GoldSettings
from lakehouse.config.measurements import MeasurementSettings
from lakehouse.config.problems import KeyedValueError, KeyedValueErrors, one_or_many
from lakehouse.config.retention import RetentionPolicy

__all__ = [
    "Checks",
    "ClientConfig",
    "ColumnSpec",
    "ColumnType",
    "ConsentSettings",
    "DeliveryCalendar",
    "DriftSettings",
    "EvolutionMode",
    "FileFormat",
    "FileKind",
    "GeneraliseOptions",
    "KeyedValueError",
    "KeyedValueErrors",
    "MaskOptions",
    "OneOrMany",
    "PhiSettings",
    "PiiPolicy",
    "RetentionPolicy",
    "SchemaEvolution",
    "Settings",
    "SparkSettings",
    "Thresholds",
    "XmlLayout",
]

ColumnType = Literal[
    "string", "code", "name", "integer", "number", "date", "timestamp", "phone", "email", "zip"
]
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
# One step of an XML path: an element's local name (namespaces are not part of the path).
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")

FileKind = Literal["csv", "jsonl", "xml"]
"""How a landing file is written; also its file-name extension (``acme_2026-01-05.jsonl``)."""


OneOrMany = Annotated[
    tuple[str, ...], BeforeValidator(one_or_many, json_schema_input_type=str | list[str])
]
"""A list of strings; a single string is accepted as a list of one."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Checks(_Frozen):
    """Value checks applied after standardisation; each failure becomes a reason code."""

    regex: str | None = Field(None, description="Full-match regular expression (raw string).")
    isin: OneOrMany | None = Field(None, description="Allowed values (after casing).")
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
    formats: OneOrMany = Field(
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
    references: str | None = Field(
        None,
        description="'<dataset>.<column>' of the same client this column points at (readings' "
        "member_id -> members.member_id): a token column is tokenised in that column's token "
        "domain, so the two tables join on their tokens.",
    )

    @field_validator("references")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        if value is not None:
            parts = value.split(".")
            if len(parts) != 2 or not all(_IDENTIFIER.match(p) for p in parts):
                raise ValueError("must be '<dataset>.<column>', e.g. members.member_id")
        return value

    @property
    def referenced(self) -> tuple[str, str] | None:
        """``(dataset, column)`` of ``references``, or None."""
        if self.references is None:
            return None
        dataset, column = self.references.split(".")
        return dataset, column

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
        problems: list[KeyedValueError] = []
        for option in ("mask", "generalise"):
            if getattr(self, option) is not None and self.pii != option:
                problems.append(
                    KeyedValueError(
                        f"column '{self.name}' has '{option}' options but its pii policy is "
                        f"{self.pii!r}; set pii: {option} (or remove the options)",
                        key=("pii",),
                        expected=repr(option),
                        found=repr(self.pii),
                    )
                )
        if self.pii == "generalise":
            to = self.generalisation
            allowed = {"date": ("year", "age_band"), "zip": ("zip3",)}.get(self.type, ())
            if to not in allowed:
                problems.append(
                    KeyedValueError(
                        f"a '{self.type}' column generalises to "
                        f"{' or '.join(map(repr, allowed))}, not {to!r}"
                        if allowed
                        else f"a '{self.type}' column cannot be generalised (only date and zip "
                        "columns can)",
                        key=("generalise", "to") if self.generalise else ("pii",),
                        expected=" or ".join(map(repr, allowed)) or "a date or zip column",
                        found=repr(to) if self.generalise else "'generalise'",
                    )
                )
        if self.free_text:
            if self.type != "string":
                problems.append(
                    KeyedValueError(
                        f"free_text applies to string columns, not '{self.type}'",
                        key=("type",),
                        expected="'string' (with free_text: true)",
                        found=repr(self.type),
                    )
                )
            if self.pii is None:
                problems.append(
                    KeyedValueError(
                        f"free_text column '{self.name}' is PII and needs a policy for what "
                        "remains after redaction",
                        key=("pii",),
                        expected="'keep', 'encrypt' or 'drop'",
                        found="no pii",
                    )
                )
            elif self.pii in ("mask", "generalise"):
                problems.append(
                    KeyedValueError(
                        f"free_text column '{self.name}' cannot use pii '{self.pii}'",
                        key=("pii",),
                        expected="'keep', 'encrypt', 'deterministic_encrypt', 'token' or 'drop'",
                        found=repr(self.pii),
                    )
                )
        if problems:
            raise KeyedValueErrors(problems)
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


class XmlLayout(_Frozen):
    """Where the records of an XML landing file are (``file.xml``)."""

    record: str = Field(
        description="Element path from the root to each record, e.g. 'members/member'; "
        "columns' sources are paths below it ('name/first', '@id')."
    )
    max_depth: int = Field(
        64, ge=2, le=1000, description="Deeper element nesting rejects the file (xml_too_deep)."
    )

    @field_validator("record")
    @classmethod
    def _record_path(cls, value: str) -> str:
        steps = value.split("/")
        if not all(_XML_NAME.match(step) for step in steps):
            raise ValueError(
                "must be element names separated by '/', from the root element to the record "
                "element, e.g. members/member (no attributes, wildcards or namespace prefixes)"
            )
        return value

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(self.record.split("/"))

    @model_validator(mode="after")
    def _depth_holds_the_record(self) -> XmlLayout:
        if len(self.steps) >= self.max_depth:
            raise KeyedValueError(
                f"max_depth {self.max_depth} leaves no room below the record path",
                key=("max_depth",),
                expected=f"more than {len(self.steps)}",
                found=str(self.max_depth),
            )
        return self


_CSV_ONLY = ("delimiter", "quote", "escape", "multiline")


class FileFormat(_Frozen):
    """How a client's landing files are written and named.

    Self-contained on purpose: when a client delivers several datasets, this block moves
    into each dataset as it is.
    """

    format: FileKind = Field(
        "csv",
        description="csv, jsonl (one JSON object per line) or xml (records at file.xml.record); "
        "also the file-name extension.",
    )
    delimiter: str = Field(",", min_length=1, max_length=1)
    quote: str = Field('"', min_length=1, max_length=1)
    escape: str = Field('"', min_length=1, max_length=1)
    encoding: str = "UTF-8"
    multiline: bool = Field(True, description="Allow newlines inside quoted fields (RFC 4180).")
    xml: XmlLayout | None = Field(None, description="format xml: where the records are.")
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

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"'{value}' is not an encoding Python knows (e.g. UTF-8)") from None
        return value

    @model_validator(mode="after")
    def _options_of_the_format(self) -> FileFormat:
        if self.format == "xml" and self.xml is None:
            raise KeyedValueError(
                "format xml needs 'xml: {record: <root>/<record>}' (where the records are)",
                key=("xml",),
                expected="xml: {record: members/member}",
                found="nothing",
            )
        if self.format != "xml" and self.xml is not None:
            raise KeyedValueError(
                f"'xml' applies to format xml, not {self.format}",
                key=("xml",),
                expected="no xml block",
                found="an xml block",
            )
        if self.format != "csv":
            for option in _CSV_ONLY:
                if option in self.model_fields_set:
                    raise KeyedValueError(
                        f"'{option}' applies to csv files, not {self.format}",
                        key=(option,),
                        expected="no CSV options",
                        found=repr(getattr(self, option)),
                    )
        return self

    @property
    def extension(self) -> str:
        """The landing file name's extension, without the dot."""
        return self.format


def _source_problem(kind: FileKind, source: str) -> str | None:
    """Why ``source`` cannot address a value in a ``kind`` file (None: it can)."""
    if kind == "jsonl":
        if any(step == "" for step in source.split(".")):
            return "a key, or keys joined by '.' for nested objects (e.g. name.first)"
    elif kind == "xml":
        *elements, last = source.split("/")
        if last.startswith("@"):
            last = last[1:]
        if not all(_XML_NAME.match(step) for step in [*elements, last]):
            return (
                "an element path below the record, e.g. name/first, optionally ending in an "
                "attribute (@id, name/@type)"
            )
    return None


def _element_path(kind: FileKind, source: str) -> tuple[str, ...]:
    """The nested steps of ``source`` that must hold objects/elements (not the attribute)."""
    if kind == "jsonl":
        return tuple(source.split("."))
    if kind == "xml":
        return tuple(step for step in source.split("/") if not step.startswith("@"))
    return (source,)


def check_sources(file: FileFormat, columns: tuple[ColumnSpec, ...]) -> None:
    """Each column's ``source`` addresses a value of this file format, and no source is the
    parent of another (a value cannot be a scalar and an object at once).

    Raises:
        KeyedValueError: naming the column's ``source``.
    """
    kind = file.format
    paths: dict[tuple[str, ...], int] = {}
    for i, column in enumerate(columns):
        problem = _source_problem(kind, column.header)
        if problem is not None:
            raise KeyedValueError(
                f"column '{column.name}': source '{column.header}' is not "
                + {"jsonl": "a JSON key path", "xml": "an XML path"}.get(kind, "a header"),
                key=("columns", i, "source"),
                expected=problem,
                found=repr(column.header),
            )
        if kind == "csv" or (kind == "xml" and "@" in column.header):
            continue
        paths[_element_path(kind, column.header)] = i
    for path, i in paths.items():
        for other in paths:
            if len(other) > len(path) and other[: len(path)] == path:
                raise KeyedValueError(
                    f"column '{columns[i].name}': source '{columns[i].header}' holds another "
                    f"column's value ('{columns[paths[other]].header}'), so it is not a value",
                    key=("columns", i, "source"),
                    expected="sources that are values, not parents of other sources",
                    found=repr(columns[i].header),
                )


class Thresholds(_Frozen):
    max_invalid_ratio: float = Field(
        0.05, ge=0, le=1, description="Share of quarantined rows above which a file is flagged."
    )


class PhiSettings(_Frozen):
    """Free-text PHI scanning for ``free_text`` columns."""

    mrn_patterns: OneOrMany = Field(
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


EvolutionMode = Literal["failOnNewColumns", "none", "addNewColumns", "rescue"]
"""What a header the config does not declare does to a file (Auto Loader's names; README,
"Schema evolution"): hold the file (``schema_drift``), ignore the column with a warning, add
it to bronze encrypted until it is approved, or keep its values in ``_rescued_data``."""


class SchemaEvolution(_Frozen):
    """``schema_evolution:`` of a client: the mode for new columns, and per-header overrides."""

    mode: EvolutionMode = Field(
        "failOnNewColumns",
        description="failOnNewColumns (default: an unclassified column may hold PII, so the "
        "file is HELD schema_drift), none (ignored with a warning), addNewColumns (into bronze "
        "encrypted; silver once approved), rescue (unknown columns and values that do not fit "
        "their declared type go to bronze's encrypted _rescued_data JSON column).",
    )
    columns: dict[str, EvolutionMode] = Field(
        default_factory=dict,
        description="Per header of the client's file (exact name, as in the file): a mode that "
        "overrides `mode` for that header, e.g. {ExportedAt: none} for a column known to be "
        "irrelevant. rescue here applies to that new column only.",
    )

    def mode_for(self, header: str) -> EvolutionMode:
        return self.columns.get(header, self.mode)


@dataclass(frozen=True)
class _ColumnFacts:
    """What the cross-field rules need of a column (from a model or from raw YAML)."""

    name: str
    header: str
    required: bool | None  # None: not a boolean in the raw data (reported by itself)
    pii: str | None
    type: str | None  # None: not a valid type in the raw data
    free_text: bool = False
    pii_valid: bool = True  # False: not a policy in the raw data (reported by itself)


def _raw_facts(raw: object) -> _ColumnFacts | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        return None
    source = raw.get("source")
    required = raw.get("required", False)
    pii = raw.get("pii")
    kind = raw.get("type", "string")
    return _ColumnFacts(
        name=raw["name"],
        header=source if isinstance(source, str) else raw["name"],
        required=required if isinstance(required, bool) else None,
        pii=pii if pii in get_args(PiiPolicy) else None,
        type=kind if kind in get_args(ColumnType) else None,
        free_text=raw.get("free_text") is True,
        pii_valid=pii is None or pii in get_args(PiiPolicy),
    )


def _cross_field_problems(
    columns: Sequence[_ColumnFacts | None], merge_key: Sequence[str], consent_column: str | None
) -> list[KeyedValueError]:
    """Column names and headers unique; merge key columns exist, are required and are
    tokenised or kept; the consent column is a non-PII string column. Every problem."""
    problems: list[KeyedValueError] = []
    indexed = [(i, c) for i, c in enumerate(columns) if c is not None]
    names = [c.name for _, c in indexed]
    for label in ("name", "source"):
        seen: dict[str, int] = {}
        for index, facts in indexed:
            value = facts.name if label == "name" else facts.header
            if value not in seen:
                seen[value] = index
                continue
            problems.append(
                KeyedValueError(
                    f"duplicate column {label} '{value}' (columns {seen[value] + 1} and "
                    f"{index + 1})",
                    key=("columns", index, label),
                    expected=f"unique column {label}s",
                    found=repr(value),
                )
            )
    by_name = {c.name: c for _, c in indexed}
    complete = len(indexed) == len(columns)  # else a key may name a malformed column
    if consent_column is not None:
        consent = by_name.get(consent_column)
        unsuitable = consent is not None and (
            consent.type not in ("string", "code", None) or bool(consent.pii) or consent.free_text
        )
        if unsuitable or (consent is None and complete):
            problems.append(
                KeyedValueError(
                    f"consent column '{consent_column}' must be a non-PII string column",
                    key=("consent", "column"),
                    expected=f"a string or code column without pii, one of {', '.join(names)}",
                    found=repr(consent_column),
                )
            )
    for i, key in enumerate(merge_key):
        column = by_name.get(key)
        if column is None:
            if complete:
                problems.append(
                    KeyedValueError(
                        f"merge_key column '{key}' is not among the columns",
                        key=("merge_key", i),
                        expected=f"one of {', '.join(names)}",
                        found=repr(key),
                    )
                )
            continue
        if column.required is False:
            problems.append(
                KeyedValueError(
                    f"merge_key column '{key}' must be required (set required: true on it)",
                    key=("merge_key", i),
                    expected="a required column",
                    found="required: false",
                )
            )
        if column.pii_valid and column.pii not in (None, "token", "keep"):
            problems.append(
                KeyedValueError(
                    f"merge_key column '{key}' has pii '{column.pii}'; use token (or keep)",
                    key=("merge_key", i),
                    expected="pii: token or keep",
                    found=f"pii: {column.pii}",
                )
            )
    return problems


class ClientConfig(_Frozen):
    """One client's files, as declared in ``clients/<client_id>.yaml``."""

    client_id: str
    dataset: str = Field(description="Target table name under bronze/, quarantine/, silver/.")
    description: str = ""
    phone_region: str = Field("US", min_length=2, max_length=2, description="ISO 3166 region.")
    file: FileFormat = FileFormat()
    columns: tuple[ColumnSpec, ...] = Field(min_length=1)
    merge_key: OneOrMany = Field(min_length=1)
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
    schema_evolution: SchemaEvolution = Field(
        SchemaEvolution(),
        description="What a header the config does not declare does (README, 'Schema "
        "evolution'); approved columns come from clients/<client_id>.approved.yaml.",
    )
    drift: DriftSettings | None = Field(
        None, description="Data-quality drift checks against the client's own history."
    )
    measurements: MeasurementSettings | None = Field(
        None,
        description="A readings dataset: per-type units, ranges and outlier flags "
        "(README, 'Datasets').",
    )
    default_dataset: str | None = Field(
        None,
        description="Set by the loader in the datasets form: the client's dataset whose files "
        "keep the bare {client_id}_{date} name. None: this is that dataset.",
        exclude=True,
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
        check_sources(self.file, self.columns)
        facts = [_ColumnFacts(c.name, c.header, c.required, c.pii, c.type) for c in self.columns]
        consent = self.consent.column if self.consent is not None else None
        problems = _cross_field_problems(facts, self.merge_key, consent)
        if problems:
            raise KeyedValueErrors(problems)
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

    @model_validator(mode="after")
    def _measurement_columns(self) -> ClientConfig:
        if self.measurements is not None:
            error = self.measurements.unknown_column([c.name for c in self.columns])
            if error is not None:
                raise KeyedValueError(
                    str(error),
                    key=("measurements", *error.key),
                    expected=error.expected,
                    found=error.found,
                )
        return self

    @property
    def feed(self) -> str:
        """This dataset's landing prefix and its key among the loaded configs: the client id
        for the client's default dataset (``acme_2026-01-05.csv``), else
        ``<client_id>_<dataset>`` (``acme_readings_2026-01-05.jsonl``). Client ids cannot
        contain ``_``, so no feed key is another client's id."""
        if self.default_dataset is None or self.default_dataset == self.dataset:
            return self.client_id
        return f"{self.client_id}_{self.dataset}"

    @classmethod
    def raw_cross_field_problems(cls, data: Mapping[str, Any]) -> list[KeyedValueError]:
        """The cross-field rules, checked on raw YAML data as far as it is well-formed (a
        model validator runs only when every field is valid; an operator wants these
        problems in the same pass as the others)."""
        raw_columns = data.get("columns")
        if not isinstance(raw_columns, list):
            return []
        facts: list[_ColumnFacts | None] = [_raw_facts(c) for c in raw_columns]
        merge_key = one_or_many(data.get("merge_key"))
        keys = merge_key if isinstance(merge_key, tuple | list) else ()
        consent = data.get("consent")
        column = consent.get("column") if isinstance(consent, Mapping) else None
        return _cross_field_problems(
            facts,
            tuple(k for k in keys if isinstance(k, str)),
            column if isinstance(column, str) else None,
        )

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
    gold: GoldSettings = GoldSettings()  # aggregates kept current by `lakehouse gold`

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
            raise KeyedValueError(
                "archive_dir must not be inside landing_dir (the landing stream would read "
                "archived files again)",
                key=("archive_dir",),
                expected=f"a directory outside {self.landing_dir}",
                found=str(self.archive_dir or "<lake_root>/_archive"),
            )
        return self

    def table_path(self, zone: Literal["bronze", "quarantine", "silver"], dataset: str) -> Path:
        return self.lake_root / zone / dataset

    def gold_path(self, table: str) -> Path:
        return self.lake_root / "gold" / table

    @property
    def audit_path(self) -> Path:
        return self.lake_root / "audit" / "files"

    @property
    def lock_dir(self) -> Path:
        return self.lake_root / "_locks"

    @property
    def staging_dir(self) -> Path:
        return self.lake_root / "_staging"
