"""Shared fixtures: one SparkSession for the whole test run; tables go under tmp_path.

Also the suite's own report (printed at the end of every run, so a slow day shows): per test
module, its tests, seconds, and the processes it started (those that start Spark: a JVM each).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings
from jvm_archive import CLASS_ARCHIVE, TRAINING_THREAD, JvmClassArchive
from pyspark.sql import SparkSession

from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig
from lakehouse.pii.keys import KeyRing
from lakehouse.spark import BASE_CONF, driver_java_options, use_this_python

REPO = Path(__file__).resolve().parents[1]

hypothesis_settings.register_profile("ci", max_examples=60, deadline=None)
hypothesis_settings.register_profile("dev", max_examples=20, deadline=None)
hypothesis_settings.load_profile("ci")

TEST_KEY = bytes(range(32, 64))

# JVM flags for the suite's short-lived JVMs (the session's and every spark-submit a test
# starts): the C1 compiler only and the serial collector. On 2 cores, C2 compilation and G1's
# threads compete with the work itself; a one-file spark-submit ran ~2x faster with these
# (DesignDoc.md, "Testing"). They change no result. A JAVA_TOOL_OPTIONS of your own wins.
# Spark reads spark.* system properties into its conf: on the suite's tiny files, interpreted
# expressions beat compiling each projection with Janino on a cold JVM (test-only: on large
# files generated code pays for itself; "Cold start of one spark-submit" in DesignDoc.md).
TEST_JVM_OPTIONS = (
    "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dspark.sql.codegen.factoryMode=NO_CODEGEN"
)
# The session's own JVM lives for the whole run and does every in-process test's work: there
# the C2 compiler pays for itself (the demo's first wave, warm: 15.4 s with C1 only, 12.6 s
# with C2; DesignDoc.md, "Testing"). Later flags win over JAVA_TOOL_OPTIONS.
SESSION_JVM_OPTIONS = "-XX:TieredStopAtLevel=4"


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    use_this_python()
    builder = SparkSession.builder.master("local[2]").appName("lakehouse-tests")
    for key, value in {
        **BASE_CONF,
        "spark.sql.shuffle.partitions": "2",
        "spark.driver.extraJavaOptions": " ".join(
            filter(None, [driver_java_options(), _session_jvm_options()])
        ),
    }.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _session_jvm_options() -> str:
    """SESSION_JVM_OPTIONS, unless JAVA_TOOL_OPTIONS are your own."""
    return SESSION_JVM_OPTIONS if os.environ.get("JAVA_TOOL_OPTIONS") == TEST_JVM_OPTIONS else ""


@pytest.fixture(scope="session")
def clients() -> dict[str, ClientConfig]:
    return load_clients(REPO / "clients")


@pytest.fixture()
def keys() -> KeyRing:
    return KeyRing(token_key_id="test", keys={"test": TEST_KEY})


# --- the suite report ---------------------------------------------------------------------

_SPARK_COMMANDS = ("spark-submit", "run_pipeline.sh", "benchmark.py", "ingest_client.py")
_SPARK_SUBCOMMANDS = {"ingest", "release", "backfill", "bench"}
_module_seconds: Counter[str] = Counter()
_module_tests: Counter[str] = Counter()
_module_processes: dict[str, Counter[str]] = defaultdict(Counter)
_lock = threading.Lock()
_started = time.monotonic()


def _starts_spark(args: Sequence[str]) -> bool:
    """A guess from the command line, good for counting: scripts and Spark subcommands."""
    if "--dry-run" in args:
        return False
    words = [a.rsplit("/", 1)[-1] for a in args]
    if any(command in words for command in _SPARK_COMMANDS):
        return True
    return any(w in ("lakehouse", "-m") for w in words) and bool(_SPARK_SUBCOMMANDS & set(words))


def _count_processes() -> None:
    """Wrap ``Popen`` to count, per test module, the processes tests start."""
    original = subprocess.Popen.__init__

    def counting(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        test = os.environ.get("PYTEST_CURRENT_TEST", "")
        if threading.current_thread().name == TRAINING_THREAD:
            test = "(the JVM class archive's training run)"
        if test:
            argv = [args] if isinstance(args, str | os.PathLike) else list(args)
            kind = "spark" if _starts_spark([str(a) for a in argv]) else "other"
            with _lock:
                _module_processes[test.split("::", 1)[0]][kind] += 1
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = counting  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    # Before any JVM starts: children inherit the environment, the session's JVM included.
    os.environ.setdefault("JAVA_TOOL_OPTIONS", TEST_JVM_OPTIONS)
    _count_processes()


def pytest_collection_finish(session: pytest.Session) -> None:
    # Only a run with end-to-end tests pays for the archive; options of your own win.
    if "SPARK_SUBMIT_OPTS" in os.environ:
        return
    if any(Path(item.path).is_relative_to(REPO / "tests" / "e2e") for item in session.items):
        archive = JvmClassArchive(Path(tempfile.mkdtemp(prefix="lakehouse-cds-")))
        archive.start()
        session.config.stash[CLASS_ARCHIVE] = archive


def pytest_unconfigure(config: pytest.Config) -> None:
    archive = config.stash.get(CLASS_ARCHIVE, None)
    if archive is not None:
        archive.close()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    module = report.nodeid.split("::", 1)[0]
    _module_seconds[module] += report.duration
    if report.when == "call":
        _module_tests[module] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    write = terminalreporter.write_line
    write("")
    write("suite report: seconds per test module (setup + call + teardown), processes started")
    write(f"{'module':58} {'tests':>5} {'secs':>7} {'spark':>5} {'other':>5}")
    for module, seconds in _module_seconds.most_common():
        processes = _module_processes.get(module, Counter())
        write(
            f"{module:58} {_module_tests[module]:5d} {seconds:7.1f} "
            f"{processes['spark']:5d} {processes['other']:5d}"
        )
    for module in sorted(set(_module_processes) - set(_module_seconds)):  # outside any test
        processes = _module_processes[module]
        write(f"{module:58} {0:5d} {0.0:7.1f} {processes['spark']:5d} {processes['other']:5d}")
    write("(spark: processes that start a JVM, the test session's own Spark included)")
    write(f"pytest wall time: {time.monotonic() - _started:.0f} s")
