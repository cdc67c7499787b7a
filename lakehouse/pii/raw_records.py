"""Record spans of JSON-lines and XML raw files, for erasure (``raw_files``): a record is cut
out by its exact span so every other byte of the file stays as delivered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from lakehouse.config.models import ClientConfig

__all__ = ["cut_records"]


def _local(tag: str) -> str:
    return tag if tag[0] != "{" else tag.rsplit("}", 1)[-1]


class _Spans:
    """Parser target noting the byte span of each record element (start tag up to the next
    element event, so the whitespace after a record goes with it)."""

    def __init__(self, record: tuple[str, ...]) -> None:
        self.record = record
        self.expat: Any = None  # the expat parser, once created (it reports byte positions)
        self.stack: list[str] = []
        self.spans: list[tuple[int, int]] = []
        self.start_at: int | None = None
        self.closing = False

    def position(self) -> int:
        return int(self.expat.CurrentByteIndex)

    def _event(self) -> None:
        if self.closing and self.start_at is not None:
            self.spans.append((self.start_at, self.position()))
            self.start_at, self.closing = None, False

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._event()
        self.stack.append(_local(tag))
        if tuple(self.stack) == self.record:
            self.start_at = self.position()

    def end(self, tag: str) -> None:
        self._event()
        if tuple(self.stack) == self.record:
            self.closing = True
        self.stack.pop()

    def close(self) -> None:
        return None


def _xml_spans(data: bytes, client: ClientConfig) -> list[tuple[int, int]] | None:
    """Byte spans of the records in UTF-8 ``data``; None when it is not parseable safely."""
    assert client.file.xml is not None
    target = _Spans(client.file.xml.steps)
    parser = DefusedXMLParser(target=target, encoding="utf-8", forbid_dtd=True)
    target.expat = parser.parser
    try:
        parser.feed(data)
        parser.close()
    except (DefusedXmlException, SyntaxError):  # ParseError is a SyntaxError
        return None
    return target.spans


def cut_records(
    text: str, client: ClientConfig, remove: Callable[[str], bool]
) -> tuple[str, int] | None:
    """``text`` without the records for which ``remove(record_text)`` holds, and how many
    were removed; None when nothing is removed or the file cannot be split into records
    (left as it is: erasure's verification scan then reports it)."""
    if client.file.format == "jsonl":
        lines = text.splitlines(keepends=True)
        kept = [line for line in lines if not remove(line)]
        return ("".join(kept), len(lines) - len(kept)) if len(kept) < len(lines) else None
    data = text.encode("utf-8", errors="surrogateescape")
    spans = _xml_spans(data, client)
    if spans is None:
        return None
    out, last, removed = [], 0, 0
    for start, end in spans:
        if remove(data[start:end].decode("utf-8", errors="surrogateescape")):
            out.append(data[last:start])
            last, removed = end, removed + 1
    if not removed:
        return None
    out.append(data[last:])
    return b"".join(out).decode("utf-8", errors="surrogateescape"), removed
