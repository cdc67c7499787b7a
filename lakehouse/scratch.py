"""Private Spark scratch space: one 0700 folder per run, removed when its run is gone.

Spark's local dir holds shuffle files, spills and DISK_ONLY cache blocks of the landing
file being ingested: plaintext names, birth dates and e-mails before any PII policy ran (also
encrypted by ``spark.io.encryption.enabled``, see ``lakehouse.spark``). Each run gets its own
folder below ``settings.scratch_root``, mode 0700, with an ``flock``-held owner file; at
start, a run removes the folders whose owner lock is free (their run died: the kernel
releases ``flock`` locks of dead processes, so a reused pid cannot keep a folder alive).
"""

from __future__ import annotations

import atexit
import fcntl
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from lakehouse.errors import LakehouseError

__all__ = ["OWNER_FILE", "ScratchError", "prepare_scratch", "remove_stale_scratch"]

log = logging.getLogger(__name__)

OWNER_FILE = ".owner.lock"
_PREFIX = "run-"
# A folder without an owner file yet may be a run between mkdtemp and its lock.
_GRACE_SECONDS = 600
# Owner-file descriptors of this process's scratch folders: held (locked) until exit.
_HELD: dict[Path, int] = {}


class ScratchError(LakehouseError):
    """The scratch root is unsafe (a link, not a folder, or owned by another user)."""


def _private_root(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = os.lstat(root)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ScratchError(
            f"scratch folder {root} is a symbolic link or not a folder",
            fix="point scratch_dir (LAKEHOUSE_SCRATCH_DIR) at a real local folder",
        )
    if info.st_uid != os.geteuid():
        raise ScratchError(
            f"scratch folder {root} belongs to uid {info.st_uid}, not to this user",
            fix="give each service user its own scratch_dir (LAKEHOUSE_SCRATCH_DIR)",
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        root.chmod(0o700)


def remove_stale_scratch(root: Path) -> list[Path]:
    """Remove the scratch folders under ``root`` whose run is no longer alive; the removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for entry in sorted(root.iterdir()):
        if not entry.name.startswith(_PREFIX) or entry in _HELD:
            continue
        info = os.lstat(entry)
        if not stat.S_ISDIR(info.st_mode):
            continue  # a link or a file: never followed, never ours
        if _dead(entry, info):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    if removed:
        log.info("removed scratch folders of runs that died", extra={"folders": len(removed)})
    return removed


def _dead(folder: Path, info: os.stat_result) -> bool:
    try:
        fd = os.open(folder / OWNER_FILE, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        return time.time() - info.st_mtime > _GRACE_SECONDS
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its run holds the lock: alive
    finally:
        os.close(fd)  # closing releases a lock taken here
    return True


def prepare_scratch(root: Path, *, run_label: str = "") -> Path:
    """A new private scratch folder for this process (stale ones removed first).

    The folder is removed when the process exits normally; if it is killed, the next run's
    ``prepare_scratch`` removes it.

    Raises:
        ScratchError: ``root`` is a link, not a folder, or another user's.
    """
    _private_root(root)
    remove_stale_scratch(root)
    folder = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=root))  # 0700
    fd = os.open(
        folder / OWNER_FILE,
        os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
    )
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, json.dumps({"pid": os.getpid(), "run": run_label}).encode())
    _HELD[folder] = fd
    atexit.register(_release, folder)
    return folder


def _release(folder: Path) -> None:
    fd = _HELD.pop(folder, None)
    shutil.rmtree(folder, ignore_errors=True)
    if fd is not None:
        os.close(fd)
