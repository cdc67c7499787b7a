"""``lakehouse schema diff``: what a client's landing and HELD files propose against its
declared (registry-approved) schema. Headers and counts only, never a value.

For each file: its header and a sample of its records, read with the client's CSV options.
- ``added``: a header the config does not declare, with the type its sampled values fit and
  the canonical name ``schema approve`` would give it. Named only when every configured
  header is present (then the first line is a header line, not data: ``check_header``'s rule).
- ``removed``: a configured header the file lacks; ``renamed``: the same, when an undeclared
  header sits where it used to be (or is very similar): the undeclared name is not shown
  (with a configured header missing, the first line may be a data row).
- ``type_change``: a declared integer/number/date column whose sampled values no longer fit
  the declared type but all fit a wider one (e.g. integers that became decimals).
- ``config_only`` / ``registry_only``: the declared columns and the registry's latest
  version disagree (a column added by hand, or an overlay that was lost).
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lakehouse.archive import archive_target
from lakehouse.audit import Status, latest_outcomes
from lakehouse.config.models import ClientConfig, ColumnSpec, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LandingFileError
from lakehouse.evolution.plan import pending_name
from lakehouse.evolution.registry import registry_entries
from lakehouse.landing.filenames import parse_file_name
from lakehouse.safe_files import is_regular

__all__ = ["Proposal", "diff_client", "infer_type", "proposals_for_file", "source_files"]

Kind = Literal["added", "removed", "renamed", "type_change", "config_only", "registry_only"]
# What lakehouse.transform.numeric accepts (plain or comma-grouped digits, a trailing .0).
_DIGITS = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"
_INTEGER = re.compile(rf"^[+-]?{_DIGITS}(?:\.0*)?$")
_NUMBER = re.compile(rf"^[+-]?(?:{_DIGITS}(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{{1,4}})?$")
_DATES = (re.compile(r"^\d{4}-\d{1,2}-\d{1,2}$"), re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$"))
_SPARK_TOKENS = {"yyyy": r"\d{4}", "MM": r"\d{2}", "M": r"\d{1,2}", "dd": r"\d{2}", "d": r"\d{1,2}"}
_RENAMED_SIMILARITY = 0.75
_KEPT = (Status.HELD, Status.SUCCESS)  # archived files whose columns may still be proposals


@dataclass
class Proposal:
    """One proposed change, summed over the files that propose it."""

    kind: Kind
    column: str  # configured name; for ``added`` the name an approval would give it
    header: str | None  # the file's header (None when it must not be named)
    declared_type: str | None = None
    inferred_type: str | None = None
    files: list[str] = field(default_factory=list)
    sampled_rows: int = 0
    misfits: int = 0  # sampled values that do not fit the declared type (type_change)
    detail: str = ""

    def as_row(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "column": self.column,
            "header": self.header,
            "declared_type": self.declared_type,
            "inferred_type": self.inferred_type,
            "files": len(self.files),
            "sampled_rows": self.sampled_rows,
            "detail": self.detail,
        }


def _date_pattern(spark_format: str) -> re.Pattern[str]:
    parts = re.split(r"(yyyy|MM|M|dd|d)", spark_format)
    return re.compile("^" + "".join(_SPARK_TOKENS.get(p, re.escape(p)) for p in parts) + "$")


def _fits(value: str, kind: str, date_patterns: Sequence[re.Pattern[str]] = _DATES) -> bool:
    if kind == "integer":
        return bool(_INTEGER.match(value))
    if kind == "number":
        return bool(_NUMBER.match(value))
    if kind == "date":
        return any(p.match(value) for p in date_patterns)
    return True


def infer_type(values: Iterable[str]) -> str | None:
    """The narrowest of integer, number, date, string that every non-blank value fits
    (None: no non-blank value was sampled)."""
    present = [v.strip() for v in values if v and v.strip()]
    if not present:
        return None
    for kind in ("integer", "number", "date"):
        if all(_fits(v, kind) for v in present):
            return kind
    return "string"


def _wider(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    if a == b:
        return a
    if {a, b} == {"integer", "number"}:
        return "number"
    return "string"


def _records(path: Path, client: ClientConfig, limit: int) -> Iterator[list[str]]:
    """The file's header, then up to ``limit`` records (the client's CSV dialect)."""
    fmt = client.file
    encoding = "utf-8-sig" if fmt.encoding.lower().replace("_", "-") == "utf-8" else fmt.encoding
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        reader = csv.reader(
            handle,
            delimiter=fmt.delimiter,
            quotechar=fmt.quote,
            doublequote=fmt.escape == fmt.quote,
            escapechar=None if fmt.escape == fmt.quote else fmt.escape,
        )
        try:
            for number, record in enumerate(reader):
                if number > limit:
                    return
                yield record
        except csv.Error:
            return  # a broken record ends the sample; the ingest audits the file itself


def proposals_for_file(
    path: Path, client: ClientConfig, *, sample_rows: int = 200
) -> list[Proposal]:
    """What one file proposes (``files`` holds its name)."""
    records = _records(path, client, sample_rows)
    header = [h.strip() for h in next(records, [])]
    if not any(header):
        return []  # an empty file proposes nothing (the ingest rejects it: empty_file)
    rows = list(records)
    name = path.name
    configured = {c.header: c for c in client.columns}
    position = {h: i for i, h in enumerate(header)}
    missing = [c for c in client.columns if c.header not in position]
    unknown = [(i, h) for i, h in enumerate(header) if h and h not in configured]

    def column_values(index: int) -> list[str]:
        return [r[index] for r in rows if index < len(r) and len(r) == len(header)]

    found: list[Proposal] = []
    if missing:
        unclaimed = dict(unknown)
        for spec in missing:
            at = client.columns.index(spec)
            best = max(
                (
                    (difflib.SequenceMatcher(None, spec.header.lower(), h.lower()).ratio(), i)
                    for i, h in unclaimed.items()
                ),
                default=(0.0, -1),
            )
            same_place = at in unclaimed
            if same_place or best[0] >= _RENAMED_SIMILARITY:
                index = at if same_place else best[1]
                score = difflib.SequenceMatcher(
                    None, spec.header.lower(), unclaimed.pop(index).lower()
                ).ratio()
                found.append(
                    Proposal(
                        "renamed",
                        spec.name,
                        spec.header,
                        declared_type=spec.type,
                        inferred_type=infer_type(column_values(index)),
                        files=[name],
                        sampled_rows=len(rows),
                        detail=f"an undeclared header at position {index + 1} "
                        f"(similarity {score:.2f}) where {spec.header} was expected",
                    )
                )
            else:
                found.append(
                    Proposal(
                        "removed",
                        spec.name,
                        spec.header,
                        declared_type=spec.type,
                        files=[name],
                        sampled_rows=len(rows),
                        detail="configured header not in the file",
                    )
                )
        if unclaimed:
            found.append(
                Proposal(
                    "added",
                    f"({len(unclaimed)} unnamed)",
                    None,
                    files=[name],
                    sampled_rows=len(rows),
                    detail="undeclared header(s), not named: with configured headers missing "
                    "the first line may be a data row",
                )
            )
    else:
        taken = [c.name for c in client.columns]
        for index, header_name in unknown:
            proposed = pending_name(header_name, taken)
            taken.append(proposed)
            found.append(
                Proposal(
                    "added",
                    proposed,
                    header_name,
                    inferred_type=infer_type(column_values(index)) or "string",
                    files=[name],
                    sampled_rows=len(rows),
                    detail=f"mode {client.schema_evolution.mode_for(header_name)}",
                )
            )
    for spec in client.columns:
        if spec.header in position and spec.type in ("integer", "number", "date"):
            found.extend(_type_change(spec, column_values(position[spec.header]), name))
    return found


def _type_change(spec: ColumnSpec, values: list[str], file_name: str) -> list[Proposal]:
    present = [v.strip() for v in values if v and v.strip()]
    patterns = [_date_pattern(f) for f in spec.formats] or list(_DATES)
    misfits = [v for v in present if not _fits(v, spec.type, patterns)]
    if not misfits:
        return []
    inferred = infer_type(misfits) or "string"
    wider = _wider(spec.type, inferred)
    if wider == spec.type or not all(_fits(v, wider or "string") for v in present):
        return []
    return [
        Proposal(
            "type_change",
            spec.name,
            spec.header,
            declared_type=spec.type,
            inferred_type=wider,
            files=[file_name],
            sampled_rows=len(values),
            misfits=len(misfits),
        )
    ]


def source_files(
    settings: Settings, client: ClientConfig, engine: TableEngine, *, max_files: int = 100
) -> list[Path]:
    """The client's landing files and its HELD files (in landing or the archive, where
    ``lakehouse release`` finds them), newest first, at most ``max_files``; no links.

    Archived SUCCESS files count too: with ``archive_mode: move`` a file ingested under
    ``addNewColumns`` leaves landing, and its pending columns must still be approvable.
    """
    found: dict[str, Path] = {}
    clients = {client.client_id: client}
    if settings.landing_dir.is_dir():
        for path in settings.landing_dir.iterdir():
            try:
                parse_file_name(path.name, clients)
            except LandingFileError:
                continue
            if is_regular(path):
                found[path.name] = path
    for name, row in latest_outcomes(engine, settings.audit_path).items():
        if row["client_id"] != client.client_id or row["status"] not in _KEPT:
            continue
        try:
            parse_file_name(name, clients)  # another dataset's file is not this one's
        except LandingFileError:
            continue
        archived = archive_target(settings, client.client_id, name, Status(row["status"]))
        if name not in found and is_regular(archived):
            found[name] = archived
    newest = sorted(found.values(), key=lambda p: p.stat().st_mtime, reverse=True)
    return newest[:max_files]


def diff_client(
    settings: Settings,
    client: ClientConfig,
    engine: TableEngine,
    *,
    sample_rows: int = 200,
    max_files: int = 100,
) -> tuple[list[Proposal], int]:
    """Proposals of the client's files (summed per change) and the number of files read.

    Only CSV files are read for proposals (JSON-lines and XML records have no header line;
    their undeclared fields are counted by the reader): for other formats only the registry
    drift is reported.
    """
    if client.file.format != "csv":
        return _registry_drift(settings, client, engine), 0
    files = source_files(settings, client, engine, max_files=max_files)
    merged: dict[tuple[str, str, str | None], Proposal] = {}
    for path in files:
        for proposal in proposals_for_file(path, client, sample_rows=sample_rows):
            key = (proposal.kind, proposal.column, proposal.header)
            if key not in merged:
                merged[key] = proposal
                continue
            total = merged[key]
            total.files += proposal.files
            total.sampled_rows += proposal.sampled_rows
            total.misfits += proposal.misfits
            total.inferred_type = _wider(total.inferred_type, proposal.inferred_type)
    for proposal in merged.values():
        if proposal.kind == "type_change":
            proposal.detail = (
                f"{proposal.misfits} of {proposal.sampled_rows} sampled values do not fit "
                f"{proposal.declared_type}; all fit {proposal.inferred_type}"
            )
    found = list(merged.values()) + _registry_drift(settings, client, engine)
    order = {k: i for i, k in enumerate(Kind.__args__)}  # type: ignore[attr-defined]
    return sorted(found, key=lambda p: (order[p.kind], p.column)), len(files)


def _registry_drift(
    settings: Settings, client: ClientConfig, engine: TableEngine
) -> list[Proposal]:
    entries = registry_entries(engine, settings.lake_root, client.client_id)
    if not entries:
        return []
    latest = entries[-1]
    accepted = {str(c["name"]) for c in latest.columns}
    declared = {c.name for c in client.columns}
    return [
        Proposal(
            "config_only",
            name,
            client.column(name).header,
            detail=f"declared but not in registry version {latest.version} (added by hand?)",
        )
        for name in sorted(declared - accepted)
    ] + [
        Proposal(
            "registry_only",
            name,
            None,
            detail=f"in registry version {latest.version} but not declared: restore "
            f"clients/{client.client_id}.approved.yaml from git",
        )
        for name in sorted(accepted - declared)
    ]
