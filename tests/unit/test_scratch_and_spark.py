"""Spark's scratch disk and environment: private, encrypted, cleaned; keys never in workers."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lakehouse.config import load_settings
from lakehouse.config.models import Settings
from lakehouse.errors import ConfigError
from lakehouse.scratch import OWNER_FILE, ScratchError, prepare_scratch, remove_stale_scratch
from lakehouse.spark import security_conf

REPO = Path(__file__).resolve().parents[2]
KEY = "5e" * 16 + "a7" * 16


def _dead_run(root: Path, name: str = "run-424242-dead") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / OWNER_FILE).write_text('{"pid": 424242}')
    (folder / "blockmgr-x").mkdir()
    (folder / "blockmgr-x" / "shuffle_0_0.data").write_bytes(b"Plaintext Person")
    return folder


def test_scratch_folder_is_private_and_stale_ones_are_removed(tmp_path: Path) -> None:
    root = tmp_path / "scratch"
    dead = _dead_run(root)
    alive = root / "run-1-alive"
    alive.mkdir()
    held = os.open(alive / OWNER_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(held, fcntl.LOCK_EX)  # a running run holds its owner lock
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "run-2-link").symlink_to(outside)
    try:
        folder = prepare_scratch(root)
        assert not dead.exists()
        assert alive.is_dir() and outside.is_dir()  # live runs and links are left alone
        assert stat.S_IMODE(os.lstat(root).st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(folder).st_mode) == 0o700
        assert os.lstat(folder).st_uid == os.geteuid()
        assert remove_stale_scratch(root) == []  # this process's own folder is alive
    finally:
        os.close(held)
    assert remove_stale_scratch(root) == [alive]  # its run ended: the lock is free


def test_symlinked_scratch_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "scratch").symlink_to(tmp_path / "real")
    with pytest.raises(ScratchError, match="symbolic link"):
        prepare_scratch(tmp_path / "scratch")


def test_security_conf() -> None:
    settings = Settings(lake_root=Path("lake"))
    conf = security_conf(settings, local_dir=Path("/s/run-1"))
    assert conf["spark.io.encryption.enabled"] == "true"
    assert conf["spark.local.dir"] == "/s/run-1"
    assert conf["spark.hadoop.fs.permissions.umask-mode"] == "077"
    assert conf["spark.executorEnv.LAKEHOUSE_TOKEN_KEY"] == ""
    assert conf["spark.executorEnv.LAKEHOUSE_ENCRYPT_KEY"] == ""
    assert conf["spark.executorEnv.LAKEHOUSE_KEY_FILE"] == ""  # not even where the keys are
    assert settings.scratch_root == Path("lake/_scratch")


@pytest.mark.parametrize("value", ["0077", "077", "0027"])
def test_umask_setting(value: str) -> None:
    settings = load_settings(None, environ={"LAKEHOUSE_UMASK": value})
    assert settings.umask_bits == int(value, 8)


@pytest.mark.parametrize("value", ["0022", "0002", "0770", "abc", "8"])
def test_umask_giving_other_users_access_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="umask"):
        load_settings(None, environ={"LAKEHOUSE_UMASK": value})


_JOB = textwrap.dedent(
    """
    import json, os, stat, sys
    from pathlib import Path
    from pyspark.sql import functions as F
    from lakehouse.config.models import Settings
    from lakehouse.pii.keys import KeyRing
    from lakehouse.spark import FILE_CACHE, build_spark

    root = Path(sys.argv[1])
    ring = KeyRing.from_environment()  # loaded from the environment, as a run does
    settings = Settings(
        lake_root=root / "lake",
        landing_dir=root / "landing",
        spark={"master": "local[1]", "app_name": "security-test"},
    )
    spark = build_spark(settings)
    local_dir = Path(spark.sparkContext.getConf().get("spark.local.dir"))

    @F.udf("string")
    def worker_env(_):
        return "|".join(os.environ.get(n, "<unset>") for n in ("LAKEHOUSE_TOKEN_KEY",))

    rows = [(f"Zebediah Plaintextson {i}", i) for i in range(3000)]
    frame = spark.createDataFrame(rows, "name string, n int")
    seen = sorted({r[0] for r in frame.select(worker_env("name")).collect()})
    cached = frame.repartition(3, "n").persist(FILE_CACHE)
    cached.count()
    scratch = [p for p in local_dir.rglob("*") if p.is_file() and not p.is_symlink()]
    leaked = [str(p) for p in scratch if b"Plaintextson" in p.read_bytes()]
    out = root / "lake" / "table"
    cached.write.parquet(str(out))
    print(json.dumps({
        "token_key_id": ring.token_key_id,
        "worker_env": seen,
        "jvm_env": spark.sparkContext._jvm.System.getenv("LAKEHOUSE_TOKEN_KEY"),
        "local_dir": str(local_dir),
        "local_dir_mode": stat.S_IMODE(local_dir.stat().st_mode),
        "scratch_files": len(scratch),
        "leaked": leaked,
        "table_modes": sorted({stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*")}),
        "umask": os.umask(0o077),
    }))
    """
)


def test_spark_scratch_is_private_encrypted_and_workers_never_see_keys(tmp_path: Path) -> None:
    dead = _dead_run(tmp_path / "lake" / "_scratch")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LAKEHOUSE_", "PYSPARK_", "SPARK_"))
    }
    env.update({"LAKEHOUSE_TOKEN_KEY": KEY, "PYTHONPATH": str(REPO)})
    result = subprocess.run(
        [sys.executable, "-c", _JOB, str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["token_key_id"].startswith("env-token-")
    # Python workers never get the key: unset, or emptied by spark.executorEnv.
    assert report["worker_env"] in (["<unset>"], [""])
    assert report["jvm_env"] is None  # nor the JVM that forks them
    assert KEY not in result.stdout + result.stderr
    assert not dead.exists()  # a dead run's scratch (with plaintext) is gone
    assert Path(report["local_dir"]).parent == tmp_path / "lake" / "_scratch"
    assert report["local_dir_mode"] == 0o700
    assert report["scratch_files"] > 0 and report["leaked"] == []  # blocks are encrypted
    assert report["table_modes"] and all(m & 0o077 == 0 for m in report["table_modes"])
    assert report["umask"] == 0o077
    assert not Path(report["local_dir"]).exists()  # removed when the run ended
