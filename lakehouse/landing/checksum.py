"""File checksums and encoding checks, streamed so a large file is never held in memory."""

from __future__ import annotations

import codecs
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import LakehouseError
from lakehouse.landing.line_endings import EndingCounter, LineEndings
from lakehouse.safe_files import open_regular

__all__ = ["FileChangedDuringReadError", "FileScan", "scan_file", "sha256_file"]


class FileChangedDuringReadError(LakehouseError):
    """A landing file changed between two reads (checksum, Spark read, archive copy)."""


_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class FileScan:
    sha256: str
    size: int
    bad_byte_offset: int | None  # first byte that is not valid in the declared encoding
    # Identity of what was hashed (inode, size, mtime): a later reader can prove it read the
    # same bytes with ``verify_unchanged`` instead of trusting the name.
    device: int = 0
    inode: int = 0
    mtime_ns: int = 0
    # Counted in the same pass: the reader needs them and need not read the file again.
    line_endings: LineEndings | None = None

    def verify_unchanged(self, path: Path, *, rehash: bool = True) -> None:
        """Raise unless ``path`` is still the file that was hashed (same inode, size,
        modification time and, with ``rehash``, bytes).

        Raises:
            FileChangedDuringReadError: replaced, appended to or rewritten since the scan.
            NotRegularFileError: it is a link now.
        """
        fd = open_regular(path)
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(fd)
            same = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns) == (
                self.device,
                self.inode,
                self.size,
                self.mtime_ns,
            )
            if same and rehash:
                digest = hashlib.sha256()
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                same = digest.hexdigest() == self.sha256
        if not same:
            raise _changed(path)


def _changed(path: Path) -> FileChangedDuringReadError:
    return FileChangedDuringReadError(
        "file changed while it was being read (checksum, ingest and archive must see the "
        "same bytes); nothing of it is trusted",
        file=path.name,
        fix="the sender must write '.name.tmp' and rename it when complete; the file is "
        "retried on the next run",
    )


def scan_file(path: Path, encoding: str) -> FileScan:
    """SHA-256, a strict decode in ``encoding`` and the line endings, in one pass over the file.

    Spark would decode invalid bytes to U+FFFD and carry on, so a Latin-1, UTF-16 or binary
    file sent as UTF-8 would be ingested as mojibake; this finds it first.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, bad = 0, None
    endings = EndingCounter()
    fd = open_regular(path)  # never through a link
    with os.fdopen(fd, "rb") as handle:
        before = os.fstat(fd)
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            endings.update(chunk)
            if bad is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    bad = offset + error.start
            offset += len(chunk)
        after = os.fstat(fd)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or (
        offset != after.st_size
    ):
        raise _changed(path)
    if bad is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad = offset  # truncated multi-byte sequence at the end
    return FileScan(
        sha256=digest.hexdigest(),
        size=offset,
        bad_byte_offset=bad,
        device=after.st_dev,
        inode=after.st_ino,
        mtime_ns=after.st_mtime_ns,
        line_endings=endings.result(),
    )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
