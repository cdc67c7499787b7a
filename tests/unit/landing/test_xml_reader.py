"""The XML landing reader: records by path, exact raw values, and hostile XML refused with
nothing read from disk or network."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pytest_httpserver import HTTPServer

from lakehouse.config.models import ClientConfig
from lakehouse.errors import LandingFileError
from lakehouse.landing.read import read_landing
from lakehouse.landing.reader import CORRUPT_COLUMN, RECORD_COLUMN
from lakehouse.landing.records import FileProblem, ParseStats
from lakehouse.landing.xml_reader import declared_encoding_problem, parse_xml

COLUMNS = [
    {"name": "member_id", "source": "@id", "required": True},
    {"name": "first_name", "source": "name/first"},
    {"name": "name_kind", "source": "name/@type"},
    {"name": "age", "source": "age"},
]


def _client(**file: object) -> ClientConfig:
    return ClientConfig.model_validate(
        {
            "client_id": "ex",
            "dataset": "members",
            "columns": COLUMNS,
            "merge_key": ["member_id"],
            "file": {"format": "xml", "xml": {"record": "members/member"}, **file},
        }
    )


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "ex_2026-01-05.xml"
    path.write_bytes(text.encode(encoding))
    return path


DOC = """<?xml version="1.0" encoding="UTF-8"?>
<!-- extract of 2026-01-05 -->
<members xmlns="urn:example:members" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <header><count>6</count></header>
  <member id="X1"><name type="legal"><first> Zoë &amp; Co </first></name><age>042</age></member>
  <member id="X2"><name><first/></name><age xsi:nil="true"/><ssn>123-45-6789</ssn></member>
  <member><age>7</age></member>
  <member id="X4"><name><first>A</first><first>B</first></name></member>
  <member id="X5"><name><first><given>A</given></first></name></member>
  <member id="X6"><name><first><![CDATA[<b>é</b>]]></first></name></member>
