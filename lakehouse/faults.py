"""Fault injection for the crash-safety harness: die at a named point, on purpose.

``LAKEHOUSE_FAULT=<point>`` makes the process SIGKILL itself when it reaches ``<point>``;
``<point>@<ms>`` starts a timer there instead, so the kill lands *during* whatever comes next
(an append or a merge commit in flight). ``<point>#<n>`` fires on the n-th time the point is
reached (1-based). Unset (always, outside tests), ``reach`` is a dictionary lookup.
"""

from __future__ import annotations

import os
import re
import signal
import threading

__all__ = ["FAULT_ENV", "POINTS", "reach"]

FAULT_ENV = "LAKEHOUSE_FAULT"
POINTS = (
    "file_start",
    "before_bronze",
    "after_bronze",
    "before_quarantine",
    "after_quarantine",
    "before_merge",
    "after_merge",
    "before_audit",
    "after_audit",
    "batch_end",
)
_SPEC = re.compile(r"^(?P<point>[a-z_]+)(?:#(?P<nth>\d+))?(?:@(?P<ms>\d+))?$")
_seen: dict[str, int] = {}


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def reach(point: str) -> None:
    """Mark that execution reached ``point``; dies here if the harness asked for it."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    match = _SPEC.match(spec)
    if match is None or match["point"] != point:
        return
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] != int(match["nth"] or 1):
        return
    if match["ms"] is None:
        _kill()
    else:
        timer = threading.Timer(int(match["ms"]) / 1000, _kill)
        timer.daemon = True
        timer.start()
