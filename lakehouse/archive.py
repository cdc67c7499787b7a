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

import logging
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lakehouse.audit import AuditRecord, Status, latest_outcomes
from lakehouse.config.models import Settings
from lakehouse.engine.base import TableEngine
from lakehouse.landing.checksum import sha256_file

__all__ = [
    "REJECTED_AREA",
    "ArchivedFile",
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


@dataclass(frozen=True)
class ArchivedFile:
    source: Path
    target: Path
    moved: bool
    already_archived: bool  # identical bytes were there already


def archive_target(settings: Settings, client_id: str | None, name: str, status: Status) -> Path:
    """Where a landing file with this outcome is kept."""
    root = settings.archive_root
    if status == Status.REJECTED:
        return root / REJECTED_AREA / (client_id or _UNROUTED) / name
    if client_id is None:
        raise ValueError(f"a {status} file needs a client id")
    return root / client_id / name


def archive_file(source: Path, target: Path, *, move: bool) -> ArchivedFile:
    """Copy (or move) ``source`` to ``target`` keeping its bytes and modification time.

    An identical file already at ``target`` is kept; a different one is never overwritten:
    the new file goes to ``conflicts/<sha256[:12]>/`` beside it. The target appears
    atomically (temporary name, then rename), so a crash leaves the file in landing at worst.
    """
    digest = sha256_file(source)
    while target.exists():
        if sha256_file(target) == digest:
            if move:
                source.unlink()
            return ArchivedFile(source, target, moved=move, already_archived=True)
        target = target.parent / "conflicts" / digest[:12] / target.name
        log.warning(
            "archive already holds other bytes under this name; keeping both",
            extra={"file": source.name, "target": str(target)},
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    shutil.copy2(source, partial)
    partial.replace(target)
    if move:
        source.unlink()
    return ArchivedFile(source, target, moved=move, already_archived=False)


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
        if not source.is_file():
            continue  # already moved (a replayed batch) or removed by the sender
        target = archive_target(settings, record.client_id, record.file_name, record.status)
        try:
            done.append(archive_file(source, target, move=settings.archive_mode == "move"))
        except OSError as exc:
            log.error(
                "file not archived; run `lakehouse archive` once the cause is fixed",
                extra={"file": record.file_name, "error": exc.strerror or type(exc).__name__},
            )
    return done


def archived_client_files(settings: Settings, client_id: str) -> list[Path]:
    """The client's archived files (top level only: not conflicts, not rejected)."""
    folder = settings.archive_root / client_id
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not _hidden(p.name))


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def landing_files(settings: Settings) -> Iterable[Path]:
    """Files in landing that Spark would list (hidden and partial files excluded)."""
    if not settings.landing_dir.is_dir():
        return []
    return sorted(p for p in settings.landing_dir.iterdir() if p.is_file() and not _hidden(p.name))


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
        if status != Status.REJECTED and sha and sha256_file(path) != sha:
            note = "same name, other bytes than the processed file: re-send it under a new _N"
            items.append(SweepItem(path.name, status, "skipped", note))
            continue
        target = archive_target(settings, client_id, path.name, Status(status))
        kept = target.is_file() and sha256_file(target) == sha256_file(path)
        if kept and settings.archive_mode == "copy":
            items.append(SweepItem(path.name, status, "already_archived", target=target))
        elif dry_run:
            items.append(SweepItem(path.name, status, "would_archive", target=target))
        else:
            done = archive_file(path, target, move=settings.archive_mode == "move")
            action = "already_archived" if done.already_archived else "archived"
            items.append(SweepItem(path.name, status, action, target=done.target))
    return items
