"""The ``LakehouseError`` family: every failure names where it happened and what to do next.

Messages never carry raw data values: they name clients, files, keys and columns only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lakehouse.audit import AuditRecord

__all__ = [
    "ConfigError",
    "ConservationError",
    "DecryptionError",
    "EngineError",
    "KeyMissingError",
    "LakehouseError",
    "LandingFileError",
    "LockBusyError",
    "PrivacyBudgetExceeded",
    "PrivacyError",
    "PrivacyRefused",
    "RunFailed",
    "SchemaChangeRefused",
    "StageError",
]


class LakehouseError(Exception):
    """Base of every error raised on purpose by lakehouse."""

    def __init__(
        self,
        message: str,
        *,
        client: str | None = None,
        file: str | None = None,
        step: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.client = client
        self.file = file
        self.step = step
        self.fix = fix
        parts = [message]
        context = ", ".join(
            f"{name}={value}"
            for name, value in (("client", client), ("file", file), ("step", step))
            if value
        )
        if context:
            parts.append(f"({context})")
        if fix:
            parts.append(f"Fix: {fix}")
        super().__init__(" ".join(parts))
        self.message = message


class ConfigError(LakehouseError):
    """A configuration file is missing, unreadable or invalid."""

    def __init__(
        self,
        message: str,
        *,
        path: str,
        key: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = path
        self.key = key
        self.expected = expected
        self.found = found
        self.problem = message  # the problem alone, without file, key, expected and found
        detail = f"{path}"
        if key:
            detail += f": key '{key}'"
        detail += f": {message}"
        if expected is not None:
            detail += f"; expected {expected}"
        if found is not None:
            detail += f", found {found}"
        super().__init__(detail, fix=fix)


class KeyMissingError(LakehouseError):
    """A secret needed to protect PII is missing or too weak."""


class LandingFileError(LakehouseError):
    """A landing file cannot be ingested (name, header, encoding); it is audited, not raised."""

    def __init__(self, message: str, *, reason: str, client: str | None, file: str) -> None:
        self.reason = reason
        super().__init__(message, client=client, file=file)


class EngineError(LakehouseError):
    """A table operation failed in the storage engine."""


class StageError(LakehouseError):
    """A pipeline stage failed for one file; keeps the original exception as ``__cause__``."""


class DecryptionError(LakehouseError):
    """A stored value cannot be decrypted: wrong column, tampered, or not an encrypted value."""


class LockBusyError(LakehouseError):
    """Another run holds the client's lock."""


class ConservationError(LakehouseError):
    """A file's audit counts do not add up: a bug, never bad data. Nothing is audited."""


class RunFailed(LakehouseError):
    """Some files failed; their audit rows say why. They are retried on the next run."""

    def __init__(self, records: Sequence[AuditRecord]) -> None:
        self.records = list(records)
        names = ", ".join(r.file_name for r in records)
        super().__init__(
            f"{len(records)} file(s) failed: {names}",
            step="ingest",
            fix="read the error column of `lake/audit/files` for these files, fix the cause "
            "and rerun; processed files are not reprocessed",
        )


class PrivacyError(LakehouseError):
    """An export profile cannot be applied as configured (``conf/exports.yaml``)."""

    def __init__(
        self,
        message: str,
        *,
        profile: str,
        column: str | None = None,
        client: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.profile = profile
        self.column = column
        where = f"profile '{profile}'" + (f", column '{column}'" if column else "")
        super().__init__(f"{where}: {message}", client=client, step="export", fix=fix)


class PrivacyRefused(PrivacyError):
    """The k-anonymity (and l-diversity) target cannot be met within the suppression limit;
    ``column`` is the quasi-identifier that blocks it most. Nothing was written."""


class PrivacyBudgetExceeded(PrivacyError):
    """A differentially private query would exceed its consumer's epsilon budget; nothing
    was computed or spent."""


class SchemaChangeRefused(LakehouseError):
    """A schema change that silver cannot take in place (a removed column, a narrowed or
    re-typed column, a changed PII policy); ``fix`` names the manual path."""
