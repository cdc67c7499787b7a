"""Free-text PHI recognisers: find and redact identifiers in notes-like columns.

Regex recognisers with validation where the shape alone is not enough (Luhn for card
numbers, SSA rules for SSNs). They run per Arrow batch on the executors
(``lakehouse.pii.udfs.redact_column``); this module is plain Python so every rule is unit- and
property-tested directly.

Kinds and their replacement labels, applied in this order (each later recogniser sees the
earlier labels, never the values they replaced)::

    email  [EMAIL]   local@domain.tld
    mrn    [MRN]     the client's ``phi.mrn_patterns``
    card   [CARD]    13-19 digits, optionally grouped by spaces/dashes, passing Luhn
    ssn    [SSN]     AAA-GG-SSSS / AAA GG SSSS (valid area, group, serial); 9 bare digits only
                     after an SSN keyword
    phone  [PHONE]   North American numbers with separators or a +1 prefix; 10 bare digits
                     only after a phone keyword
    date   [DATE]    full dates (ISO, US/European with / . -, compact after a DOB keyword):
                     HIPAA Safe Harbor removes every date element but the year

Not covered (no NER model offline): personal names and street addresses in free text. Keep
such columns encrypted (``pii: encrypt``) rather than ``keep``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["KINDS", "LABELS", "Redactor", "luhn_valid", "ssn_valid"]

KINDS = ("email", "mrn", "card", "ssn", "phone", "date")
LABELS = {kind: f"[{kind.upper()}]" for kind in KINDS}

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)
# 13-19 digits, single spaces or dashes allowed between digits (4-4-4-4, 4-6-5, ...).
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_SSN_SEPARATED = re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])")
_SSN_KEYWORD = re.compile(
    r"(?i)\b(?:ssn|social\s+security(?:\s+(?:no|number|#))?)\b[\s:#.-]{0,4}(\d{9})(?!\d)"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?(?:\(\s*[2-9]\d{2}\s*\)|[2-9]\d{2})[\s.-]?[2-9]\d{2}[\s.-]\d{4}(?!\d)"
    r"|(?<![\w+])\+1[\s.-]?[2-9]\d{2}[\s.-]?[2-9]\d{2}[\s.-]?\d{4}(?!\d)"
)
_PHONE_KEYWORD = re.compile(
    r"(?i)\b(?:phone|tel|cell|mobile|call(?:\s+back)?(?:\s+at)?)\b[\s:#.-]{0,4}([2-9]\d{9})(?!\d)"
)
_DATE = re.compile(
    r"(?<![\d/.-])(?:"
    r"(?:19|20)\d{2}-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])"  # ISO
    r"|(?:0?[1-9]|[12]\d|3[01])[/.-](?:0?[1-9]|[12]\d|3[01])[/.-](?:(?:19|20)\d{2}|\d{2})"
    r")(?![\d/.-])"
)
_DATE_KEYWORD = re.compile(
    r"(?i)\b(?:dob|d\.o\.b\.?|born|birth\s*date|date\s+of\s+birth)\b[\s:#.-]{0,4}"
    r"((?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?!\d)"
)


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check of a string of digits."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000."""
    return (
        len(area) == 3
        and len(group) == 2
        and len(serial) == 4
        and area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
    )


def _card(match: re.Match[str]) -> bool:
    digits = re.sub(r"[ -]", "", match.group(0))
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


@dataclass(frozen=True)
class Redactor:
    """Recognisers for one client (its MRN patterns); ``redact`` is pure and thread-safe."""

    mrn_patterns: Sequence[str] = ()
    _mrn: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_mrn", tuple(_compile(p) for p in self.mrn_patterns))

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """(text with every finding replaced by its label, findings per kind)."""
        counts = dict.fromkeys(KINDS, 0)
        text, counts["email"] = _EMAIL.subn(LABELS["email"], text)
        for pattern in self._mrn:
            text, found = pattern.subn(LABELS["mrn"], text)
            counts["mrn"] += found
        text, counts["card"] = _sub_if(_CARD, text, LABELS["card"], _card)
        text, counts["ssn"] = _sub_if(
            _SSN_SEPARATED, text, LABELS["ssn"], lambda m: ssn_valid(m[1], m[3], m[4])
        )
        text, found = _sub_group(_SSN_KEYWORD, text, LABELS["ssn"], _ssn_bare)
        counts["ssn"] += found
        text, counts["phone"] = _PHONE.subn(LABELS["phone"], text)
        text, found = _sub_group(_PHONE_KEYWORD, text, LABELS["phone"], lambda _: True)
        counts["phone"] += found
        text, counts["date"] = _DATE.subn(LABELS["date"], text)
        text, found = _sub_group(_DATE_KEYWORD, text, LABELS["date"], lambda _: True)
        counts["date"] += found
        return text, counts

    def redact_many(
        self, values: Sequence[str | None]
    ) -> tuple[list[str | None], dict[str, list[int]]]:
        """Batch form: redacted values and, per kind, a count per value (0 for NULL)."""
        out: list[str | None] = []
        per_kind: dict[str, list[int]] = {kind: [] for kind in KINDS}
        for value in values:
            if value is None:
                out.append(None)
                for kind in KINDS:
                    per_kind[kind].append(0)
                continue
            redacted, counts = self.redact(value)
            out.append(redacted)
            for kind in KINDS:
                per_kind[kind].append(counts[kind])
        return out, per_kind


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    # Client patterns are matched as whole tokens: MRN "GX1234567" not inside a longer word.
    return re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])")


def _ssn_bare(digits: str) -> bool:
    return ssn_valid(digits[:3], digits[3:5], digits[5:])


def _sub_if(
    pattern: re.Pattern[str], text: str, label: str, accept: Callable[[re.Match[str]], bool]
) -> tuple[str, int]:
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if accept(match):
            count += 1
            return label
        return match.group(0)

    return pattern.sub(replace, text), count


def _sub_group(
    pattern: re.Pattern[str], text: str, label: str, accept: Callable[[str], bool]
) -> tuple[str, int]:
    """Replace only group 1 of each match (the keyword stays readable)."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if not accept(match.group(1)):
            return match.group(0)
        count += 1
        start, end = match.span(1)
        whole = match.group(0)
        offset = match.start(0)
        return whole[: start - offset] + label + whole[end - offset :]

    return pattern.sub(replace, text), count
