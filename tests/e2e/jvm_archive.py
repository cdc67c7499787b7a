"""One JVM class archive for the suite's cold JVMs (started by tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from e2e_support import REPO, Workspace, spark_submit_env

from lakehouse.config import load_clients

TRAINING_THREAD = "jvm-class-archive-training"
# The run's archive folder when xdist runs the suite (set by the controller, see conftest.py).
ARCHIVE_DIR_ENV = "LAKEHOUSE_TEST_CLASS_ARCHIVE_DIR"


class JvmClassArchive:
    """A dynamic CDS archive (``-XX:ArchiveClassesAtExit``) of the classes a cold
    ``spark-submit jobs/ingest.py`` loads, for every later ``spark-submit`` of the session.

    A cold JVM spends about a fifth of its CPU finding, parsing and verifying ~15k classes in
    Spark's jars; mapped from the archive they are ready at once (a one-wave run: JVM CPU
    22.4 s -> 18.4 s; DesignDoc.md, "Testing"). One training run builds it, in the background
    while the unit tests run (``testpaths`` puts them first); ``tests/e2e`` waits for it and
    hands ``-XX:SharedArchiveFile`` to the JVMs its tests start (``SPARK_SUBMIT_OPTS``: the
    driver JVM only, not spark-submit's launcher, which has another class path). The archive
    changes no result; a failed training run only costs the speed-up (a warning says why).

    With xdist's workers the folder is the run's (``ARCHIVE_DIR_ENV``, made by the controller):
    the first worker to ``start`` trains, the others wait for its ``trained`` marker.
    """

    def __init__(self, folder: Path, *, owns_folder: bool = True) -> None:
        self.folder = folder
        self.path = folder / "spark-classes.jsa"
        self._claim = folder / "claimed"
        self._trained = folder / "trained"  # written when the training run ends: its failure
        self._owns_folder = owns_folder
        self._thread = threading.Thread(target=self._train, name=TRAINING_THREAD, daemon=True)
        self._process: subprocess.Popen[str] | None = None
        self._closed = threading.Event()
        self.failure: str | None = None

    def start(self) -> None:
        """Train in the background, unless another worker of this run already does."""
        try:
            os.close(os.open(self._claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        self._thread.start()

    def option(self, timeout: float = 600) -> str | None:
        """``-XX:SharedArchiveFile=...`` once the archive is written, or None if it failed."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        else:
            deadline = time.monotonic() + timeout
            while not self._trained.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            if self._trained.exists():
                self.failure = self._trained.read_text(encoding="utf-8") or None
            else:
                self.failure = "another worker's training run did not finish in time"
        if not self._trained.exists() or self.failure is not None or not self.path.is_file():
            return None
        return f"-XX:SharedArchiveFile={self.path}"

    def close(self) -> None:
        self._closed.set()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
        if self._thread.ident is not None:
            self._thread.join(60)
        if self._owns_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _train(self) -> None:
        try:
            self._run_training()
        finally:
            self._trained.write_text(self.failure or "", encoding="utf-8")

    def _run_training(self) -> None:
        from lakehouse.demo import build_demo

        try:
            landing, lake = self.folder / "landing", self.folder / "lake"
            build_demo(load_clients(REPO / "clients"), members_per_client=100).write(
                landing, waves=[1]
            )
            env = spark_submit_env(
                Workspace(lake=lake, landing=landing),
                SPARK_SUBMIT_OPTS=f"-XX:ArchiveClassesAtExit={self.path}",
                # Throw-away keys for a throw-away lake (the same shapes as the suite's).
                LAKEHOUSE_TOKEN_KEY=os.urandom(32).hex(),
                LAKEHOUSE_ENCRYPT_KEY=os.urandom(32).hex(),
                LAKEHOUSE_SIV_KEY=os.urandom(32).hex(),
            )
            if self._closed.is_set():
                return
            self._process = subprocess.Popen(
                ["spark-submit", "--master", "local[2]", "jobs/ingest.py"],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            output, _ = self._process.communicate(timeout=600)
            if self._process.returncode != 0 or not self.path.is_file():
                self.failure = f"exit {self._process.returncode}: {output[-2000:]}"
        except Exception as error:  # noqa: BLE001 (an optimisation: record why, never fail)
            self.failure = repr(error)


CLASS_ARCHIVE = pytest.StashKey[JvmClassArchive]()
