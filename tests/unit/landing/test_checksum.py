"""Checksums read the file itself (never a link) and can prove a later read saw the same bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakehouse.landing.checksum import FileChangedDuringReadError, scan_file
from lakehouse.safe_files import NotRegularFileError


def _file(tmp_path: Path, content: bytes = b"a,b\n1,2\n") -> Path:
    path = tmp_path / "acme_2026-01-05.csv"
    path.write_bytes(content)
    return path


def test_scan_refuses_a_symlink(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"root:x:0:0\n")
    link = tmp_path / "acme_2026-01-05.csv"
    link.symlink_to(secret)
    with pytest.raises(NotRegularFileError, match="symbolic link"):
        scan_file(link, "UTF-8")


def test_unchanged_file_verifies(tmp_path: Path) -> None:
    path = _file(tmp_path)
    scan = scan_file(path, "UTF-8")
    assert scan.size == 8 and scan.inode == path.stat().st_ino
    scan.verify_unchanged(path)


@pytest.mark.parametrize("change", ["appended", "rewritten-same-size", "replaced"])
def test_a_change_after_the_checksum_is_caught(tmp_path: Path, change: str) -> None:
    path = _file(tmp_path)
    scan = scan_file(path, "UTF-8")
    stat = path.stat()
    if change == "appended":
        with path.open("ab") as handle:
            handle.write(b"3,4\n")
    elif change == "rewritten-same-size":
        with path.open("r+b") as handle:
            handle.write(b"x")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with mtime put back
    else:
        other = tmp_path / ".tmp"
        other.write_bytes(b"a,b\n1,2\n")  # same bytes, new file
        other.replace(path)
    with pytest.raises(FileChangedDuringReadError, match="changed while it was being read"):
        scan.verify_unchanged(path)
