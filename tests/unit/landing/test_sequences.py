"""Sequence gaps (``landing/sequences.py``) and the canonical ``_N`` of the name contract."""

from __future__ import annotations

import datetime as dt

import pytest

from lakehouse.config.models import ClientConfig
from lakehouse.errors import LandingFileError
from lakehouse.landing.filenames import RejectReason, parse_file_name
from lakehouse.landing.sequences import gap_reason, missing_sequences


@pytest.mark.parametrize(
    ("sequence", "delivered", "missing"),
    [
        (0, [], []),  # a bare name needs no predecessor
        (1, [], []),
        (2, [1], []),
        (2, [0], [1]),  # the bare file is not _1
        (3, [1], [2]),
        (5, [0, 2], [1, 3, 4]),
        (3, [1, 2, 7], []),
    ],
)
def test_missing_sequences(sequence: int, delivered: list[int], missing: list[int]) -> None:
    assert missing_sequences(sequence, delivered) == missing


def test_gap_reason_names_at_most_ten_numbers_and_keeps_an_existing_reason() -> None:
    assert gap_reason([]) is None and gap_reason([], "released") == "released"
    assert gap_reason([2]) == "sequence_gap:missing=2"
    assert gap_reason([2, 4], "released") == "released;sequence_gap:missing=2,4"
    assert gap_reason(list(range(1, 14))) == "sequence_gap:missing=1,2,3,4,5,6,7,8,9,10,+3"


@pytest.mark.parametrize("name", ["acme_2026-01-05_0.csv", "acme_2026-01-05_01.csv"])
def test_a_zero_or_zero_padded_sequence_is_refused(
    clients: dict[str, ClientConfig], name: str
) -> None:
    with pytest.raises(LandingFileError, match="numbers start at _1") as raised:
        parse_file_name(name, clients, today=dt.date(2026, 2, 1))
    assert raised.value.reason == RejectReason.BAD_SEQUENCE


@pytest.mark.parametrize(("name", "sequence"), [("acme_2026-01-05.csv", 0), ("acme_2026-01-05_10.csv", 10)])
def test_canonical_sequences_parse(clients: dict[str, ClientConfig], name: str, sequence: int) -> None:
    assert parse_file_name(name, clients, today=dt.date(2026, 2, 1)).sequence == sequence
