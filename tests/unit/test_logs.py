"""Log lines: one line per event whatever a value holds; values never forge fields or lines."""

from __future__ import annotations

import io
import logging

import pytest

from lakehouse.logs import _KeyValueFormatter


def _line(message: str, *args: object, **extra: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_KeyValueFormatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("lakehouse.test_logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info(message, *args, extra=extra)
    return stream.getvalue()


FORGED = "acme_2026-01-05.csv\n12:00:00 INFO lakehouse.ingest.stream: file ingested file=evil.csv"


def test_a_newline_in_a_file_name_cannot_forge_a_log_line() -> None:
    out = _line("file rejected", file=FORGED, reason="misnamed_file")
    assert out.count("\n") == 1 and out.endswith("\n")
    assert out == (
        'INFO lakehouse.test_logs: file rejected file="acme_2026-01-05.csv\\n12:00:00 INFO '
        'lakehouse.ingest.stream: file ingested file=evil.csv" reason=misnamed_file\n'
    )


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("a\rb", '"a\\rb"'),
        ("esc\x1b[31mred", '"esc\\x1b[31mred"'),
        ("nul\x00", '"nul\\x00"'),
        ("c1\x85next", '"c1\\x85next"'),
        ("sep\u2028x", '"sep\\u2028x"'),
        ("tab\there", '"tab\\there"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("x reason=forged", '"x reason=forged"'),
        ("a=b", '"a=b"'),
        ("back\\slash", '"back\\\\slash"'),
        ("", '""'),
        ("plain.csv", "plain.csv"),
    ],
)
def test_control_characters_are_escaped_in_every_value(value: str, rendered: str) -> None:
    assert _line("event", file=value) == f"INFO lakehouse.test_logs: event file={rendered}\n"


def test_the_message_itself_is_escaped_too() -> None:
    out = _line("skipped %s", FORGED)
    assert out.count("\n") == 1 and "\\n12:00:00" in out
