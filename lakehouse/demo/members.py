"""Fake members, and how one client's export spells them.

``MemberFactory`` makes ``Member`` records with clean values (Faker names from several locales,
real NANP phone numbers, ZIPs, plans). ``ClientLayout`` reads a ``ClientConfig`` to learn which
column holds what, and ``render`` turns a member into the text of one CSV record in the
messy-but-valid ways real extracts look: several date and phone formats, odd casing, stray
spaces, ZIPs that lost their leading zero. Every random draw goes through the caller's seeded
``random.Random`` or a seeded ``Faker``, so the output is reproducible byte for byte.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from faker import Faker

from lakehouse.config.models import ClientConfig, ColumnSpec
from lakehouse.errors import ConfigError

__all__ = ["ClientLayout", "Member", "MemberFactory", "format_date", "render"]

Role = Literal[
    "first_name", "last_name", "birth_date", "phone", "email", "zip", "choice", "digits", "notes"
]

# Locale mix: en_IE brings O'Brien and Anne-Marie, the others accents and multi-word names.
_LOCALES: tuple[tuple[str, int], ...] = (
    ("en_US", 55),
    ("es_MX", 14),
    ("en_IE", 10),
    ("fr_FR", 8),
    ("de_DE", 8),
    ("pt_BR", 5),
)
# Assigned area codes only: phonenumbers, which the pipeline uses, rejects unassigned ones.
_AREA_CODES = (
    "201", "202", "206", "212", "213", "214", "215", "303", "305", "312", "313", "404", "407",
    "415", "503", "512", "602", "614", "617", "646", "702", "704", "713", "718", "720", "773",
    "808", "813", "917", "919", "973",
)  # fmt: skip
_PHONE_FORMATS = (
    "({a}) {e}-{l}",
    "{a}-{e}-{l}",
    "{a}.{e}.{l}",
    "{a}{e}{l}",
    "+1 {a} {e} {l}",
    "1-{a}-{e}-{l}",
)
# Reserved example domains: the demo never holds an address a real person could own.
_EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
_NICKNAMES = ("Bobby", "Liz", "Kate", "Bill", "Peggy", "Jim", "Sandy", "Chuck")
_BIRTH_FIRST = dt.date(1930, 1, 1).toordinal()
_BIRTH_LAST = dt.date(2020, 12, 31).toordinal()
_DATE_TOKEN = re.compile(r"yyyy|MM|dd|M|d")
_KEY_REGEX = re.compile(r"\^([A-Za-z0-9-]*)\[0-9\]\{([0-9]+)\}\$")


def format_date(value: dt.date, pattern: str) -> str:
    """Spell ``value`` with a Spark date pattern made of yyyy, MM, dd, M, d and separators."""
    fields = {
        "yyyy": f"{value.year:04d}",
        "MM": f"{value.month:02d}",
        "dd": f"{value.day:02d}",
        "M": str(value.month),
        "d": str(value.day),
    }
    return _DATE_TOKEN.sub(lambda match: fields[match.group(0)], pattern)


def _digits_pattern(column: ColumnSpec) -> tuple[str, int] | None:
    """(prefix, digit count) when the column's regex is ``^PREFIX[0-9]{n}$``."""
    match = _KEY_REGEX.fullmatch(column.checks.regex or "")
    return (match[1], int(match[2])) if match else None


@dataclass(frozen=True)
class ClientLayout:
    """Which column of a client's file holds what, read from its ``ClientConfig``."""

    config: ClientConfig
    key: ColumnSpec
    key_prefix: str
    key_digits: int
    roles: Mapping[str, Role]  # column name -> role, for every column except the key

    @classmethod
    def of(cls, config: ClientConfig) -> ClientLayout:
        """Map each column to a role by name and type.

        Raises:
            ConfigError: a column the demo cannot fill (required, unknown meaning) or a key
                whose regex is not ``^PREFIX[0-9]{n}$``.
        """
        path = f"clients/{config.client_id}.yaml"
        key = config.column(config.merge_key[0])
        key_pattern = _digits_pattern(key)
        if key_pattern is None:
            raise ConfigError(
                "the demo generator needs a key regex of the form ^PREFIX[0-9]{n}$",
                path=path,
                key=f"columns.{key.name}.checks.regex",
                found=repr(key.checks.regex),
            )
        roles: dict[str, Role] = {}
        for column in config.columns:
            if column.name == key.name:
                continue
            role = _role(column)
            if role is None:
                raise ConfigError(
                    "the demo generator does not know what to put in this column",
                    path=path,
                    key=f"columns.{column.name}",
                    fix="name it like a known column (first_name, last_name, ...) or drop it",
                )
            roles[column.name] = role
        return cls(config, key, key_prefix=key_pattern[0], key_digits=key_pattern[1], roles=roles)

    def column_for(self, role: Role) -> ColumnSpec | None:
        """First column playing ``role`` (last names: the last one), if any."""
        names = [name for name, found in self.roles.items() if found == role]
        if not names:
            return None
        return self.config.column(names[-1] if role == "last_name" else names[0])


