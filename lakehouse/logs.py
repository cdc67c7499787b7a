"""Structured logging: ``key=value`` fields from ``extra=``; never raw data values.

Callers pass identifiers only (client, file, counts, timings). Values from landing files are
never logged; tests scan captured logs for planted PII to keep it that way.
"""

from __future__ import annotations

import logging
import re
import sys

__all__ = ["configure_logging"]

# Attributes every LogRecord has; anything else came from ``extra=`` and is a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


# C0 and C1 controls, DEL, and the Unicode line/paragraph separators: any of them in a value
# (a file name with a newline, an ANSI escape) could forge or hide log lines.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _spelled(match: re.Match[str]) -> str:
    char = match[0]
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def _escape(text: str) -> str:
    """``text`` with every control character spelled as an escape (one line, always)."""
    return _CONTROL.sub(_spelled, text)


class _KeyValueFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _escape(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        fields = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if not fields:
            return base
        return base + " " + " ".join(f"{k}={_render(v)}" for k, v in sorted(fields.items()))


def _render(value: object) -> str:
    """A field value on one line: control characters escaped; quoted (with ``\\`` and ``"``
    escaped) when it is empty or holds a space, a quote, a backslash or ``=``, so a value
    can never look like another field."""
    text = str(value)
    if not text or any(c in text for c in ' "=\\') or _CONTROL.search(text):
        inner = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{_escape(inner)}"'
    return text


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
