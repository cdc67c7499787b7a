"""Archive: processed landing files kept byte for byte, by client, never deleted.

Layout under ``settings.archive_root`` (default ``<lake_root>/_archive``)::

    <client_id>/<file name>                      SUCCESS and DUPLICATE files (backfill source)
    <client_id>/conflicts/<sha256[:12]>/<name>   same name as an archived file, other bytes
    _rejected/<client_id | _unrouted>/<name>     REJECTED files (misnamed, unknown client, ...)

``archive_mode: copy`` (default) leaves landing as it is; ``move`` empties landing after each
file's audit row is written. Moving is safe for the streaming source: it tracks paths, and a
replayed micro-batch whose files are gone lists only the files still there (verified).
FAILED files always stay in landing: the next run retries them. Client ids contain no ``_``,
so ``_rejected`` can never be a client's folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lakehouse.audit import AuditRecord, Status, latest_outcomes
from lakehouse.config.models import Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import LakehouseError
from lakehouse.safe_files import (
    NotRegularFileError,
    create_exclusive,
    ensure_directory,
    is_link,
    is_regular,
    open_regular,
    sha256_regular,
    temporary_name,
)

__all__ = [
    "LINKS_RECORD",
    "REJECTED_AREA",
    "ArchivedFile",
    "FileChangedError",
    "archive_file",
    "archive_outcomes",
    "archive_target",
    "archived_client_files",
    "landing_files",
    "sweep_landing",
]

log = logging.getLogger(__name__)

REJECTED_AREA = "_rejected"
_UNROUTED = "_unrouted"
# Symlinks found in landing are recorded here (one JSON line each), never copied.
LINKS_RECORD = "_symlinks.jsonl"
_CHUNK = 4 * 1024 * 1024


class FileChangedError(LakehouseError):
    """A landing file changed (size, modification time or bytes) while it was being archived."""


@dataclass(frozen=True)
class ArchivedFile:
    source: Path
    target: Path
    moved: bool
    already_archived: bool  # identical bytes were there already
    link: bool = False  # a symlink: recorded in ``_symlinks.jsonl``, its target never read


def archive_target(settings: Settings, client_id: str | None, name: str, status: Status) -> Path:
    """Where a landing file with this outcome is kept."""
    root = settings.archive_root
    if status == Status.REJECTED:
        return root / REJECTED_AREA / (client_id or _UNROUTED) / name
    if client_id is None:
        raise ValueError(f"a {status} file needs a client id")
    return root / client_id / name


def archive_file(
    source: Path,
    target: Path,
    *,
    move: bool,
    root: Path | None = None,
    expected_sha256: str | None = None,
) -> ArchivedFile:
    """Copy (or move) ``source`` to ``target`` keeping its bytes and modification time.

    An identical file already at ``target`` is kept; a different one (or a link planted
    there) is never overwritten or read: the new file goes to ``conflicts/<sha256[:12]>/``
    beside it. The target appears atomically (short temporary name, then rename), so a crash
    leaves the file in landing at worst. ``source`` is opened without following links and
    copied from that one descriptor; folders below ``root`` that are links are refused.
    With ``expected_sha256`` (the audited checksum), only those bytes are archived.

    Raises:
        NotRegularFileError: ``source`` is a symlink or not a regular file (see
            ``record_link``), or a folder on the way to ``target`` is a link.
        FileChangedError: ``source`` changed while it was read, or its bytes are not the
            ones the audit recorded (changed since it was ingested); it stays in landing.
    """
    fd = open_regular(source)
    with os.fdopen(fd, "rb") as handle:
        before = os.fstat(fd)
        digest = _digest(handle)
        if expected_sha256 and digest != expected_sha256:
            raise FileChangedError(
                "file's bytes are not the ones ingested (its checksum differs from the "
                "audit's); it was not archived and stays in landing",
                file=source.name,
                fix="re-send the new content under a new _N; keep the ingested bytes if the "
                "sender still has them",
            )
        while os.path.lexists(target):
            if is_regular(target) and sha256_regular(target) == digest:
                _check_unchanged(source, handle, before, digest)
                if move:
                    source.unlink()
                return ArchivedFile(source, target, moved=move, already_archived=True)
            target = target.parent / "conflicts" / digest[:12] / target.name
            log.warning(
                "archive already holds other bytes under this name; keeping both",
                extra={"file": source.name, "target": str(target)},
            )
        base = root if root is not None and target.is_relative_to(root) else target.parent
        ensure_directory(base, *target.parent.relative_to(base).parts)
        partial = temporary_name(target, "partial")
        try:
            with os.fdopen(create_exclusive(partial), "wb") as out:
                handle.seek(0)
                copied = hashlib.sha256()
                while chunk := handle.read(_CHUNK):
                    copied.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if copied.hexdigest() != digest:
                raise _changed(source)
            _check_unchanged(source, handle, before, digest, hashed=True)
            os.utime(partial, ns=(before.st_atime_ns, before.st_mtime_ns), follow_symlinks=False)
            partial.replace(target)
        finally:
            if os.path.lexists(partial):
                partial.unlink()
    if move:
        source.unlink()
    return ArchivedFile(source, target, moved=move, already_archived=False)


def _digest(handle: io.BufferedReader) -> str:
    handle.seek(0)
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _changed(source: Path) -> FileChangedError:
    return FileChangedError(
        "file changed while it was being archived; it stays in landing",
        file=source.name,
        fix="let the sender finish (write '.name.tmp', then rename), then run `lakehouse archive`",
    )


def _check_unchanged(
    source: Path,
    handle: io.BufferedReader,
    before: os.stat_result,
    digest: str,
    *,
    hashed: bool = False,
) -> None:
    """Size and mtime of the open file as at the start, and (unless just hashed) its bytes."""
    after = os.fstat(handle.fileno())
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise _changed(source)
    if not hashed and _digest(handle) != digest:
        raise _changed(source)


def record_link(source: Path, folder: Path, *, move: bool, root: Path) -> ArchivedFile:
    """Record a landing symlink (its name and where it points) without ever reading its target.

    One JSON line per link in ``<folder>/_symlinks.jsonl`` (written once per name and target);
    with ``move`` the link itself is removed from landing (its target is untouched).
    """
    pointed = str(source.readlink())
    ensure_directory(root, *folder.relative_to(root).parts)
    record = folder / LINKS_RECORD
    entry = {"name": source.name, "link_target": pointed}
    seen = False
    if os.path.lexists(record):
        with os.fdopen(open_regular(record), "r", encoding="utf-8") as handle:
            for line in handle:
                try:
                    known = json.loads(line)
                except ValueError:
                    continue
                seen = seen or (known.get("name"), known.get("link_target")) == (
                    entry["name"],
                    entry["link_target"],
                )
    if not seen:
        line = json.dumps({**entry, "recorded_at": dt.datetime.now(dt.UTC).isoformat()})
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
        with os.fdopen(os.open(record, flags, 0o600), "a", encoding="utf-8") as out:
            out.write(line + "\n")
    log.warning(
        "landing entry is a symbolic link: recorded, its target was not read",
        extra={"file": source.name, "record": str(record)},
    )
    if move:
        source.unlink()  # removes the link, not what it points to
    return ArchivedFile(source, record, moved=move, already_archived=seen, link=True)


def _archive_entry(
    settings: Settings, source: Path, target: Path, expected_sha256: str | None = None
) -> ArchivedFile:
    move = settings.archive_mode == "move"
    if is_link(source):
        return record_link(source, target.parent, move=move, root=settings.archive_root)
    return archive_file(
        source, target, move=move, root=settings.archive_root, expected_sha256=expected_sha256
    )


def archive_outcomes(settings: Settings, records: Sequence[AuditRecord]) -> list[ArchivedFile]:
    """Archive the landing files of audited records whose outcome is final (not FAILED).

    Called by the run right after the audit rows are written. An archiving error is logged,
    not raised: the file's outcome is already recorded, and ``lakehouse archive`` retries.
    """
    done: list[ArchivedFile] = []
    for record in records:
        if record.status == Status.FAILED:
            continue
        source = settings.landing_dir / record.file_name
        if not (is_regular(source) or is_link(source)):
            continue  # already moved (a replayed batch) or removed by the sender
        target = archive_target(settings, record.client_id, record.file_name, record.status)
        try:
            # A file ingested (or found duplicate) is archived only with the audited bytes:
            # the archive is the backfill source, it must hold what was ingested.
            expected = record.file_sha256 if record.status != Status.REJECTED else None
            done.append(_archive_entry(settings, source, target, expected))
        except (OSError, LakehouseError) as exc:
            error = exc.message if isinstance(exc, LakehouseError) else None
            log.error(
                "file not archived; run `lakehouse archive` once the cause is fixed",
                extra={
                    "file": record.file_name,
                    "error": error or getattr(exc, "strerror", None) or type(exc).__name__,
                },
            )
    return done


def archived_client_files(settings: Settings, client_id: str) -> list[Path]:
    """The client's archived files (top level only: not conflicts, not rejected)."""
    folder = settings.archive_root / client_id
    if is_link(folder) or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if is_regular(p) and not _hidden(p.name))


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def landing_files(settings: Settings) -> Iterable[Path]:
    """Regular files and symlinks in landing that Spark would list (hidden and partial files
    excluded); links are listed so they can be recorded, never followed."""
    if not settings.landing_dir.is_dir():
        return []
    return sorted(
        p
        for p in settings.landing_dir.iterdir()
        if (is_regular(p) or is_link(p)) and not _hidden(p.name)
    )


