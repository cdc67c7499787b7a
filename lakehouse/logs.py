"""Structured logging: ``key=value`` fields from ``extra=``; never raw data values.

Callers pass identifiers only (client, file, counts, timings). Values from landing files are
never logged; tests scan captured logs for planted PII to keep it that way.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_logging"]

# Attributes every LogRecord has; anything else came from ``extra=`` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if not fields:
            return base
        return base + " " + " ".join(f"{k}={_render(v)}" for k, v in sorted(fields.items()))


def _render(value: object) -> str:
    text = str(value)
    return f'"{text}"' if " " in text or not text else text


def configure_logging(level: str = "INFO") -> None:
    """Send lakehouse logs to stderr as one line per event; quieten noisy libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _KeyValueFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger("lakehouse")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
