"""Backfills from bronze rebuild JSON-lines and XML files that read into the same records."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.backfill.bronze_source import render_landing
from lakehouse.config.models import ClientConfig
from lakehouse.landing.json_lines import parse_json_lines
from lakehouse.landing.reader import CORRUPT_COLUMN, RECORD_COLUMN
from lakehouse.landing.records import ParseStats, RecordParser
from lakehouse.landing.xml_reader import parse_xml

SOURCES = {
    "jsonl": ("id", "name.first", "name.last", "age"),
    "xml": ("@id", "name/first", "name/@kind", "age"),
}
ORIGINALS = {
    "jsonl": (
        '{"id": "M1", "name": {"first": " Zoë ", "last": ""}, "age": 1.50}\n'
        '{"id": "M2", "x": 1}\n'
        '{"id": "M3", "id": "M4"}\n'
        '{"id": "M5", "name": {"first": "Al \\"Bo\\" <&>"}, "age": true}\n'
    ),
    "xml": (
        '<?xml version="1.0" encoding="UTF-8"?>\n<members>'
        '<member id="M1"><name kind="legal"><first> Zoë </first></name><age>042</age></member>'
        '<member id="M2"><name><first/></name></member>'
        '<member id="M3"><age>1</age><age>2</age></member>'
        '<member id="M5"><name><first>Al "Bo" &lt;&amp;&gt;</first></name></member>'
        "</members>\n"
    ),
}
PARSERS: dict[str, RecordParser] = {"jsonl": parse_json_lines, "xml": parse_xml}


def _client(kind: str) -> ClientConfig:
    names = ("member_id", "first_name", "last_name", "age")
    file: dict[str, object] = {"format": kind}
    if kind == "xml":
        file["xml"] = {"record": "members/member"}
    return ClientConfig.model_validate(
        {
            "client_id": "ex",
            "dataset": "members",
            "columns": [
                {"name": n, "source": s, **({"required": True} if n == "member_id" else {})}
                for n, s in zip(names, SOURCES[kind], strict=True)
            ],
            "merge_key": ["member_id"],
            "file": file,
        }
    )


@pytest.mark.parametrize("kind", ["jsonl", "xml"])
def test_a_rebuilt_file_reads_into_the_same_records(tmp_path: Path, kind: str) -> None:
    client = _client(kind)
    original = tmp_path / f"original.{kind}"
    original.write_text(ORIGINALS[kind], encoding="utf-8")
    records = list(PARSERS[kind](original, client, ParseStats()))
    assert sum(corrupt is not None for _, corrupt in records) == 1
    bronze = pa.Table.from_pylist(
        [
            {
                **{c.name: v for c, v in zip(client.columns, values, strict=True)},
                CORRUPT_COLUMN: corrupt,
                RECORD_COLUMN: number,
            }
            for number, (values, corrupt) in reversed(list(enumerate(records, start=1)))
        ]
    )
    rebuilt = tmp_path / f"rebuilt.{kind}"
    rebuilt.write_text(render_landing(bronze, client), encoding="utf-8", newline="")
    assert list(PARSERS[kind](rebuilt, client, ParseStats())) == records
