"""A corpus of bad landing input, each kind with the outcome the job must produce.

Every kind is written into ONE landing directory next to good files, so one run proves that
none of them crashes the job or blocks another client's files. Outcomes:
- ``Rejected(reason)``: the file is audited REJECTED with that reason, nothing is written;
- ``Rows(read, bad)``: the file is read; ``bad`` of its ``read`` records are quarantined
  (``reasons`` lists codes that must appear), the rest are valid;
- ``Duplicate``: audited DUPLICATE (same bytes as an ingested file);
- ``Ignored``: never picked up (hidden in-progress names).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BadInput", "Duplicate", "Ignored", "Rejected", "Rows", "write_corpus"]

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
class Duplicate:
    pass


@dataclass(frozen=True)
class Ignored:
    pass


Outcome = Rejected | Rows | Duplicate | Ignored


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


def write_corpus(landing: Path, outside: Path) -> list[BadInput]:
    """Write every kind into ``landing`` (plus a symlink pointing outside it)."""
    landing.mkdir(parents=True, exist_ok=True)
    items = corpus()
    for i, item in enumerate(items):
        path = landing / item.name
        path.write_bytes(item.content)
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))  # the duplicate comes later
    outside.mkdir(parents=True, exist_ok=True)
    secret = outside / "secret.csv"
    secret.write_bytes(_csv(*_good(3200)))
    link = BadInput("symlink", "acme_2026-03-22.csv", b"", Rejected("not_a_regular_file"))
    (landing / link.name).symlink_to(secret)
    return [*items, link]
