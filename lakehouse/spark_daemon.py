"""Spark's Python daemon (``spark.python.daemon.module``): PySpark's, with cheap collections.

PySpark's daemon forks one worker per connection and, when workers are reused, runs a full
``gc.collect()`` after every task. A worker that has imported pandas, pandera, polars and
pyarrow holds ~140k objects, so each collection walks them all again (~50 ms, more on a busy
machine) for tasks that take a few milliseconds on demo-sized files. Here a task that
imported modules ends with one collection and ``gc.freeze()``: what survived it (modules,
schemas, caches) moves to the permanent generation, and the daemon's per-task collections
then only walk what later tasks allocate. Everything else is PySpark's own daemon.
"""

from __future__ import annotations

import gc
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


if __name__ == "__main__":
    _daemon.worker = _worker  # manager() looks the function up when it forks a worker
    _daemon.manager()
