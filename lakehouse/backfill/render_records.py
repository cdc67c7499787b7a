"""Write bronze records back as a JSON-lines or XML landing file (backfills from bronze).

The rebuilt file reads into the same rows as the original: each value at its ``source``
path as a string (a number's text read back as a string is the same raw value), NULL as an
absent key or element, malformed records as their raw text, in record order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from lakehouse.config.models import ClientConfig

__all__ = ["render_jsonl", "render_xml"]

Row = dict[str, str | None]


def _jsonl_record(row: Row, client: ClientConfig) -> str:
    obj: dict[str, Any] = {}
    for column in client.columns:
        value = row.get(column.name)
        if value is None:
            continue  # a missing key reads as NULL
        *parents, last = column.header.split(".")
        node = obj
        for step in parents:
            node = node.setdefault(step, {})
        node[last] = value
    return json.dumps(obj, ensure_ascii=False)


def render_jsonl(rows: Sequence[Row], client: ClientConfig, corrupt_column: str) -> str:
    """JSON-lines text of ``rows`` (already in record order, values revealed)."""
    lines = [
        raw if (raw := row.get(corrupt_column)) is not None else _jsonl_record(row, client)
        for row in rows
    ]
    return "".join(f"{line}\n" for line in lines)


def _xml_record(row: Row, client: ClientConfig, tag: str) -> str:
    record = Element(tag)
    for column in client.columns:
        value = row.get(column.name)
        if value is None:
            continue  # a missing element or attribute reads as NULL
        steps = column.header.split("/")
        attribute = steps.pop()[1:] if steps[-1].startswith("@") else None
        element = record
        for step in steps:
            found = element.find(step)
            element = found if found is not None else SubElement(element, step)
        if attribute is not None:
            element.set(attribute, value)
        else:
            element.text = value
    return tostring(record, encoding="unicode")


def render_xml(rows: Sequence[Row], client: ClientConfig, corrupt_column: str) -> str:
    """XML text of ``rows`` (already in record order, values revealed), declared in the
    client's encoding."""
    assert client.file.xml is not None
    *wrappers, tag = client.file.xml.steps
    body = [
        raw if (raw := row.get(corrupt_column)) is not None else _xml_record(row, client, tag)
        for row in rows
    ]
    opening = "".join(f"<{w}>" for w in wrappers)
    closing = "".join(f"</{w}>" for w in reversed(wrappers))
    declaration = f'<?xml version="1.0" encoding="{client.file.encoding}"?>'
    return f"{declaration}\n{opening}\n" + "".join(f"{r}\n" for r in body) + f"{closing}\n"
