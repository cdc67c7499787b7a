"""Benchmark member files: realistic values, generated fast enough for 2 GB files.

Faker supplies the vocabulary (first and last names from six locales, seeded), and polars
combines it per row: ~1-2 s per 1M rows where a per-row Faker loop takes about a minute.
A member's rendering (phone and date format, name casing, a ZIP that lost its leading zero)
is a function of the member id and the seed, so the same member is spelled the same way in
every file unless ``changed`` gave it new values: a change file's "changed" share is exact.

Values use reserved ranges only: e-mail domains are ``example.*`` and phone exchanges avoid
555 and N11; no value can belong to a real person.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from faker import Faker

__all__ = [
    "HEADER",
    "INVALID_KINDS",
    "Population",
    "changed",
    "file_name",
    "population",
    "write_member_file",
]

HEADER = ("MemberID", "FirstName", "LastName", "DOB", "Phone", "Email", "Zip", "Plan")
INVALID_KINDS = ("bad_id", "bad_plan", "bad_date", "future_date", "no_last_name", "bad_phone")
_LOCALES = ("en_US", "es_MX", "en_IE", "fr_FR", "de_DE", "pt_BR")
_NAMES_PER_LOCALE = 600
_AREA_CODES = np.array(
    [201, 202, 206, 212, 213, 214, 215, 303, 305, 312, 313, 404, 407, 415, 503, 512, 602,
     614, 617, 646, 702, 704, 713, 718, 720, 773, 808, 813, 917, 919, 973]
)  # fmt: skip
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
_PLANS = ("GOLD", "SILVER", "BRONZE")
_EPOCH = dt.date(1970, 1, 1)
_BIRTH_FIRST = (dt.date(1930, 1, 1) - _EPOCH).days
_BIRTH_LAST = (dt.date(2020, 12, 31) - _EPOCH).days
_CHUNK = 1_000_000  # rows rendered and written at a time: bounds the generator's memory


@dataclass(frozen=True)
class Population:
    """Members' clean values (one row per member), ids ``first_id .. first_id + n - 1``."""

    frame: pl.DataFrame  # num, first, last, mail, birth (days since 1970), phone, zip, plan
    seed: int

    @property
    def size(self) -> int:
        return self.frame.height


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed.lower() if c.isascii() and c.isalnum()) or "member"


def _vocabulary(seed: int) -> tuple[list[str], list[str]]:
    firsts: set[str] = set()
    lasts: set[str] = set()
    for index, locale in enumerate(_LOCALES):
        faker = Faker(locale)
        faker.seed_instance(f"bench:{seed}:{index}")
        firsts.update(str(faker.first_name()) for _ in range(_NAMES_PER_LOCALE))
        lasts.update(str(faker.last_name()) for _ in range(_NAMES_PER_LOCALE))
    # Sorted: set order depends on string hashing, which differs between processes.
    return sorted(firsts), sorted(lasts)


def population(size: int, *, seed: int, first_id: int = 0) -> Population:
    """``size`` distinct members with realistic names, birth dates, NANP phones, ZIPs, plans."""
    rng = np.random.default_rng(seed)
    firsts, lasts = _vocabulary(seed)
    exchange = rng.integers(200, 1000, size)
    # N11 exchanges are service codes and 555 is fictional: move them to a real exchange.
    exchange = np.where((exchange % 100 == 11) | (exchange == 555), exchange + 1, exchange)
    phone = _AREA_CODES[rng.integers(0, len(_AREA_CODES), size)] * 10_000_000 + (
        exchange * 10_000 + rng.integers(0, 10_000, size)
    )
    zip_first = rng.integers(0, 10, size)
    zip5 = zip_first * 10_000 + np.where(
        zip_first == 0, rng.integers(1_000, 10_000, size), rng.integers(0, 10_000, size)
    )
    first = rng.integers(0, len(firsts), size)
    last = rng.integers(0, len(lasts), size)
    first_ascii = pl.Series([_ascii(name) for name in firsts]).gather(first)
    last_ascii = pl.Series([_ascii(name) for name in lasts]).gather(last)
    frame = pl.DataFrame(
        {
            "num": np.arange(first_id, first_id + size, dtype=np.int64),
            "first": pl.Series(firsts).gather(first),
            "last": pl.Series(lasts).gather(last),
            # The e-mail address a member signed up with; it stays when the name changes.
            "mail": first_ascii + "." + last_ascii,
            "birth": rng.integers(_BIRTH_FIRST, _BIRTH_LAST, size, dtype=np.int32),
            "phone": np.where(rng.random(size) < 0.9, phone, 0),
            "zip": zip5,
            "plan": rng.integers(0, len(_PLANS), size, dtype=np.int8),
        }
    )
    return Population(frame=frame, seed=seed)


def changed(members: Population, count: int, *, seed: int) -> Population:
    """``count`` members (chosen at random) with a new phone number or plan.

    Each differs from its original in silver too: the new phone's last four digits (what the
    mask keeps) differ, and plans are kept in clear. (A new surname would often be invisible
    in silver, whose mask keeps only its first letter.)
    """
    rng = np.random.default_rng(seed)
    picked = members.frame.sample(n=count, seed=seed, shuffle=True)
    new_phone = rng.random(count) < 0.5
    line_shift = rng.integers(1, 10_000, count)  # never 0: the last four digits change
    exchange = pl.lit(rng.integers(2, 10, count) * 100 + 22)  # 222 ... 922: never N11 or 555
    phone = pl.col("phone")
    frame = picked.with_columns(
        pl.when(pl.lit(new_phone) & (phone != 0))
        .then(
            phone // 10_000_000 * 10_000_000
            + exchange * 10_000
            + (phone % 10_000 + pl.lit(line_shift)) % 10_000
        )
        .otherwise(phone)
        .alias("phone"),
        pl.when(~pl.lit(new_phone) | (phone == 0))
        .then((pl.col("plan") + 1) % len(_PLANS))
        .otherwise(pl.col("plan"))
        .cast(pl.Int8)
        .alias("plan"),
    )
    return Population(frame=frame, seed=members.seed)


