"""Erasure's record spans in JSON-lines and XML raw files: only the member's records go."""

from __future__ import annotations

from lakehouse.config.models import ClientConfig
from lakehouse.pii.raw_files import contains_token
from lakehouse.pii.raw_records import cut_records


def _client(kind: str, source: str) -> ClientConfig:
    file: dict[str, object] = {"format": kind}
    if kind == "xml":
        file["xml"] = {"record": "members/member"}
    return ClientConfig.model_validate(
        {
            "client_id": "ex",
            "dataset": "members",
            "columns": [{"name": "member_id", "source": source, "required": True}],
            "merge_key": ["member_id"],
            "file": file,
        }
    )


def _ann(text: str) -> bool:
    return contains_token(text, "M0001")


def test_jsonl_lines_of_the_member_are_cut() -> None:
    text = '{"id": "M0001"}\n{"id": "M00012"}\r\n{"id": "m0001", "x": 1}\n'
    assert cut_records(text, _client("jsonl", "id"), _ann) == ('{"id": "M00012"}\r\n', 2)
    assert cut_records('{"id": "M0002"}\n', _client("jsonl", "id"), _ann) is None


def test_xml_records_of_the_member_are_cut_byte_for_byte() -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<members>\n  <header n="2"/>\n'
        '  <member id="M0001"><name>Zoë &amp; "x>y"</name></member>\n'
        '  <member id="M0002"><name>Bo</name></member>\n'
        '  <member id="M0001"/>\n</members>\n'
    )
    assert cut_records(text, _client("xml", "@id"), _ann) == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<members>\n  <header n="2"/>\n'
        '  <member id="M0002"><name>Bo</name></member>\n  </members>\n',
        2,
    )
    hostile = '<!DOCTYPE m [<!ENTITY a "M0001">]><members><member id="&a;"/></members>'
    assert cut_records(hostile, _client("xml", "@id"), _ann) is None  # left for the scan
