"""Archiving landing files: kept byte for byte, never overwritten, by outcome."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from lakehouse.archive import (
    archive_file,
    archive_outcomes,
    archive_target,
    archived_client_files,
    sweep_landing,
)
from lakehouse.audit import AuditRecord, Status
from lakehouse.config import load_settings
from lakehouse.config.models import Settings
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.errors import ConfigError


def settings_for(tmp_path: Path, **extra: object) -> Settings:
    return Settings(lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing", **extra)  # type: ignore[arg-type]


def _file(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("move", [False, True])
def test_archived_file_keeps_bytes_and_mtime(tmp_path: Path, move: bool) -> None:
    source = _file(tmp_path / "landing/acme_2026-01-05.csv", b"a,b\r\n1,2\r\n")
    digest = _sha(source)
    done = archive_file(source, tmp_path / "archive/acme/acme_2026-01-05.csv", move=move)
    assert _sha(done.target) == digest
    assert done.target.stat().st_mtime == 1_700_000_000
    assert source.exists() is not move
    assert not list(done.target.parent.glob(".*"))  # no partial file left behind


def test_identical_file_already_archived_is_kept_once(tmp_path: Path) -> None:
    target = _file(tmp_path / "archive/acme/x.csv", b"same")
    source = _file(tmp_path / "landing/x.csv", b"same")
    done = archive_file(source, target, move=True)
    assert done.already_archived and done.target == target and not source.exists()


def test_other_bytes_under_an_archived_name_never_overwrite_it(tmp_path: Path) -> None:
    target = _file(tmp_path / "archive/acme/x.csv", b"first")
    source = _file(tmp_path / "landing/x.csv", b"second")
    done = archive_file(source, target, move=False)
    assert target.read_bytes() == b"first"
    assert done.target == target.parent / "conflicts" / _sha(source)[:12] / "x.csv"
    assert done.target.read_bytes() == b"second"


def test_targets_by_outcome(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    root = settings.archive_root
    assert root == tmp_path / "lake" / "_archive"
    assert archive_target(settings, "acme", "a.csv", Status.SUCCESS) == root / "acme/a.csv"
    assert archive_target(settings, "acme", "a.csv", Status.DUPLICATE) == root / "acme/a.csv"
    assert archive_target(settings, "acme", "a.csv", Status.REJECTED) == (
        root / "_rejected/acme/a.csv"
    )
    assert archive_target(settings, None, "x.txt", Status.REJECTED) == (
        root / "_rejected/_unrouted/x.txt"
    )


def _record(name: str, status: Status, client: str | None = "acme") -> AuditRecord:
    import datetime as dt

    return AuditRecord(client, name, "run", "delta-rs", dt.datetime.now(dt.UTC), status=status)


@pytest.mark.parametrize("mode", ["copy", "move"])
def test_run_outcomes_are_archived_except_failures(tmp_path: Path, mode: str) -> None:
    settings = settings_for(tmp_path, archive_mode=mode)
    names = {
        "acme_2026-01-05.csv": Status.SUCCESS,
        "acme_2026-02-03.csv": Status.DUPLICATE,
        "acme_2026-13-01.csv": Status.REJECTED,
        "acme_2026-01-06.csv": Status.FAILED,
    }
    for name in [*names, "report.txt"]:
        _file(settings.landing_dir / name, name.encode())
    records = [_record(n, s) for n, s in names.items()] + [
        _record("report.txt", Status.REJECTED, client=None)
    ]
    archive_outcomes(settings, records)
    root = settings.archive_root
    assert sorted(p.name for p in archived_client_files(settings, "acme")) == [
        "acme_2026-01-05.csv",
        "acme_2026-02-03.csv",
    ]
    assert (root / "_rejected/acme/acme_2026-13-01.csv").is_file()
    assert (root / "_rejected/_unrouted/report.txt").is_file()
    left = sorted(p.name for p in settings.landing_dir.iterdir())
    if mode == "move":
        assert left == ["acme_2026-01-06.csv"]  # the failed file stays for the retry
    else:
        assert len(left) == 5


def test_missing_landing_file_is_skipped(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert archive_outcomes(settings, [_record("gone.csv", Status.SUCCESS)]) == []


def test_archive_inside_landing_is_refused(tmp_path: Path) -> None:
    env = {
        "LAKEHOUSE_LANDING_DIR": str(tmp_path / "in"),
        "LAKEHOUSE_ARCHIVE_DIR": str(tmp_path / "in" / "archive"),
    }
    with pytest.raises(ConfigError, match="archive_dir must not be inside landing_dir"):
        load_settings(None, environ=env)
    settings = load_settings(
        None,
        environ={
            **env,
            "LAKEHOUSE_ARCHIVE_DIR": str(tmp_path / "a"),
            "LAKEHOUSE_ARCHIVE_MODE": "move",
        },
    )
    assert settings.archive_root == tmp_path / "a" and settings.archive_mode == "move"


def test_sweep_archives_only_files_with_a_final_outcome(lake: Any) -> None:
    settings = lake.settings.model_copy(update={"archive_mode": "move"})
    audit = lake.audit

    done = _file(settings.landing_dir / "acme_2026-01-05.csv", b"ingested")
    _file(settings.landing_dir / "acme_2026-01-06.csv", b"failed")
    _file(settings.landing_dir / "acme_2026-01-07.csv", b"new")
    resent = _file(settings.landing_dir / "acme_2026-01-08.csv", b"other bytes")
    audit(done.name, Status.SUCCESS, sha=_sha(done), read=1)
    audit("acme_2026-01-06.csv", Status.FAILED)
    audit(resent.name, Status.SUCCESS, sha="0" * 64, read=1)
    engine = DeltaRsEngine()

    planned = {i.name: i.action for i in sweep_landing(settings, engine, dry_run=True)}
    assert planned == {
        "acme_2026-01-05.csv": "would_archive",
        "acme_2026-01-06.csv": "skipped",
        "acme_2026-01-07.csv": "skipped",
        "acme_2026-01-08.csv": "skipped",
    }
    assert done.exists()
    actions = {i.name: i.action for i in sweep_landing(settings, engine, dry_run=False)}
    assert actions["acme_2026-01-05.csv"] == "archived"
    assert not done.exists()
    assert (settings.archive_root / "acme/acme_2026-01-05.csv").read_bytes() == b"ingested"
    assert sorted(p.name for p in settings.landing_dir.iterdir()) == [
        "acme_2026-01-06.csv",
        "acme_2026-01-07.csv",
        "acme_2026-01-08.csv",
    ]