def _role(column: ColumnSpec) -> Role | None:
    if column.free_text:
        return "notes"
    by_type: dict[str, Role] = {
        "date": "birth_date",
        "phone": "phone",
        "email": "email",
        "zip": "zip",
    }
    if column.type in by_type:
        return by_type[column.type]
    if column.type == "name":
        return "first_name" if "first" in column.name or "given" in column.name else "last_name"
    if column.checks.isin:
        return "choice"
    if _digits_pattern(column) is not None:
        return "digits"
    return None


@dataclass(frozen=True)
class Member:
    """One member's current values, as the client's system holds them (already 'typed in')."""

    member_id: str
    first_name: str
    last_name: str
    birth_date: dt.date
    phone: str  # ten NANP digits; "" when the client has no phone on file
    email: str  # lower case; "" when none
    zip_code: str  # 5 digits or ZIP+4
    codes: Mapping[str, str]  # choice and digits columns by column name ("" = empty)
    locale: int  # index into _LOCALES, so a new last name fits the first name


class MemberFactory:
    """Creates and changes members for one client; deterministic for a given seed."""

    def __init__(self, layout: ClientLayout, *, seed: int, rng: random.Random) -> None:
        self.layout = layout
        self._rng = rng
        self._fakers: list[Faker] = []
        for index, (locale, _) in enumerate(_LOCALES):
            faker = Faker(locale)
            # One seed per (client, locale): adding a client does not reshuffle the others.
            faker.seed_instance(f"{seed}:{layout.config.client_id}:{index}")
            self._fakers.append(faker)
        self._weights = [weight for _, weight in _LOCALES]
        space = 10**layout.key_digits
        # A sample of the id space: unique ids without remembering every draw.
        self._ids = iter(rng.sample(range(space), min(space, 50_000)))

    def new(self) -> Member:
        rng = self._rng
        locale = rng.choices(range(len(_LOCALES)), weights=self._weights)[0]
        faker = self._fakers[locale]
        first, last = str(faker.first_name()), str(faker.last_name())
        if rng.random() < 0.03:
            last = f"{last}-{faker.last_name()}"
        number = next(self._ids)
        codes: dict[str, str] = {}
        for name, role in self.layout.roles.items():
            column = self.layout.config.column(name)
            if role == "choice":
                codes[name] = rng.choice(column.checks.isin or ("",))
            elif role == "digits":
                codes[name] = self._digits(column)
        member = Member(
            member_id=f"{self.layout.key_prefix}{number:0{self.layout.key_digits}d}",
            first_name=self._style(first),
            last_name=self._style(last),
            birth_date=dt.date.fromordinal(rng.randint(_BIRTH_FIRST, _BIRTH_LAST)),
            phone=self.phone() if rng.random() < 0.9 else "",
            email=self._email(first, last) if rng.random() < 0.9 else "",
            zip_code=self._zip(),
            codes=codes,
            locale=locale,
        )
        notes = [name for name, role in self.layout.roles.items() if role == "notes"]
        if not notes:
            return member
        return dataclasses.replace(
            member, codes={**codes, **{name: self._notes(member) for name in notes}}
        )

    def changed(self, member: Member) -> Member:
        """A later (or earlier) version of ``member``: new phone, plan and/or last name."""
        rng = self._rng
        choice = self.layout.column_for("choice")
        options = ["phone", "last_name"] + (["choice"] if choice is not None else [])
        what = rng.sample(options, rng.randint(1, 2))
        result = member
        if "phone" in what:
            result = dataclasses.replace(result, phone=self._other_phone(member.phone))
        if "last_name" in what:
            faker = self._fakers[member.locale]
            result = dataclasses.replace(result, last_name=str(faker.last_name()))
        if "choice" in what and choice is not None:
            current = member.codes[choice.name]
            others = [value for value in choice.checks.isin or () if value != current]
            codes = {**member.codes, choice.name: rng.choice(others or [current])}
            result = dataclasses.replace(result, codes=codes)
        return result

    def special(self, member: Member, kind: str) -> Member:
        """Give ``member`` a name that makes the CSV writer quote the field."""
        delimiter = self.layout.config.file.delimiter
        if kind == "suffix":  # "Smith, Jr.": a quoted comma
            return dataclasses.replace(member, last_name=f"{member.last_name}, Jr.")
        if kind == "delimiter":  # the client's own delimiter inside a name
            faker = self._fakers[member.locale]
            last = f"{member.last_name}{delimiter}{faker.last_name()}"
            return dataclasses.replace(member, last_name=last)
        if kind == "nickname":  # embedded quotes, doubled by the writer
            nickname = self._rng.choice(_NICKNAMES)
            return dataclasses.replace(member, first_name=f'{member.first_name} "{nickname}"')
        if kind == "newline":  # a name typed over two lines: one record, two physical lines
            second = self._fakers[member.locale].first_name()
            return dataclasses.replace(member, first_name=f"{member.first_name}\n{second}")
        raise ValueError(f"unknown special name kind {kind!r}")

    def phone(self) -> str:
        rng = self._rng
        exchange = rng.randrange(200, 1000)
        # N11 exchanges are service codes and 555 is mostly fictional: neither is a phone.
        while exchange % 100 == 11 or exchange == 555:
            exchange = rng.randrange(200, 1000)
        return f"{rng.choice(_AREA_CODES)}{exchange}{rng.randrange(10000):04d}"

    def _other_phone(self, current: str) -> str:
        phone = self.phone()
        while phone == current:
            phone = self.phone()
        return phone

    def _style(self, name: str) -> str:
        """Typing accidents that are still valid names: casing and stray spaces."""
        roll = self._rng.random()
        if roll < 0.02:
            return name.upper()
        if roll < 0.04:
            return name.lower()
        if roll < 0.06:
            return name[:1].lower() + name[1:].upper()  # caps lock: "mARY"
        if roll < 0.08:
            return f" {name}  " if " " not in name else name.replace(" ", "   ", 1)
        return name

    def _email(self, first: str, last: str) -> str:
        rng = self._rng
        first_part, last_part = _ascii(first) or "member", _ascii(last) or "member"
        local = rng.choice(
            (
                f"{first_part}.{last_part}",
                f"{first_part[0]}{last_part}",
                f"{first_part}{last_part}{rng.randrange(1, 100)}",
                f"{last_part}_{first_part}",
            )
        )
        return f"{local}@{rng.choice(_EMAIL_DOMAINS)}"

    def _zip(self) -> str:
        rng = self._rng
        first = rng.randrange(10)
        # A leading 0 is followed by 1-9: "00xxx" would lose two zeros and stop being a ZIP.
        second = rng.randrange(1, 10) if first == 0 else rng.randrange(10)
        zip5 = f"{first}{second}{rng.randrange(1000):03d}"
        return f"{zip5}-{rng.randrange(1, 10000):04d}" if rng.random() < 0.15 else zip5

    def _notes(self, member: Member) -> str:
        """A free-text note planting the PHI the pipeline must redact: the member's phone,
        e-mail and birth date, an SSN, a Luhn-valid card number and an MRN. Never a name
        (recognisers cannot find names), never the delimiter, a quote or a newline."""
        rng = self._rng
        if rng.random() < 0.4:
            return ""
        phone, kinds = member.phone, ("phone", "email", "dob", "ssn", "card", "mrn", "plain")
        texts: list[str] = []
        for kind in rng.sample(kinds, rng.randint(1, 3)):
            if kind == "phone" and phone:
                shown = rng.choice(_NOTE_PHONES).format(a=phone[:3], e=phone[3:6], l=phone[6:])
                texts.append(f"member called from {shown} about a claim")
            elif kind == "email" and member.email:
                texts.append(f"prefers e-mail {member.email}")
            elif kind == "dob":
                shown = format_date(member.birth_date, rng.choice(_NOTE_DATES))
                texts.append(f"DOB confirmed {shown}")
            elif kind == "ssn":
                texts.append(f"SSN on file {_ssn(rng)}")
            elif kind == "card":
                texts.append(f"paid premium with card {_card(rng)}")
            elif kind == "mrn" and self.layout.config.phi.mrn_patterns:
                texts.append(f"chart MRN {self._mrn()}")
            elif kind == "plain":
                texts.append(rng.choice(_NOTE_PLAIN))
        return "; ".join(texts) or rng.choice(_NOTE_PLAIN)

    def _mrn(self) -> str:
        match = _KEY_REGEX.fullmatch("^" + self.layout.config.phi.mrn_patterns[0] + "$")
        if match is None:
            return f"MRN{self._rng.randrange(10**7):07d}"
        return f"{match[1]}{self._rng.randrange(10 ** int(match[2])):0{match[2]}d}"

    def _digits(self, column: ColumnSpec) -> str:
        pattern = _digits_pattern(column)
        if pattern is None or (not column.required and self._rng.random() < 0.2):
            return ""
        prefix, digits = pattern
        return f"{prefix}{self._rng.randrange(10**digits):0{digits}d}"


