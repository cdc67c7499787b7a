from __future__ import annotations

import gc
import importlib.util
import subprocess
import sys
import types
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from lakehouse import spark_daemon
from lakehouse.spark import BASE_CONF


@pytest.fixture()
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_a_task_that_imported_modules_freezes_what_survived(
    monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    def task(sock: object, authenticated: bool) -> int:
        monkeypatch.setitem(sys.modules, "lakehouse_fake_import", types.ModuleType("fake"))
        return 0

    monkeypatch.setattr(spark_daemon, "_run_task", task)
    gc.unfreeze()
    assert spark_daemon._worker(None, True) == 0  # type: ignore[arg-type]
    assert gc.get_freeze_count() > 0


def test_a_task_without_imports_freezes_nothing(
    monkeypatch: pytest.MonkeyPatch, unfrozen: None
) -> None:
    monkeypatch.setattr(spark_daemon, "_run_task", lambda sock, authenticated: 3)
    gc.unfreeze()
    assert spark_daemon._worker(None, False) == 3  # type: ignore[arg-type]
    assert gc.get_freeze_count() == 0


def test_the_session_runs_its_python_workers_through_this_daemon(spark: SparkSession) -> None:
    assert BASE_CONF["spark.python.daemon.module"] == "lakehouse.spark_daemon"
    assert spark.sparkContext.getConf().get("spark.python.daemon.module") == spark_daemon.__name__
    counts = spark.sparkContext.parallelize(range(4), 2).map(lambda _: gc.get_freeze_count())
    assert len(counts.collect()) == 4  # workers start and answer


def test_every_preloaded_module_exists() -> None:
    """A typo in PRELOAD would pass silently (missing modules are skipped): each must import."""
    missing = [name for name in spark_daemon.PRELOAD if importlib.util.find_spec(name) is None]
    assert not missing


def test_preload_leaves_the_modules_loaded_and_frozen() -> None:
    script = (
        "import gc, sys; from lakehouse import spark_daemon; spark_daemon._preload(); "
        "print(all(n in sys.modules for n in spark_daemon.PRELOAD), gc.get_freeze_count() > 0)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.split() == ["True", "True"]
