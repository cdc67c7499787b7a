"""Spark's Python daemon (``spark.python.daemon.module``): PySpark's, with cheap collections.

PySpark's daemon forks one worker per connection and, when workers are reused, runs a full
``gc.collect()`` after every task. A worker that has imported pandas, pandera, polars and
pyarrow holds ~140k objects, so each collection walks them all again (~50 ms, more on a busy
machine) for tasks that take a few milliseconds on demo-sized files. Here a task that
imported modules ends with one collection and ``gc.freeze()``: what survived it (modules,
schemas, caches) moves to the permanent generation, and the daemon's per-task collections
then only walk what later tasks allocate. The daemon also imports what the pipeline's UDFs
need before it forks (``PRELOAD``), so workers start with it loaded. Everything else is
PySpark's own daemon.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import socket
import sys

from pyspark import daemon as _daemon

__all__: list[str] = []

_run_task = _daemon.worker


def _worker(sock: socket.socket, authenticated: bool) -> int:
    loaded = len(sys.modules)
    try:
        return int(_run_task(sock, authenticated))
    finally:
        if len(sys.modules) > loaded:
            gc.collect()
            gc.freeze()


# What the pipeline's Python UDFs import (validation, phones, encryption, tokens). Imported
# once in the daemon, before it forks: every worker starts with them loaded and frozen,
# instead of each importing them on its first task (~1.5 s each on a cold start).
PRELOAD = (
    "pandas",
    "pyarrow",
    "polars",
    "pandera.polars",
    "phonenumbers",
    "lakehouse.validation.checks",
    "lakehouse.transform.phones",
    "lakehouse.pii.udfs",
    "lakehouse.pii.tokens",
)


def _preload() -> None:
    for name in PRELOAD:
        # A module that is missing fails the task that needs it, with its own clear error.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    gc.collect()
    gc.freeze()  # the forked workers share these pages and never walk them


if __name__ == "__main__":
    _preload()
    _daemon.worker = _worker  # manager() looks the function up when it forks a worker
    _daemon.manager()