def _pick(key: pl.Expr, options: list[pl.Expr]) -> pl.Expr:
    """``options[key]`` per row."""
    expr = options[-1]
    for index in range(len(options) - 2, -1, -1):
        expr = pl.when(key == index).then(options[index]).otherwise(expr)
    return expr


def _render(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Text of each CSV column, in the messy-but-valid spellings of real extracts."""
    # Per-member choices come from a hash of (id, seed): stable across files.
    h = (pl.col("num") * 2_654_435_761 + seed * 97) % 1_000_003
    phone = pl.col("phone").cast(pl.Utf8)
    area, exch, line = phone.str.slice(0, 3), phone.str.slice(3, 3), phone.str.slice(6, 4)
    phone_text = _pick(
        h % 6,
        [
            pl.format("({}) {}-{}", area, exch, line),
            pl.format("{}-{}-{}", area, exch, line),
            pl.format("{}.{}.{}", area, exch, line),
            pl.format("{}{}{}", area, exch, line),
            pl.format("+1 {} {} {}", area, exch, line),
            pl.format("1-{}-{}-{}", area, exch, line),
        ],
    )
    birth = pl.col("birth").cast(pl.Date)
    styled_first = _pick(
        (h // 7) % 50,
        [pl.col("first").str.to_uppercase(), pl.col("first").str.to_lowercase(), pl.col("first")],
    )
    styled_last = _pick((h // 11) % 40, [pl.format(" {}  ", pl.col("last")), pl.col("last")])
    zip5 = pl.col("zip").cast(pl.Utf8).str.zfill(5)
    zip_text = _pick(
        (h // 13) % 8,
        [
            pl.format("{}-{}", zip5, ((h % 9_999) + 1).cast(pl.Utf8).str.zfill(4)),
            pl.when(zip5.str.starts_with("0")).then(zip5.str.slice(1)).otherwise(zip5),
            zip5,
        ],
    )
    plan = pl.col("plan").replace_strict(list(range(len(_PLANS))), list(_PLANS))
    return frame.select(
        pl.format("BM{}", pl.col("num").cast(pl.Utf8).str.zfill(9)).alias("MemberID"),
        styled_first.alias("FirstName"),
        styled_last.alias("LastName"),
        _pick((h // 17) % 2, [birth.dt.strftime("%Y-%m-%d"), birth.dt.strftime("%m/%d/%Y")]).alias(
            "DOB"
        ),
        pl.when(pl.col("phone") != 0).then(phone_text).alias("Phone"),  # null: no phone
        pl.when(h % 10 != 0)  # one member in ten has no e-mail on file
        .then(
            pl.format(
                "{}{}@{}",
                pl.col("mail"),
                (h % 100).cast(pl.Utf8),
                _pick((h // 19) % 4, [pl.lit(d) for d in _DOMAINS]),
            )
        )
        .alias("Email"),
        zip_text.alias("Zip"),
        _pick((h // 23) % 3, [plan, plan.str.to_lowercase(), plan.str.to_titlecase()]).alias(
            "Plan"
        ),
    )


def _break(frame: pl.DataFrame, share: float, rng: np.random.Generator) -> pl.DataFrame:
    """Make ``share`` of the rows invalid, spread over ``INVALID_KINDS``."""
    if share <= 0:
        return frame
    bad = rng.random(frame.height) < share
    kind = pl.lit(np.where(bad, rng.integers(0, len(INVALID_KINDS), frame.height), -1))
    rules = {
        "MemberID": (0, pl.format("BM{}", pl.col("MemberID").str.slice(2, 4))),
        "Plan": (1, pl.lit("PLATINUM")),
        "DOB": (2, pl.lit("31/31/1999")),
        "LastName": (4, pl.lit(None, dtype=pl.Utf8)),
        "Phone": (5, pl.lit("12345")),
    }
    changes = [
        pl.when(kind == code).then(value).otherwise(pl.col(column)).alias(column)
        for column, (code, value) in rules.items()
    ]
    future = pl.when(kind == 3).then(pl.lit("2099-01-01")).otherwise(pl.col("DOB"))
    return frame.with_columns(changes).with_columns(future.alias("DOB"))


def _chunks(members: Population) -> Iterator[pl.DataFrame]:
    for start in range(0, members.size, _CHUNK):
        yield members.frame.slice(start, _CHUNK)


def write_member_file(
    members: Population, path: Path, *, invalid_share: float = 0.0, seed: int = 0
) -> int:
    """Write ``members`` as one client CSV (header, ``\\n`` line ends); returns its size."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        for index, chunk in enumerate(_chunks(members)):
            text = _break(_render(chunk, members.seed), invalid_share, rng)
            text.write_csv(handle, include_header=index == 0, line_terminator="\n")
    return path.stat().st_size


def file_name(client_id: str, created: dt.date, sequence: int = 0) -> str:
    suffix = f"_{sequence}" if sequence else ""
    return f"{client_id}_{created.isoformat()}{suffix}.csv"