_NOTE_PHONES = ("({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "+1 {a} {e} {l}", "1-{a}-{e}-{l}")
_NOTE_DATES = ("MM/dd/yyyy", "yyyy-MM-dd", "dd.MM.yyyy")
_NOTE_PLAIN = (
    "no changes requested",
    "address update pending, form mailed",
    "asked about dental coverage",
    "renewal reminder sent",
)


def _ssn(rng: random.Random) -> str:
    area = rng.randint(1, 899)
    area = 667 if area == 666 else area
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def _card(rng: random.Random) -> str:
    """A 16-digit number starting with 4 with a valid Luhn check digit, grouped or not."""
    body = "4" + "".join(str(rng.randrange(10)) for _ in range(14))
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    number = body + str((10 - total % 10) % 10)
    separator = rng.choice((" ", "-", ""))
    return separator.join(number[i : i + 4] for i in range(0, 16, 4))


def _ascii(text: str) -> str:
    """Lower-case ASCII letters of ``text``: 'Hélène O'Brien' -> 'heleneobrien'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed.lower() if char.isascii() and char.isalnum())


def render(member: Member, layout: ClientLayout, rng: random.Random) -> dict[str, str]:
    """The text of each column (by column name) for one valid record of ``member``."""
    values = {layout.key.name: member.member_id}
    for name, role in layout.roles.items():
        column = layout.config.column(name)
        if role == "first_name":
            values[name] = member.first_name
        elif role == "last_name":
            values[name] = member.last_name
        elif role == "birth_date":
            values[name] = format_date(member.birth_date, rng.choice(column.formats))
        elif role == "phone":
            values[name] = _render_phone(member.phone, rng)
        elif role == "email":
            values[name] = _render_email(member.email, rng)
        elif role == "zip":
            values[name] = _render_zip(member.zip_code, rng)
        elif role == "choice":
            values[name] = _render_code(member.codes[name], column, rng)
        else:
            values[name] = member.codes[name]
    return values


def _render_phone(phone: str, rng: random.Random) -> str:
    if not phone:
        return ""
    template = rng.choice(_PHONE_FORMATS)
    return template.format(a=phone[:3], e=phone[3:6], l=phone[6:])


def _render_zip(zip_code: str, rng: random.Random) -> str:
    # Spreadsheets read 02134 as a number and drop the zero; the pipeline pads it back.
    if len(zip_code) == 5 and zip_code.startswith("0") and rng.random() < 0.5:
        return zip_code[1:]
    return zip_code


def _render_email(email: str, rng: random.Random) -> str:
    roll = rng.random()
    if not email or roll < 0.7:
        return email
    if roll < 0.8:
        return email.upper()
    if roll < 0.9:
        local, domain = email.split("@")
        return f"{local.title()}@{domain.capitalize()}"
    return f"  {email} "  # pasted with spaces around it


def _render_code(value: str, column: ColumnSpec, rng: random.Random) -> str:
    # Only vary the casing when the pipeline normalises it; otherwise it would be a new value.
    if column.case == "none" or not value:
        return value
    roll = rng.random()
    if roll < 0.55:
        return value.upper()
    if roll < 0.75:
        return value.title()
    if roll < 0.9:
        return value.lower()
    return "".join(c.lower() if i % 2 == 0 else c.upper() for i, c in enumerate(value))
