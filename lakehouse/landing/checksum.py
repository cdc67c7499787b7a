"""File checksums and encoding checks, streamed so a large file is never held in memory."""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FileScan", "scan_file", "sha256_file"]

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class FileScan:
    sha256: str
    size: int
    bad_byte_offset: int | None  # first byte that is not valid in the declared encoding


def scan_file(path: Path, encoding: str) -> FileScan:
    """SHA-256 and a strict decode in ``encoding``, in one pass over the file.

    Spark would decode invalid bytes to U+FFFD and carry on, so a Latin-1, UTF-16 or binary
    file sent as UTF-8 would be ingested as mojibake; this finds it first.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, bad = 0, None
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if bad is None:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as error:
                    bad = offset + error.start
            offset += len(chunk)
    if bad is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            bad = offset  # truncated multi-byte sequence at the end
    return FileScan(sha256=digest.hexdigest(), size=offset, bad_byte_offset=bad)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
