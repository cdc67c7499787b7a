"""Archiving landing files: kept byte for byte, never overwritten, by outcome."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from lakehouse import archive as archive_module
from lakehouse import safe_files
from lakehouse.archive import (
    FileChangedError,
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
from lakehouse.safe_files import NotRegularFileError


def settings_for(tmp_path: Path, **extra: object) -> Settings:
    return Settings(lake_root=tmp_path / "lake", landing_dir=tmp_path / "landing", **extra)


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


SECRET = b"root:$6$secret-hash:19000:0:99999:7:::\n"


def _planted_link(tmp_path: Path, settings: Settings, name: str) -> tuple[Path, Path]:
    secret = tmp_path / "outside" / "shadow"
    _file(secret, SECRET)
    link = settings.landing_dir / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    return secret, link


def _archive_bytes(settings: Settings) -> list[bytes]:
    root = settings.archive_root
    return [p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink()]


@pytest.mark.parametrize("mode", ["copy", "move"])
def test_symlink_in_landing_is_recorded_never_copied(tmp_path: Path, mode: str) -> None:
    settings = settings_for(tmp_path, archive_mode=mode)
    secret, link = _planted_link(tmp_path, settings, "acme_2026-03-02.csv")
    done = archive_outcomes(settings, [_record(link.name, Status.REJECTED)])
    assert [d.link for d in done] == [True]
    assert not any(SECRET in data for data in _archive_bytes(settings))
    assert not (settings.archive_root / "_rejected/acme/acme_2026-03-02.csv").exists()
    record = settings.archive_root / "_rejected/acme/_symlinks.jsonl"
    (entry,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert entry["name"] == link.name and entry["link_target"] == str(secret)
    assert os.lstat(link) if mode == "copy" else not os.path.lexists(link)
    assert secret.read_bytes() == SECRET  # the target is never touched
    archive_outcomes(settings, [_record(link.name, Status.REJECTED)])  # replayed batch
    assert len(record.read_text().splitlines()) == 1


def test_archive_file_refuses_a_symlink_source(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    _, link = _planted_link(tmp_path, settings, "acme_2026-03-02.csv")
    with pytest.raises(NotRegularFileError, match="symbolic link"):
        archive_file(link, tmp_path / "archive/acme/acme_2026-03-02.csv", move=False)
    assert not (tmp_path / "archive").exists() or not any((tmp_path / "archive").rglob("*.csv"))


def test_link_planted_at_the_archive_target_is_neither_read_nor_overwritten(
    tmp_path: Path,
) -> None:
    decoy = _file(tmp_path / "outside/decoy.csv", b"decoy")
    target = tmp_path / "archive/acme/x.csv"
    target.parent.mkdir(parents=True)
    target.symlink_to(decoy)
    source = _file(tmp_path / "landing/x.csv", b"decoy")  # same bytes as the link's target
    done = archive_file(source, target, move=False)
    assert not done.already_archived
    assert done.target == target.parent / "conflicts" / _sha(source)[:12] / "x.csv"
    assert target.is_symlink() and decoy.read_bytes() == b"decoy"


def test_symlinked_folder_inside_the_archive_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings.archive_root.mkdir(parents=True)
    (settings.archive_root / "acme").symlink_to(elsewhere)
    source = _file(settings.landing_dir / "acme_2026-01-05.csv", b"a,b\n")
    assert archive_outcomes(settings, [_record(source.name, Status.SUCCESS)]) == []
    assert list(elsewhere.iterdir()) == []
    assert archived_client_files(settings, "acme") == []  # never listed through the link


def test_sweep_records_landing_links_without_reading_them(lake: Any, tmp_path: Path) -> None:
    settings = lake.settings.model_copy(update={"archive_mode": "move"})
    _, link = _planted_link(tmp_path, settings, "acme_2026-03-02.csv")
    lake.audit(link.name, Status.REJECTED, reason="not_a_regular_file")
    engine = DeltaRsEngine()
    planned = {i.name: i.action for i in sweep_landing(settings, engine, dry_run=True)}
    assert planned == {link.name: "would_record_link"}
    assert os.path.lexists(link)
    actions = {i.name: i.action for i in sweep_landing(settings, engine, dry_run=False)}
    assert actions == {link.name: "recorded_link"}
    assert not os.path.lexists(link)
    assert not any(SECRET in data for data in _archive_bytes(settings))


def test_a_250_character_name_archives(tmp_path: Path) -> None:
    name = "acme_2026-01-05_" + "9" * 230 + ".csv"
    assert len(name) == 250
    source = _file(tmp_path / "landing" / name, b"a,b\n1,2\n")
    done = archive_file(source, tmp_path / "archive/acme" / name, move=False)
    assert done.target.read_bytes() == b"a,b\n1,2\n"
    assert [p.name for p in done.target.parent.iterdir()] == [name]


def test_file_changed_while_archiving_stays_in_landing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _file(tmp_path / "landing/x.csv", b"a,b\n1,2\n")
    real = safe_files.create_exclusive

    def sender_still_writing(path: Path, mode: int = 0o600) -> int:
        with source.open("ab") as handle:
            handle.write(b"3,4\n")
        return real(path, mode)

    monkeypatch.setattr(archive_module, "create_exclusive", sender_still_writing)
    target = tmp_path / "archive/acme/x.csv"
    with pytest.raises(FileChangedError, match="changed while it was being archived"):
        archive_file(source, target, move=True)
    assert source.exists() and not target.exists()
    assert list(target.parent.iterdir()) == []  # no partial file left behind


def test_file_changed_after_ingest_is_not_archived_as_if_ingested(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path)
    source = _file(settings.landing_dir / "acme_2026-01-05.csv", b"a,b\n1,2\n")
    record = _record(source.name, Status.SUCCESS)
    record.file_sha256 = hashlib.sha256(b"a,b\n9,9\n").hexdigest()  # what was ingested
    with caplog.at_level("ERROR", logger="lakehouse.archive"):
        assert archive_outcomes(settings, [record]) == []
    assert "not the ones ingested" in caplog.records[0].error  # type: ignore[attr-defined]
    assert source.exists() and not (settings.archive_root / "acme" / source.name).exists()
    record.file_sha256 = _sha(source)  # the audited bytes: archived
    [done] = archive_outcomes(settings, [record])
    assert done.target.read_bytes() == b"a,b\n1,2\n"