</members>
"""


def test_records_come_out_exactly(spark: SparkSession, tmp_path: Path) -> None:
    read = read_landing(spark, _write(tmp_path, DOC), _client())
    try:
        rows = [r.asDict() for r in read.frame.orderBy(RECORD_COLUMN).collect()]
        assert read.rows == len(rows) == 6
    finally:
        read.release()
    values = [(r["member_id"], r["first_name"], r["name_kind"], r["age"]) for r in rows]
    assert values == [
        ("X1", " Zoë & Co ", "legal", "042"),  # as written: no trimming, numbers as text
        ("X2", "", None, None),  # an empty element is "", xsi:nil and missing are NULL
        (None, None, None, "7"),  # missing attribute (required quarantines it)
        (None, None, None, None),  # a repeated element: malformed
        (None, None, None, None),  # child elements where a value is expected: malformed
        ("X6", "<b>é</b>", None, None),
    ]
    corrupt = [r[CORRUPT_COLUMN] for r in rows]
    assert corrupt[:3] == [None, None, None] and corrupt[5] is None
    assert corrupt[3] is not None and "<ns0:first>B</ns0:first>" in corrupt[3]
    assert corrupt[4] is not None and "given" in corrupt[4]
    assert [r[RECORD_COLUMN] for r in rows] == list(range(1, 7))


def test_undeclared_elements_and_attributes_are_counted_never_named(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path, DOC)
    stats = ParseStats()
    list(parse_xml(path, _client(), stats))
    # header/count lies outside the records; a malformed record's extras count too
    assert stats.unknown == {"ssn", "name/first/given"}
    with caplog.at_level(logging.WARNING):
        read_landing(spark, path, _client()).release()
    assert [getattr(r, "undeclared_fields", None) for r in caplog.records if r.levelno >= 30] == [2]
    assert not any("ssn" in str(r.__dict__) for r in caplog.records)


def test_a_file_of_no_records_reads_zero_rows(spark: SparkSession, tmp_path: Path) -> None:
    read = read_landing(spark, _write(tmp_path, "<members/>"), _client())
    try:
        assert read.rows == 0 and read.frame.count() == 0
    finally:
        read.release()


def test_the_declaration_must_agree_with_the_client_encoding(tmp_path: Path) -> None:
    assert declared_encoding_problem('<?xml version="1.0" encoding="utf8"?>', "UTF-8") is None
    assert declared_encoding_problem("<members/>", "UTF-8") is None
    assert declared_encoding_problem("<?xml version='1.0' encoding='latin1'?>", "ISO-8859-1") is None
    assert "no encoding declaration" in (declared_encoding_problem("<m/>", "ISO-8859-1") or "")
    assert "declares encoding 'UTF-16'" in (
        declared_encoding_problem('<?xml version="1.0" encoding="UTF-16"?>', "UTF-8") or ""
    )
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><members><member id="X1"/></members>'
    path = _write(tmp_path, utf16, encoding="utf-16")
    records = list(parse_xml(path, _client(encoding="UTF-16"), ParseStats()))
    assert records == [(("X1", None, None, None), None)]


SECRET = "secret-member-9f3c1e"


def _hostile(tmp_path: Path, port: int) -> dict[str, tuple[str, str]]:
    """Hostile documents and the reason each must be rejected with."""
    target = tmp_path / "outside.txt"
    target.write_text(SECRET, encoding="utf-8")
    url = f"http://127.0.0.1:{port}"
    laughs = '<!ENTITY l0 "ha">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    return {
        "xxe_file": (
            f'<!DOCTYPE members [<!ENTITY x SYSTEM "file://{target}">]>'
            '<members><member id="X1"><name><first>&x;</first></name></member></members>',
            "xml_forbidden_construct",
        ),
        "xxe_http": (
            f'<!DOCTYPE members [<!ENTITY x SYSTEM "{url}/entity">]>'
            '<members><member id="&x;"/></members>',
            "xml_forbidden_construct",
        ),
        "external_dtd": (
            f'<!DOCTYPE members SYSTEM "{url}/members.dtd"><members/>',
            "xml_forbidden_construct",
        ),
        "parameter_entity": (
            f'<!DOCTYPE members [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]><members/>',
            "xml_forbidden_construct",
        ),
        "billion_laughs": (
            f'<!DOCTYPE members [{laughs}]><members><member id="&l9;"/></members>',
            "xml_forbidden_construct",
        ),
        "quadratic_blowup": (
            f'<!DOCTYPE members [<!ENTITY a "{"x" * 50_000}">]>'
            f'<members><member id="X1"><age>{"&a;" * 50_000}</age></member></members>',
            "xml_forbidden_construct",
        ),
        "deep_nesting": ("<members>" + "<a>" * 10_000 + "</a>" * 10_000 + "</members>", "xml_too_deep"),
        "not_well_formed": ('<members><member id="X1"></members>', "unparseable_xml"),
        "undefined_entity": ('<members><member id="&x;"/></members>', "unparseable_xml"),
        "two_roots": ("<members/><members/>", "unparseable_xml"),
        "wrong_root": ('<patients><member id="X1"/></patients>', "unexpected_xml_root"),
        "declared_latin1": (
            '<?xml version="1.0" encoding="ISO-8859-1"?><members/>',
            "xml_encoding_mismatch",
        ),
        "whitespace_only": ("  \n", "empty_file"),
    }


def test_hostile_xml_is_refused_and_reads_nothing(tmp_path: Path, httpserver: HTTPServer) -> None:
    cases = _hostile(tmp_path, httpserver.port)
    for kind, (text, reason) in cases.items():
        path = _write(tmp_path, text)
        with pytest.raises(FileProblem) as info:
            list(parse_xml(path, _client(), ParseStats()))
        assert info.value.reason == reason, kind
        assert SECRET not in info.value.message and "127.0.0.1" not in info.value.message, kind
    assert httpserver.log == []  # no request reached the local server


def test_a_hostile_file_is_rejected_with_its_reason(
    spark: SparkSession, tmp_path: Path, httpserver: HTTPServer
) -> None:
    text, reason = _hostile(tmp_path, httpserver.port)["xxe_file"]
    with pytest.raises(LandingFileError) as info:
        read_landing(spark, _write(tmp_path, text), _client())
    assert (info.value.reason, info.value.client) == (reason, "ex")
    assert SECRET not in str(info.value) and str(tmp_path) not in str(info.value)


def test_xml_config_is_checked() -> None:
    with pytest.raises(ValueError, match="format xml needs"):
        _client(xml=None)
    with pytest.raises(ValueError, match="element names separated by '/'"):
        _client(xml={"record": "members//member"})
    with pytest.raises(ValueError, match="is not an XML path"):
        ClientConfig.model_validate(
            {
                "client_id": "ex",
                "dataset": "members",
                "columns": [{"name": "member_id", "source": "@id/x", "required": True}],
                "merge_key": ["member_id"],
                "file": {"format": "xml", "xml": {"record": "members/member"}},
            }
        )


def test_a_link_in_place_of_the_file_is_never_followed(
    spark: SparkSession, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.xml"
    target.write_text('<members><member id="X1"/></members>', encoding="utf-8")
    link = tmp_path / "ex_2026-01-06.xml"
    link.symlink_to(target)
    with pytest.raises(Exception, match="symbolic link"):
        read_landing(spark, link, _client())
