"""Fault injection for the crash-safety harness: die at a named point, on purpose.

``LAKEHOUSE_FAULT=<point>`` makes the process SIGKILL itself when it reaches ``<point>``;
``<point>@<ms>`` starts a timer there instead, so the kill lands *during* whatever comes next
(an append or a merge commit in flight). ``<point>#<n>`` fires on the n-th time the point is
reached (1-based). Each run builds one ``Faults`` from its environment (``Job.faults``);
unset (always, outside tests), ``reach`` returns at once.

Every way a file is processed (the streaming run, ``release``, ``backfill``) goes through the
same points, in ``ingest.file`` (the stages) and ``ingest.outcome`` (the commit point).
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from lakehouse.errors import ConfigError

__all__ = ["FAULT_ENV", "POINTS", "Faults"]

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


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Faults:
    """Where this run dies, if anywhere: one point, its n-th reach, an optional delay."""

    point: str | None = None
    nth: int = 1
    delay_ms: int | None = None
    _seen: int = field(default=0, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Faults:
        """Raises: ConfigError: ``LAKEHOUSE_FAULT`` is set but names no known point."""
        spec = (os.environ if environ is None else environ).get(FAULT_ENV, "")
        if not spec:
            return cls()
        match = _SPEC.match(spec)
        if match is None or match["point"] not in POINTS:
            raise ConfigError(
                "unknown fault point",
                path=f"${FAULT_ENV}",
                expected=f"<point>[#n][@ms] with a point in {', '.join(POINTS)}",
                found=repr(spec),
                fix=f"unset {FAULT_ENV}: it is only for the crash-safety tests",
            )
        ms = match["ms"]
        return cls(match["point"], int(match["nth"] or 1), int(ms) if ms is not None else None)

    def reach(self, point: str) -> None:
        """Mark that execution reached ``point``; dies here if the harness asked for it."""
        if point != self.point:
            return
        self._seen += 1
        if self._seen != self.nth:
            return
        if self.delay_ms is None:
            _kill()
            return
        timer = threading.Timer(self.delay_ms / 1000, _kill)
        timer.daemon = True
        timer.start()
