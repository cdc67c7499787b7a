"""A corpus of bad landing input, each kind with the outcome the job must produce.

Every kind is written into ONE landing directory next to good files, so one run proves that
none of them crashes the job or blocks another client's files. Outcomes:
- ``Rejected(reason)``: the file is audited REJECTED with that reason, nothing is written;
- ``Rows(read, bad)``: the file is read; ``bad`` of its ``read`` records are quarantined
  (``reasons`` lists codes that must appear), the rest are valid;
- ``Held(reason)``: audited HELD with that reason (bronze and quarantine written, no silver);
- ``Duplicate``: audited DUPLICATE (same bytes as an ingested file);
- ``Ignored``: never picked up (hidden in-progress names).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "XXE_SECRET",
    "BadInput",
    "Duplicate",
    "Held",
    "Ignored",
    "Rejected",
    "Rows",
    "format_corpus",
    "write_corpus",
]

HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan"
GOOD_ROW = "AC{n:07d},Ann,Lee,1970-05-05,(212) 555-0142,ann@example.org,10001,gold"


@dataclass(frozen=True)
class Rejected:
    reason: str


@dataclass(frozen=True)
class Rows:
    read: int
    bad: int
    reasons: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Held:
    reason: str
    read: int


@dataclass(frozen=True)
class Duplicate:
    pass


@dataclass(frozen=True)
class Ignored:
    pass


Outcome = Rejected | Rows | Held | Duplicate | Ignored


@dataclass(frozen=True)
class BadInput:
    kind: str
    name: str
    content: bytes
    outcome: Outcome


def _good(start: int, count: int = 3) -> list[str]:
    return [GOOD_ROW.format(n=start + i) for i in range(count)]


def _csv(*rows: str, header: str = HEADER, end: str = "\n") -> bytes:
    return (end.join([header, *rows]) + end).encode()


def _day(i: int) -> str:
    return f"2026-0{1 + i // 28}-{1 + i % 28:02d}"


def corpus() -> list[BadInput]:
    """The kinds, each in its own acme file (distinct creation dates keep names unique)."""
    kinds: list[tuple[str, bytes | None, str | None, Outcome]] = [
        # (kind, content, explicit name or None, outcome)
        (
            "unbalanced_quote",
            _csv(*_good(100), 'AC0000199,"Ann,Lee,1970-05-05,,,10001,gold'),
            None,
            Rows(4, 1, frozenset({"_record:malformed"})),
        ),
        (
            "extra_fields",
            _csv(*_good(200), GOOD_ROW.format(n=299) + ",x,y"),
            None,
            Rows(4, 1, frozenset({"_record:malformed"})),
        ),
        (
            "missing_fields",
            _csv(*_good(300), "AC0000399,Ann,Lee"),
            None,
            Rows(4, 1, frozenset({"_record:malformed"})),
        ),
        (
            "header_missing",
            _csv(*_good(400), header=GOOD_ROW.format(n=499)),
            None,
            Rejected("missing_columns"),
        ),
        (
            "header_misspelt",
            _csv(*_good(500), header=HEADER.replace("MemberID", "MemberId")),
            None,
            Rejected("missing_columns"),
        ),
        (
            "duplicate_header",
            _csv(*_good(600), header=HEADER + ",Plan"),
            None,
            Rejected("duplicate_header"),
        ),
        ("utf8_bom", b"\xef\xbb\xbf" + _csv(*_good(700)), None, Rows(3, 0)),
        (
            "latin1",
            _csv(*_good(800)).replace(b"Ann,Lee", "José,Lee".encode("latin-1"), 1),
            None,
            Rejected("invalid_encoding"),
        ),
        ("utf16", _csv(*_good(900)).decode().encode("utf-16"), None, Rejected("invalid_encoding")),
        (
            # Records ending in a mix of \r\n and \n (or \r) are read exactly: line-based
            # when no quoted value holds a line break, else split on \n with the \r left
            # by \r\n records removed. A stray \r in the last value (Plan) would fail its
            # isin check: zero quarantined rows proves there is none.
            "lf_first_mixed",
            _csv(*_good(1000), end="\r\n").replace(b"\r\n", b"\n", 2),
            None,
            Rows(3, 0),
        ),
        (
            "crlf_first_mixed",  # a CRLF header (one tool), LF records (another)
            _csv(*_good(1050, 8)).replace(b"\n", b"\r\n", 1),
            None,
            Rows(8, 0),
        ),
        (
            "mixed_with_newline_in_quotes",
            _csv(
                *_good(1060, 2), GOOD_ROW.format(n=1062).replace(",Lee,", ',"Lee\nJr",'), end="\n"
            ).replace(b"\n", b"\r\n", 1),
            None,
            Rows(3, 0),
        ),
        (
            # Bare \r record ends mixed with \n ones while a quoted value holds a line break:
            # no one separator splits it; rejected whole, with the reason.
            "cr_mixed_with_newline_in_quotes",
            _csv(
                *_good(1070, 2), GOOD_ROW.format(n=1072).replace(",Lee,", ',"Lee\nJr",'), end="\n"
            ).replace(b"\n", b"\r", 2),
            None,
            Rejected("mixed_line_endings"),
        ),
        ("crlf", _csv(*_good(1100), end="\r\n"), None, Rows(3, 0)),
        (
            # A CRLF file whose quoted value holds a bare \n (a spreadsheet cell's line
            # break): still three records, the break kept in the value.
            "crlf_newline_in_quotes",
            _csv(
                *_good(1150, 2), GOOD_ROW.format(n=1152).replace(",Lee,", ',"Lee\nJr",'), end="\r\n"
            ),
            None,
            Rows(3, 0),
        ),
        ("cr_only", _csv(*_good(1170), end="\r"), None, Rows(3, 0)),
        ("empty_file", b"", None, Rejected("empty_file")),
        ("header_only", _csv(), None, Rows(0, 0)),
        ("binary_garbage", bytes(range(256)) * 64, None, Rejected("invalid_encoding")),
        (
            "ten_mb_field",
            _csv(*_good(1400), GOOD_ROW.format(n=1499).replace("Ann,", "A" * 10_000_000 + ",", 1)),
            None,
            Rows(4, 1, frozenset({"first_name:too_long"})),
        ),
        (
            "nul_bytes",
            _csv(*_good(1500), GOOD_ROW.format(n=1599).replace("Lee", "L\x00ee")),
            None,
            Rows(4, 1, frozenset({"last_name:control_characters"})),
        ),
        (
            "very_long_line",
            _csv(*_good(1600), GOOD_ROW.format(n=1699) + "," * 50_000),
            None,
            Rows(4, 1, frozenset({"_record:malformed"})),
        ),
        ("misnamed", _csv(*_good(1700)), "acme-2026-01-05.csv", Rejected("misnamed_file")),
        (
            "unknown_client",
            _csv(*_good(1800)),
            "umbrella_2026-01-05.csv",
            Rejected("unknown_client"),
        ),
        (
            "invalid_name_date",
            _csv(*_good(1900)),
            "acme_2026-02-30.csv",
            Rejected("invalid_creation_date"),
        ),
        (
            "future_creation_date",
            _csv(*_good(2000)),
            "acme_2099-01-01.csv",
            Rejected("future_creation_date"),
        ),
        (
            "path_traversal_name",
            _csv(*_good(2100)),
            "acme_..%2F..%2Fetc_2026-01-05.csv",
            Rejected("misnamed_file"),
        ),
        ("uppercase_name", _csv(*_good(2200)), "ACME_2026-01-05.csv", Rejected("misnamed_file")),
        (
            "formula_injection",
            _csv(
                *_good(2300),
                GOOD_ROW.format(n=2399).replace("Ann", '"=HYPERLINK(""http://x"")"'),
                GOOD_ROW.format(n=2398).replace("Lee", "@SUM(1)"),
            ),
            None,
            Rows(5, 2, frozenset({"first_name:formula", "last_name:formula"})),
        ),
        (
            "huge_numbers",
            _csv(*_good(2400), GOOD_ROW.format(n=2499).replace("10001", "1" * 40)),
            None,
            Rows(4, 1, frozenset({"zip:invalid_zip"})),
        ),
        (
            "whitespace_only_values",
            _csv(*_good(2500), "AC0002599,   ,Lee,1970-05-05, , ,\t,gold"),
            None,
            Rows(4, 1, frozenset({"first_name:not_null"})),
        ),
        (
            "unicode_confusable_key",
            _csv(*_good(2600), GOOD_ROW.format(n=2699).replace("AC", "\u0410\u0421", 1)),
            None,
            Rows(4, 1, frozenset({"member_id:regex"})),
        ),
        (
            "fullwidth_digits_key",
            _csv(*_good(2700), GOOD_ROW.format(n=2799).replace("AC0002799", "AC000２７９９")),
            None,
            Rows(4, 1, frozenset({"member_id:regex"})),
        ),
        (
            "duplicate_keys",
            _csv(*_good(2800), GOOD_ROW.format(n=2800)),
            None,
            Rows(4, 2, frozenset({"member_id:duplicate_key_in_file"})),
        ),
        (
            # A header acme.yaml does not declare: the default schema_evolution mode,
            # failOnNewColumns, holds the file (an unclassified column may hold PII).
            "undeclared_column",
            _csv(*[r + ",x" for r in _good(3000)], header=HEADER + ",Nickname"),
            None,
            Held("schema_drift:new_columns=1", 3),
        ),
        (
            "quoted_newline_in_name",
            _csv(*_good(2900), GOOD_ROW.format(n=2999).replace("Ann", '"An\nn"')),
            None,
            Rows(4, 0),
        ),
    ]
    items = [
        BadInput(kind, name or f"acme_{_day(i)}.csv", content or b"", outcome)
        for i, (kind, content, name, outcome) in enumerate(kinds)
    ]
    first_good = next(i for i in items if i.kind == "crlf")
    items.append(
        BadInput("same_file_twice", "acme_2026-03-20.csv", first_good.content, Duplicate())
    )
    items.append(
        BadInput(
            "partial_file_in_progress",
            ".acme_2026-03-21.csv.partial",
            _csv(*_good(3100))[:40],
            Ignored(),
        )
    )
    return items


# What the XXE cases point at: it must appear nowhere (audit, tables, logs).
XXE_SECRET = "xxe-target-7d41b2-must-not-leak"


def format_corpus(outside: Path, http_port: int) -> list[BadInput]:
    """Bad JSON-lines and hostile XML for the format clients (tests/e2e/format_clients.py).

    The XXE cases point at a real file under ``outside`` holding ``XXE_SECRET`` and at a
    local HTTP server on ``http_port`` that must receive no request.
    """
    target = outside / "xxe-target.txt"
    url = f"http://127.0.0.1:{http_port}"
    laughs = '<!ENTITY l0 "ha">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    member = '<member id="M{n:04d}"><name><first>Ann</first></name><dob>1970-05-05</dob></member>'
    good_xml = "".join(member.format(n=n) for n in range(1, 3))
    good_json = "".join(
        f'{{"id": "M{n:04d}", "name": {{"first": "Ann"}}, "dob": "1970-05-05"}}\n'
        for n in range(1, 4)
    )
    jsonl: list[tuple[str, bytes, Outcome]] = [
        (
            "jsonl_array_document",
            b'[{"id": "M0001"},\n {"id": "M0002"}]\n',
            Rejected("unparseable_json"),
        ),
        (
            "jsonl_malformed_lines",
            (good_json + '{"id": "M0009", "id": "M0008"}\n[1]\n').encode(),
            Rows(5, 2, frozenset({"_record:malformed"})),
        ),
        (
            "jsonl_latin1",
            good_json.replace("Ann", "José").encode("latin-1"),
            Rejected("invalid_encoding"),
        ),
        ("jsonl_blank_lines_only", b"\n  \n\n", Rejected("empty_file")),
    ]
    xml: list[tuple[str, bytes, Outcome]] = [
        (
            "xml_xxe_file",
            (
                f'<!DOCTYPE members [<!ENTITY x SYSTEM "file://{target}">]>'
                '<members><member id="M0001"><name><first>&x;</first></name></member></members>'
            ).encode(),
            Rejected("xml_forbidden_construct"),
        ),
        (
            "xml_xxe_http",
            f'<!DOCTYPE members [<!ENTITY x SYSTEM "{url}/entity">]>'
            '<members><member id="&x;"/></members>'.encode(),
            Rejected("xml_forbidden_construct"),
        ),
        (
            "xml_external_dtd",
            f'<!DOCTYPE members SYSTEM "{url}/members.dtd"><members>{good_xml}</members>'.encode(),
            Rejected("xml_forbidden_construct"),
        ),
        (
            "xml_billion_laughs",
            f'<!DOCTYPE members [{laughs}]><members><member id="&l9;"/></members>'.encode(),
            Rejected("xml_forbidden_construct"),
        ),
        (
            "xml_quadratic_blowup",
            (
                f'<!DOCTYPE members [<!ENTITY a "{"x" * 50_000}">]>'
                f'<members><member id="M0001"><dob>{"&a;" * 50_000}</dob></member></members>'
            ).encode(),
            Rejected("xml_forbidden_construct"),
        ),
        (
            "xml_deep_nesting",
            ("<members>" + "<a>" * 10_000 + "</a>" * 10_000 + "</members>").encode(),
            Rejected("xml_too_deep"),
        ),
        (
            "xml_not_well_formed",
            f"<members>{good_xml}<member id='M0003'></members>".encode(),
            Rejected("unparseable_xml"),
        ),
        (
            "xml_declared_encoding_mismatch",
            f'<?xml version="1.0" encoding="ISO-8859-1"?><members>{good_xml}</members>'.encode(),
            Rejected("xml_encoding_mismatch"),
        ),
        (
            "xml_repeated_element",
            f"<members>{good_xml}<member id='M0003'><name><first>A</first><first>B</first>"
            "</name></member></members>".encode(),
            Rows(3, 1, frozenset({"_record:malformed"})),
        ),
    ]
    items = [
        BadInput(kind, f"jsonco_{_day(i)}.jsonl", content, outcome)
        for i, (kind, content, outcome) in enumerate(jsonl)
    ]
    items += [
        BadInput(kind, f"xmlco_{_day(i)}.xml", content, outcome)
        for i, (kind, content, outcome) in enumerate(xml)
    ]
    items.append(
        BadInput(
            "xml_client_sends_csv",
            "xmlco_2026-03-01.csv",
            b"id\nM0001\n",
            Rejected("misnamed_file"),
        )
    )
    return items


def write_corpus(landing: Path, outside: Path, *, http_port: int | None = None) -> list[BadInput]:
    """Write every kind into ``landing`` (plus a symlink pointing outside it); with
    ``http_port``, also the format clients' kinds (``format_corpus``)."""
    landing.mkdir(parents=True, exist_ok=True)
    items = corpus()
    outside.mkdir(parents=True, exist_ok=True)
    if http_port is not None:
        (outside / "xxe-target.txt").write_text(XXE_SECRET, encoding="utf-8")
        items += format_corpus(outside, http_port)
    for i, item in enumerate(items):
        path = landing / item.name
        path.write_bytes(item.content)
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))  # the duplicate comes later
    secret = outside / "secret.csv"
    secret.write_bytes(_csv(*_good(3200)))
    link = BadInput("symlink", "acme_2026-03-22.csv", b"", Rejected("not_a_regular_file"))
    (landing / link.name).symlink_to(secret)
    return [*items, link]