@dataclass(frozen=True)
class SweepItem:
    name: str
    status: str | None  # last audit status of a file of this name, None if never audited
    action: str  # archived | already_archived | skipped
    note: str = ""
    target: Path | None = None


def sweep_landing(settings: Settings, engine: TableEngine, *, dry_run: bool) -> list[SweepItem]:
    """Archive landing files whose last audit outcome is final; the others are left alone.

    For lakes that existed before archiving, or a file whose archiving failed. A file whose
    name was processed with other bytes is a re-send the streaming source ignores (it tracks
    paths): it is reported, not archived.
    """
    last = {
        name: (row["client_id"], row["status"], row["file_sha256"])
        for name, row in latest_outcomes(engine, settings.audit_path).items()
    }
    items: list[SweepItem] = []
    for path in landing_files(settings):
        outcome = last.get(path.name)
        if outcome is None or outcome[1] == Status.FAILED:
            note = "not processed yet" if outcome is None else "failed: retried by the next run"
            items.append(SweepItem(path.name, outcome and outcome[1], "skipped", note))
            continue
        client_id, status, sha = outcome
        target = archive_target(settings, client_id, path.name, Status(status))
        if is_link(path):
            note = "symbolic link: recorded, never copied"
            if dry_run:
                items.append(SweepItem(path.name, status, "would_record_link", note, target.parent))
                continue
            done = _archive_entry(settings, path, target)
            items.append(SweepItem(path.name, status, "recorded_link", note, done.target))
            continue
        try:
            current = sha256_regular(path)
        except NotRegularFileError:
            items.append(SweepItem(path.name, status, "skipped", "not a regular file"))
            continue
        if status != Status.REJECTED and sha and current != sha:
            note = "same name, other bytes than the processed file: re-send it under a new _N"
            items.append(SweepItem(path.name, status, "skipped", note))
            continue
        kept = is_regular(target) and sha256_regular(target) == current
        if kept and settings.archive_mode == "copy":
            items.append(SweepItem(path.name, status, "already_archived", target=target))
        elif dry_run:
            items.append(SweepItem(path.name, status, "would_archive", target=target))
        else:
            done = _archive_entry(settings, path, target)
            action = "already_archived" if done.already_archived else "archived"
            items.append(SweepItem(path.name, status, action, target=done.target))
    return items
