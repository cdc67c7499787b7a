"""Audit records: the conservation check, the Arrow row shape, and errors fit to be stored."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.audit import (
    AUDIT_SCHEMA,
    AuditRecord,
    Status,
    append_audit,
    ingested_files,
    safe_error,
)
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.errors import ConfigError, LandingFileError, StageError

STARTED = dt.datetime(2026, 1, 15, 8, 30, 0, 123456, tzinfo=dt.UTC)
FINISHED = dt.datetime(2026, 1, 15, 8, 31, 5, tzinfo=dt.UTC)


def _record(**fields: object) -> AuditRecord:
    base: dict[str, object] = {
        "client_id": "acme",
        "file_name": "acme_2026-01-15.csv",
        "run_id": "run-1",
        "engine": "delta-rs",
        "started_at": STARTED,
    }
    return AuditRecord(**{**base, **fields})  # type: ignore[arg-type]


def _counts(
    read: int | None,
    valid: int | None,
    quarantined: int | None,
    merged: tuple[int | None, int | None, int | None, int | None] = (None, None, None, None),
) -> AuditRecord:
    inserted, updated, unchanged, stale = merged
    return _record(
        rows_read=read,
        rows_valid=valid,
        rows_quarantined=quarantined,
        rows_inserted=inserted,
        rows_updated=updated,
        rows_unchanged=unchanged,
        rows_stale=stale,
    )


# --- conservation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        _counts(None, None, None),  # rejected or duplicate: nothing read
        _counts(None, 3, 1, (1, 1, 1, 1)),  # nothing read: counts are not checked
        _counts(10, 8, 2),  # read and validated, merge not (yet) done
        _counts(10, 8, 2, (3, 2, 2, 1)),
        _counts(10, 8, 2, (8, 0, 0, 0)),
        _counts(10, 0, 10, (0, 0, 0, 0)),  # everything quarantined
        _counts(0, 0, 0, (0, 0, 0, 0)),  # header-only file
        _counts(5, 5, 0, (0, 0, 0, 5)),  # a late file: every row stale
    ],
    ids=[
        "not-read",
        "not-read-with-counts",
        "validated-only",
        "mixed-merge",
        "all-inserted",
        "all-quarantined",
        "empty-file",
        "all-stale",
    ],
)
def test_conserved(record: AuditRecord) -> None:
    assert record.conserved() is True


@pytest.mark.parametrize(
    "record",
    [
        _counts(10, 8, 1),  # a row lost between reading and validation
        _counts(10, 8, 3),  # a row counted twice
        _counts(10, None, None),
        _counts(10, 10, None),
        _counts(10, None, 0),
        _counts(10, 8, 2, (3, 2, 2, 0)),  # a valid row lost in the merge
        _counts(10, 8, 2, (3, 2, 2, 2)),  # the merge reports more rows than it was given
    ],
    ids=[
        "split-short",
        "split-long",
        "not-validated",
        "no-quarantine-count",
        "no-valid-count",
        "merge-short",
        "merge-long",
    ],
)
def test_not_conserved(record: AuditRecord) -> None:
    assert record.conserved() is False


# --- the audit row ------------------------------------------------------------------------


def _full_record() -> AuditRecord:
    return _record(
        status=Status.SUCCESS,
        file_sha256="ab" * 32,
        file_size=1234,
        creation_date=dt.date(2026, 1, 15),
        sequence=2,
        rows_read=10,
        rows_valid=8,
        rows_quarantined=2,
        rows_inserted=3,
        rows_updated=2,
        rows_unchanged=2,
        rows_stale=1,
        silver_version=7,
        finished_at=FINISHED,
        stage_seconds={"validate": 0.5, "read": 1.25},
    )


def test_as_row_has_exactly_the_schema_fields() -> None:
    row = _full_record().as_row()
    # from_pylist silently drops unknown keys and fills missing ones: compare names first.
    assert sorted(row) == sorted(AUDIT_SCHEMA.names)
    assert {f.name for f in dataclasses.fields(AuditRecord)} == set(AUDIT_SCHEMA.names)


def test_as_row_builds_an_arrow_table_of_the_schema() -> None:
    record = _full_record()
    table = pa.Table.from_pylist([record.as_row()], schema=AUDIT_SCHEMA)
    assert table.schema == AUDIT_SCHEMA
    [row] = table.to_pylist()
    expected = {
        "client_id": "acme",
        "file_name": "acme_2026-01-15.csv",
        "file_sha256": "ab" * 32,
        "file_size": 1234,
        "creation_date": dt.date(2026, 1, 15),
        "sequence": 2,
        "status": "SUCCESS",
        "reason": None,
        "rows_read": 10,
        "rows_valid": 8,
        "rows_quarantined": 2,
        "rows_inserted": 3,
        "rows_updated": 2,
        "rows_unchanged": 2,
        "rows_stale": 1,
        "silver_version": 7,
        "run_id": "run-1",
        "engine": "delta-rs",
        "started_at": STARTED,
        "finished_at": FINISHED,
        "stage_seconds": '{"read": 1.25, "validate": 0.5}',
        "error": None,
    }
    assert {name: row[name] for name in expected} == expected
    # Columns this record does not set (added by later features) are NULL.
    assert all(row[name] is None for name in row if name not in expected)
    assert json.loads(row["stage_seconds"]) == record.stage_seconds


def test_as_row_of_a_minimal_record() -> None:
    record = AuditRecord(
        client_id=None, file_name="README.txt", run_id="r", engine="delta-rs", started_at=STARTED
    )
    row = record.as_row()
    assert row["status"] == "FAILED"  # a record that never reached an outcome is a failure
    assert row["stage_seconds"] == "{}"
    table = pa.Table.from_pylist([row], schema=AUDIT_SCHEMA)
    assert table.column("client_id").to_pylist() == [None]
    assert table.column("rows_read").null_count == 1


@pytest.mark.parametrize("status", list(Status))
def test_status_is_stored_as_its_name(status: Status) -> None:
    assert _record(status=status).as_row()["status"] == status.name
    assert isinstance(_record(status=status).as_row()["status"], str)


def test_as_row_does_not_share_state_with_the_record() -> None:
    record = _full_record()
    row = record.as_row()
    record.stage_seconds["merge"] = 2.0
    assert "merge" not in str(row["stage_seconds"])


# --- safe_error ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        StageError("merge failed", client="acme", file="acme_2026-01-15.csv", step="silver"),
        ConfigError("bad", path="clients/acme.yaml", key="client_id", found="'acme_x'"),
        LandingFileError("misnamed", reason="misnamed_file", client=None, file="x 'y'.csv"),
    ],
    ids=["stage", "config", "landing"],
)
def test_safe_error_keeps_our_own_messages(exc: Exception) -> None:
    assert safe_error(exc) == str(exc)


def test_safe_error_keeps_context_of_our_own_messages() -> None:
    exc = StageError("merge failed", client="acme", file="f.csv", step="silver", fix="rerun")
    assert safe_error(exc) == "merge failed (client=acme, file=f.csv, step=silver) Fix: rerun"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError("bad value 'John Smith'"), "ValueError: bad value '<withheld>'"),
        (ValueError('bad value "John Smith"'), "ValueError: bad value '<withheld>'"),
        (KeyError("John Smith"), "KeyError: '<withheld>'"),
        (ValueError("no values here"), "ValueError: no values here"),
        (ValueError(), "ValueError: "),
        (OSError("first line\nsecond line 'John Smith'"), "OSError: first line"),
    ],
    ids=["single-quotes", "double-quotes", "key-error", "nothing-quoted", "empty", "first-line"],
)
def test_safe_error_withholds_quoted_values(exc: Exception, expected: str) -> None:
    assert safe_error(exc) == expected


def test_safe_error_names_the_jvm_causes_without_their_messages() -> None:
    trace = (
        "An error occurred while calling o1254.parquet.\n"
        ": org.apache.spark.SparkException: Job aborted due to stage failure: Lost task 0.0:"
        " org.apache.spark.memory.SparkOutOfMemoryError: [UNABLE_TO_ACQUIRE_MEMORY] Unable to"
        " acquire 65536 bytes of memory, got 0. SQLSTATE: 53200\n"
        "\tat org.apache.spark.errors.SparkCoreErrors$.outOfMemoryError(SparkCoreErrors.scala)\n"
        "\tat py4j.reflection.MethodInvoker.invoke(MethodInvoker.java:244)\n"
        "Caused by: org.apache.spark.SparkNumberFormatException: [CAST_INVALID_INPUT] The value"
        ' \'John Smith\' of the type "STRING" cannot be cast to "INT"\n'
    )
    text = safe_error(RuntimeError(trace))
    assert text == (
        "RuntimeError: An error occurred while calling o1254.parquet. (caused by "
        "org.apache.spark.memory.SparkOutOfMemoryError, [UNABLE_TO_ACQUIRE_MEMORY], "
        "org.apache.spark.SparkNumberFormatException, [CAST_INVALID_INPUT])"
    )
    assert "John" not in text and "SparkCoreErrors" not in text


@pytest.mark.parametrize(
    ("exc", "kept", "secrets"),
    [
        (
            RuntimeError("[CAST_INVALID_INPUT] The value '1990-13-45' of the type \"STRING\""),
            "RuntimeError: [CAST_INVALID_INPUT] The value '<withheld>'",
            ["1990-13-45"],
        ),
        (
            TypeError("names 'John' and 'Smith', phone \"555-0100\""),
            "TypeError: names '<withheld>'",
            ["John", "Smith", "555-0100"],
        ),
    ],
    ids=["spark-message", "several-values"],
)
def test_safe_error_withholds_every_quoted_value(
    exc: Exception, kept: str, secrets: list[str]
) -> None:
    text = safe_error(exc)
    assert text.startswith(kept)
    for secret in secrets:
        assert secret not in text


def test_safe_error_withholds_john_smith() -> None:
    text = safe_error(ValueError("bad value 'John Smith'"))
    assert "John" not in text and "Smith" not in text
    assert text.startswith("ValueError: ")


def test_safe_error_truncates_long_messages() -> None:
    text = safe_error(RuntimeError("x" * 2000))
    assert text == "RuntimeError: " + "x" * 500


@pytest.mark.parametrize(
    ("exc", "secret"),
    [
        (ValueError("bad value 'O'Brien'"), "Brien"),
        (ValueError('bad value "Dwayne "The Rock" Johnson"'), "Rock"),
        (ValueError("bad value 'John\nSmith'"), "John"),
    ],
    ids=["apostrophe", "nested-double-quotes", "quote-spans-lines"],
)
def test_safe_error_withholds_values_with_quotes_inside(exc: Exception, secret: str) -> None:
    assert secret not in safe_error(exc)


# --- the audit table ----------------------------------------------------------------------


def test_append_audit_and_ingested_files(tmp_path: Path) -> None:
    engine = DeltaRsEngine()
    path = tmp_path / "audit" / "files"
    assert ingested_files(engine, path) == {}
    append_audit(engine, path, [])
    assert not engine.exists(path)  # nothing to write, no empty commit

    ok = _full_record()
    duplicate = dataclasses.replace(
        _full_record(), status=Status.DUPLICATE, file_name="acme_2026-01-15_3.csv"
    )
    failed = dataclasses.replace(
        _full_record(), status=Status.FAILED, file_sha256="cd" * 32, file_name="b.csv"
    )
    rejected = _record(status=Status.REJECTED, reason="misnamed_file", file_name="x.csv")
    append_audit(engine, path, [ok, duplicate, failed, rejected])

    assert engine.version(path) == 0
    assert engine.read(path).num_rows == 4
    assert ingested_files(engine, path) == {"ab" * 32: "acme_2026-01-15.csv"}
