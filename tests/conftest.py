"""Shared fixtures: one SparkSession per test process; tables go under tmp_path.

``scripts/test.sh`` runs the suite in pytest-xdist workers (``-n auto --dist loadfile``), each
a process with its own SparkSession. Tests are handed out a whole module at a time (a module's
fixtures are built once), the modules that share the session's demo lake as one group. xdist
hands the groups out largest (most tests) first, a worker taking the next when it is nearly
done, so the big unit modules start while the JVM class archive trains. ``-n 0`` runs in one
process, in ``testpaths`` order.

Also the suite's own report (printed at the end of every run, so a slow day shows): per test
module, its tests, seconds, and the processes it started (those that start Spark: a JVM each).
"""

from __future__ import annotations

import os
import shutil
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
from jvm_archive import ARCHIVE_DIR_ENV, CLASS_ARCHIVE, TRAINING_THREAD, JvmClassArchive
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
_RUN_ARCHIVE_DIR = pytest.StashKey[Path]()


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
    if _is_xdist_controller(config) and ARCHIVE_DIR_ENV not in os.environ:
        # One class archive for the run: the workers inherit the folder, the first to need
        # it trains it (jvm_archive.JvmClassArchive); the controller removes it at the end.
        folder = tempfile.mkdtemp(prefix="lakehouse-cds-")
        os.environ[ARCHIVE_DIR_ENV] = folder
        config.stash[_RUN_ARCHIVE_DIR] = Path(folder)


def _is_xdist_controller(config: pytest.Config) -> bool:
    return getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput")


@pytest.hookimpl(optionalhook=True)  # xdist's hooks: a run with -p no:xdist has none
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per core, at most four: each worker holds a JVM of its own and
    starts ``spark-submit`` children, so more workers than cores only contend."""
    return max(1, min(os.cpu_count() or 1, 4))


DEMO_LAKE_GROUP = "demo-lake"
# The modules that use the session's demo lake (tests/e2e/conftest.py): one worker runs them
# all, so the lake (and the development key file it writes into the repo) is built once.
DEMO_LAKE_MODULES = frozenset(
    f"tests/e2e/{name}.py"
    for name in (
        "test_backfill_e2e",
        "test_demo",
        "test_notebook_e2e",
        "test_ops_e2e",
        "test_pii_e2e",
        "test_privacy_e2e",
        "test_report_e2e",
    )
)


def _group_of(nodeid: str) -> str:
    """The unit of work a worker takes whole: a test's module, or the demo lake's group."""
    module = nodeid.split("::", 1)[0]
    return DEMO_LAKE_GROUP if module in DEMO_LAKE_MODULES else module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, with the demo lake's modules as one unit. (xdist's own
    ``loadgroup`` marks do not reach its scheduler under pytest 9.2: it renames node ids
    through an attribute pytest no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModulesAndDemoLake(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _group_of(nodeid)

    return ModulesAndDemoLake(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a run in which a module outside ``DEMO_LAKE_MODULES`` uses the demo lake: under
    xdist its worker would build a second lake (and race the first for the key file)."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if "demo_lake" in getattr(item, "fixturenames", ()) and module not in DEMO_LAKE_MODULES:
            raise pytest.UsageError(
                f"{item.nodeid} uses the session's demo lake: add its module to "
                "DEMO_LAKE_MODULES in tests/conftest.py, so one worker builds the lake"
            )


def _is_e2e(item: pytest.Item) -> bool:
    return Path(item.path).is_relative_to(REPO / "tests" / "e2e")


def pytest_collection_finish(session: pytest.Session) -> None:
    # Only a run with end-to-end tests pays for the archive; options of your own win.
    if "SPARK_SUBMIT_OPTS" in os.environ:
        return
    if any(_is_e2e(item) for item in session.items):
        shared = os.environ.get(ARCHIVE_DIR_ENV)
        if shared:
            archive = JvmClassArchive(Path(shared), owns_folder=False)
        else:
            archive = JvmClassArchive(Path(tempfile.mkdtemp(prefix="lakehouse-cds-")))
        archive.start()
        session.config.stash[CLASS_ARCHIVE] = archive


def pytest_unconfigure(config: pytest.Config) -> None:
    archive = config.stash.get(CLASS_ARCHIVE, None)
    if archive is not None:
        archive.close()
    folder = config.stash.get(_RUN_ARCHIVE_DIR, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller prints the report
        workeroutput["processes"] = {m: dict(c) for m, c in _module_processes.items()}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: add a finished worker's process counts to the report."""
    for module, counts in getattr(node, "workeroutput", {}).get("processes", {}).items():
        _module_processes[module].update(counts)


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
