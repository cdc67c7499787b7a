"""Free-text PHI recognisers: what they find, what they leave, and property tests."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lakehouse.pii.phi import KINDS, Redactor, luhn_valid, ssn_valid

REDACTOR = Redactor(mrn_patterns=("GM[0-9]{8}",))


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("SSN on file 123-45-6789.", "SSN on file [SSN].", "ssn"),
        ("ssn 123 45 6789", "ssn [SSN]", "ssn"),
        ("SSN: 123456789", "SSN: [SSN]", "ssn"),
        ("card 4111 1111 1111 1111 ok", "card [CARD] ok", "card"),
        ("card 4111-1111-1111-1111", "card [CARD]", "card"),
        ("card 4111111111111111", "card [CARD]", "card"),
        ("amex 378282246310005", "amex [CARD]", "card"),
        ("call (212) 555-0142 today", "call [PHONE] today", "phone"),
        ("call 212-555-0142", "call [PHONE]", "phone"),
        ("call 212.555.0142", "call [PHONE]", "phone"),
        ("call +1 212 555 0142", "call [PHONE]", "phone"),
        ("call 1-212-555-0142", "call [PHONE]", "phone"),
        ("phone: 2125550142", "phone: [PHONE]", "phone"),
        ("mail Ann.Lee+x@Mail.Example.org.", "mail [EMAIL].", "email"),
        ("DOB 05/17/1970", "DOB [DATE]", "date"),
        ("born 1970-05-17", "born [DATE]", "date"),
        ("DOB 17.05.1970", "DOB [DATE]", "date"),
        ("DOB: 19700517", "DOB: [DATE]", "date"),
        ("chart MRN GM12345678", "chart MRN [MRN]", "mrn"),
    ],
)
def test_recognises(text: str, expected: str, kind: str) -> None:
    redacted, counts = REDACTOR.redact(text)
    assert redacted == expected
    assert counts[kind] >= 1 and sum(counts.values()) == counts[kind]


@pytest.mark.parametrize(
    "text",
    [
        "no changes requested",
        "card 4111 1111 1111 1112",  # Luhn fails
        "SSN 000-12-3456, 666-12-3456, 912-34-5678, 123-00-4567, 123-45-0000",  # invalid SSA
        "order 123456789 shipped",  # nine digits without an SSN keyword
        "npi 1234567893",  # ten digits without a phone keyword
        "plan GOLD since 2019",  # a year alone is not a date element
        "zip 10001-1234",
        "GM1234567 is too short, XGM12345678 is inside a word",
        "[SSN] [CARD] [PHONE]",  # labels are not findings
    ],
)
def test_leaves_non_phi(text: str) -> None:
    redacted, counts = REDACTOR.redact(text)
    assert redacted == text and not any(counts.values())


def test_counts_several_findings_and_kinds() -> None:
    text = "SSN 123-45-6789; call 212-555-0142 or 212-555-0143; a@example.org; GM12345678"
    redacted, counts = REDACTOR.redact(text)
    assert redacted == "SSN [SSN]; call [PHONE] or [PHONE]; [EMAIL]; [MRN]"
    assert counts == {"email": 1, "mrn": 1, "card": 0, "ssn": 1, "phone": 2, "date": 0}


def test_redact_many_keeps_nulls_and_counts_per_value() -> None:
    texts, counts = REDACTOR.redact_many(["SSN 123-45-6789", None, "plain"])
    assert texts == ["SSN [SSN]", None, "plain"]
    assert counts["ssn"] == [1, 0, 0] and set(counts) == set(KINDS)


def test_client_without_mrn_patterns_leaves_mrns() -> None:
    assert Redactor().redact("MRN GM12345678")[0] == "MRN GM12345678"


# --- property tests -------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=12, max_size=18))
def test_luhn_completion_is_valid_and_one_digit_changes_break_it(body: str) -> None:
    number = _luhn_complete(body)
    assert luhn_valid(number)
    for index in range(len(number)):
        for digit in "0123456789":
            if digit != number[index]:
                changed = number[:index] + digit + number[index + 1 :]
                assert not luhn_valid(changed)  # Luhn catches every single-digit error


@given(
    body=st.text(alphabet="0123456789", min_size=12, max_size=18),
    separator=st.sampled_from(["", " ", "-"]),
    prefix=st.sampled_from(["paid with ", "card: ", "", "x "]),
)
def test_any_luhn_valid_card_is_redacted(body: str, separator: str, prefix: str) -> None:
    number = _luhn_complete(body)
    grouped = separator.join(number[i : i + 4] for i in range(0, len(number), 4))
    redacted, counts = REDACTOR.redact(f"{prefix}{grouped} thanks")
    assert redacted == f"{prefix}[CARD] thanks" and counts["card"] == 1


@given(st.text(alphabet="0123456789", min_size=15, max_size=16))
def test_luhn_invalid_numbers_are_left(number: str) -> None:
    assume(not luhn_valid(number))
    assert "[CARD]" not in REDACTOR.redact(f"ref {number} end")[0]


_AREA = st.integers(1, 899).filter(lambda a: a != 666)


@given(
    area=_AREA,
    group=st.integers(1, 99),
    serial=st.integers(1, 9999),
    separator=st.sampled_from(["-", " "]),
)
def test_every_valid_ssn_shape_is_redacted(
    area: int, group: int, serial: int, separator: str
) -> None:
    ssn = f"{area:03d}{separator}{group:02d}{separator}{serial:04d}"
    assert ssn_valid(f"{area:03d}", f"{group:02d}", f"{serial:04d}")
    redacted, counts = REDACTOR.redact(f"member ssn {ssn}.")
    assert redacted == "member ssn [SSN]." and counts["ssn"] == 1


@given(
    area=st.one_of(st.just(0), st.just(666), st.integers(900, 999)),
    group=st.integers(0, 99),
    serial=st.integers(0, 9999),
)
def test_invalid_ssn_areas_are_never_ssns(area: int, group: int, serial: int) -> None:
    ssn = f"{area:03d}-{group:02d}-{serial:04d}"
    assert not ssn_valid(f"{area:03d}", f"{group:02d}", f"{serial:04d}")
    assert "[SSN]" not in REDACTOR.redact(f"id {ssn}")[0]


@given(st.text(max_size=200))
def test_redaction_is_idempotent_and_never_grows_findings(text: str) -> None:
    once, _ = REDACTOR.redact(text)
    twice, counts = REDACTOR.redact(once)
    assert twice == once and not any(counts.values())
