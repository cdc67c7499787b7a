"""File access that never follows a symbolic link (landing, archive, raw-file erasure, keys).

A link in landing or the archive could point anywhere (``/etc/shadow``, another client's
file, a secret): reading or copying through it would pull the target into the lake. Every
open here uses ``O_NOFOLLOW`` and checks the opened descriptor with ``fstat``, so a link
swapped in between a check and the open is refused too; directory walks use ``lstat``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from lakehouse.errors import LakehouseError

__all__ = [
    "NotRegularFileError",
    "create_exclusive",
    "ensure_directory",
    "is_link",
    "is_regular",
    "open_regular",
    "read_regular",
    "sha256_regular",
    "temporary_name",
    "walk_regular",
]

_CHUNK = 4 * 1024 * 1024
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class NotRegularFileError(LakehouseError):
    """A path that must be a regular file is a link, a directory, a FIFO or a device."""


def is_link(path: Path) -> bool:
    """True for a symbolic link (dangling or not), never following it."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def is_regular(path: Path) -> bool:
    """True for a regular file that is not a link (``lstat``: the link itself is checked)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def open_regular(path: Path) -> int:
    """A read-only descriptor of ``path``, refusing links and anything but a regular file.

    Raises:
        NotRegularFileError: ``path`` is a symlink or not a regular file.
        OSError: it cannot be opened for another reason (missing, permissions).
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if is_link(path):
            raise NotRegularFileError(
                "refusing to open a symbolic link (links are never followed)",
                file=path.name,
                fix="replace the link with the file itself",
            ) from exc
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegularFileError(
            "not a regular file", file=path.name, fix="only regular files are read"
        )
    os.set_blocking(fd, True)
    return fd


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file (never through a link)."""
    with os.fdopen(open_regular(path), "rb") as handle:
        return handle.read()


def sha256_regular(path: Path) -> str:
    """SHA-256 of a regular file (never through a link), streamed."""
    digest = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def create_exclusive(path: Path, mode: int = 0o600) -> int:
    """A new file's write descriptor: fails if anything (file or link) exists at ``path``."""
    return os.open(path, _CREATE_FLAGS, mode)


def temporary_name(target: Path, suffix: str) -> Path:
    """A short hidden sibling of ``target`` (a 250-character name plus a suffix would exceed
    the 255-byte file name limit)."""
    return target.with_name(f".lh-{secrets.token_hex(8)}.{suffix}")


def ensure_directory(root: Path, *parts: str) -> Path:
    """``root/parts...``, creating folders as needed and refusing any folder that is a link.

    ``root`` itself is the operator's configured path (it may be a link to a mounted volume);
    the folders below it are lakehouse's, and a link there is refused.

    Raises:
        NotRegularFileError: a folder below ``root`` is a symbolic link or not a folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    current = root
    for part in parts:
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            current.mkdir(exist_ok=True)
            info = os.lstat(current)
        if not stat.S_ISDIR(info.st_mode):
            raise NotRegularFileError(
                "expected a real folder, found a symbolic link or a file",
                file=str(current),
                fix="replace it with a folder; lakehouse never writes through links",
            )
    return current


def walk_regular(root: Path, *, skip_hidden: bool = False) -> Iterator[Path]:
    """Regular files under ``root`` (sorted), never descending into or yielding links."""
    if is_regular(root):
        yield root
        return
    try:
        if not stat.S_ISDIR(os.lstat(root).st_mode):
            return
    except OSError:
        return
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        base = Path(folder)
        for name in sorted(files):
            if skip_hidden and name.startswith("."):
                continue
            if is_regular(base / name):
                yield base / name
