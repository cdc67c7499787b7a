"""The landing file-name contract ``{client_id}_{creation_date}[_N].csv``, per client format."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from lakehouse.config.models import ClientConfig
from lakehouse.errors import LakehouseError, LandingFileError
from lakehouse.landing.filenames import LandingFile, RejectReason, parse_file_name

# Grammar tests pin "today" far ahead; the future-date rule has its own test.
FAR_FUTURE = dt.date(2200, 1, 1)

JAN_15 = dt.date(2026, 1, 15)
# parse_file_name rejects dates after today + 1 day; tests pin "today" so they never age.
TODAY = dt.date(2026, 12, 31)
END_OF_RANGE = dt.date(2100, 12, 31)


def _reject(name: str, clients: dict[str, ClientConfig]) -> LandingFileError:
    with pytest.raises(LandingFileError) as info:
        parse_file_name(name, clients, today=TODAY)
    err = info.value
    assert err.file == name
    assert isinstance(err, LakehouseError)
    return err


@pytest.mark.parametrize(
    ("name", "client_id", "created", "sequence"),
    [
        ("acme_2026-01-15.csv", "acme", JAN_15, 0),
        ("acme_2026-01-15_1.csv", "acme", JAN_15, 1),
        ("acme_2026-01-15_2.csv", "acme", JAN_15, 2),
        ("acme_2026-12-31_999999.csv", "acme", dt.date(2026, 12, 31), 999_999),
        ("acme_2024-02-29.csv", "acme", dt.date(2024, 2, 29), 0),
        ("globex_20260115.csv", "globex", JAN_15, 0),
        ("globex_20260115_1.csv", "globex", JAN_15, 1),
        ("globex_20260115_12.csv", "globex", JAN_15, 12),
        ("globex_20000101.csv", "globex", dt.date(2000, 1, 1), 0),
    ],
)
def test_valid_names(
    clients: dict[str, ClientConfig], name: str, client_id: str, created: dt.date, sequence: int
) -> None:
    assert parse_file_name(name, clients, today=TODAY) == LandingFile(
        client_id=client_id, creation_date=created, sequence=sequence, name=name
    )


def test_landing_file_is_frozen(clients: dict[str, ClientConfig]) -> None:
    parsed = parse_file_name("acme_2026-01-15.csv", clients, today=TODAY)
    with pytest.raises(AttributeError):
        parsed.sequence = 3  # type: ignore[misc]


def test_order_is_date_then_sequence(clients: dict[str, ClientConfig]) -> None:
    names = [
        "acme_2026-02-01.csv",
        "acme_2026-01-15_10.csv",
        "acme_2026-01-15_2.csv",
        "acme_2026-01-15.csv",
        "acme_2025-12-31_5.csv",
        "acme_2026-01-15_1.csv",
    ]
    ordered = sorted(parse_file_name(n, clients, today=TODAY) for n in names)
    # Numeric, not lexical: _2 before _10; the unsuffixed file is sequence 0 and comes first.
    assert [f.name for f in ordered] == [
        "acme_2025-12-31_5.csv",
        "acme_2026-01-15.csv",
        "acme_2026-01-15_1.csv",
        "acme_2026-01-15_2.csv",
        "acme_2026-01-15_10.csv",
        "acme_2026-02-01.csv",
    ]


def test_order_across_clients_groups_by_client(clients: dict[str, ClientConfig]) -> None:
    globex = parse_file_name("globex_20250101.csv", clients, today=TODAY)
    acme = parse_file_name("acme_2026-01-15.csv", clients, today=TODAY)
    assert sorted([globex, acme]) == [acme, globex]


def test_same_date_and_sequence_compare_equal_only_when_the_name_is_equal(
    clients: dict[str, ClientConfig],
) -> None:
    first = parse_file_name("acme_2026-01-15_1.csv", clients, today=TODAY)
    assert first == parse_file_name("acme_2026-01-15_1.csv", clients, today=TODAY)
    assert first < parse_file_name("acme_2026-01-15_2.csv", clients, today=TODAY)


@pytest.mark.parametrize(
    "name",
    [
        "acme-2026-01-15.csv",
        "acme2026-01-15.csv",
        "acme_2026-01-15.CSV",
        "acme_2026-01-15.txt",
        "acme_2026-01-15.csv.gz",
        "acme_2026-01-15",
        "ACME_2026-01-15.csv",
        "Acme_2026-01-15.csv",
        "1acme_2026-01-15.csv",
        "_2026-01-15.csv",
        "acme_.csv",
        "acme__2026-01-15.csv",
        "acme_2026-01-15_.csv",
        "acme_2026-01-15_a.csv",
        "acme_2026-01-15_-1.csv",
        "acme_2026-01-15_1_2.csv",
        "acme_2026-01-15_1234567.csv",
        "acme_health_2026-01-15.csv",
        "incoming/acme_2026-01-15.csv",
        " acme_2026-01-15.csv",
        "",
    ],
)
def test_misnamed(clients: dict[str, ClientConfig], name: str) -> None:
    err = _reject(name, clients)
    assert err.reason == RejectReason.MISNAMED == "misnamed_file"
    assert err.client is None
    assert "{client_id}_{creation_date}[_N].csv" in str(err)


@pytest.mark.parametrize("name", ["initech_2026-01-15.csv", "acm_2026-01-15.csv", "x_1.csv"])
def test_unknown_client(clients: dict[str, ClientConfig], name: str) -> None:
    err = _reject(name, clients)
    client_id = name.split("_", 1)[0]
    assert err.reason == RejectReason.UNKNOWN_CLIENT == "unknown_client"
    assert err.client == client_id
    assert f"no client configuration clients/{client_id}.yaml" in str(err)


@pytest.mark.parametrize(
    ("name", "date_text"),
    [
        ("acme_2026-02-30.csv", "2026-02-30"),  # impossible day
        ("acme_2025-02-29.csv", "2025-02-29"),  # not a leap year
        ("acme_2026-13-01.csv", "2026-13-01"),
        ("acme_2026-00-10.csv", "2026-00-10"),
        ("acme_2026-1-5.csv", "2026-1-5"),  # unpadded: strptime accepts it, the contract not
        ("acme_2026-01-5.csv", "2026-01-5"),
        ("acme_20260115.csv", "20260115"),  # globex's format for acme
        ("acme_15-01-2026.csv", "15-01-2026"),
        ("acme_2026-01-15T00.csv", "2026-01-15T00"),
        ("acme_yesterday.csv", "yesterday"),
        ("globex_2026-01-15.csv", "2026-01-15"),  # acme's format for globex
        ("globex_2026115.csv", "2026115"),  # ambiguous unpadded compact date
        ("globex_20260230.csv", "20260230"),
        ("globex_202601150.csv", "202601150"),
        ("globex_２０２６０１１５.csv", "２０２６０１１５"),  # full-width digits
    ],
)
def test_bad_creation_date(clients: dict[str, ClientConfig], name: str, date_text: str) -> None:
    err = _reject(name, clients)
    client_id = name.split("_", 1)[0]
    fmt = clients[client_id].file.name_date_format
    assert err.reason == RejectReason.BAD_DATE == "invalid_creation_date"
    assert err.client == client_id
    assert f"creation date '{date_text}' does not match the client's format '{fmt}'" in str(err)


@pytest.mark.parametrize(
    ("name", "today", "accepted"),
    [
        ("acme_2026-01-15.csv", JAN_15, True),
        ("acme_2026-01-16.csv", JAN_15, True),  # one day of slack for clients ahead of UTC
        ("acme_2026-01-17.csv", JAN_15, False),
        ("globex_20260116_3.csv", JAN_15, True),
        ("globex_20260117_3.csv", JAN_15, False),
        ("acme_2027-01-01.csv", TODAY, True),
        ("acme_2027-01-02.csv", TODAY, False),
    ],
)
def test_future_creation_date(
    clients: dict[str, ClientConfig], name: str, today: dt.date, accepted: bool
) -> None:
    if accepted:
        assert parse_file_name(name, clients, today=today).name == name
        return
    with pytest.raises(LandingFileError) as info:
        parse_file_name(name, clients, today=today)
    created = parse_file_name(name, clients, today=END_OF_RANGE).creation_date
    assert info.value.reason == RejectReason.FUTURE_DATE == "future_creation_date"
    assert info.value.client == name.split("_", 1)[0]
    assert f"creation date {created.isoformat()} is in the future" in str(info.value)


def test_future_is_measured_from_the_current_utc_date(clients: dict[str, ClientConfig]) -> None:
    now = dt.datetime.now(dt.UTC).date()
    assert parse_file_name(f"acme_{now.isoformat()}.csv", clients).creation_date == now
    later = now + dt.timedelta(days=2)
    with pytest.raises(LandingFileError) as info:
        parse_file_name(f"acme_{later.isoformat()}.csv", clients)
    assert info.value.reason == RejectReason.FUTURE_DATE


def test_trailing_newline_is_misnamed(clients: dict[str, ClientConfig]) -> None:
    err = _reject("acme_2026-01-15.csv\n", clients)
    assert err.reason == RejectReason.MISNAMED


# --- properties ---------------------------------------------------------------------------

dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31))
sequences = st.integers(min_value=0, max_value=999)


def _name(client: ClientConfig, created: dt.date, sequence: int | None) -> str:
    # Sequence 0 is the bare name: "_0" is refused (it would collide with the bare name).
    suffix = "" if not sequence else f"_{sequence}"
    return f"{client.client_id}_{created.strftime(client.file.name_date_format)}{suffix}.csv"


@given(client_id=st.sampled_from(["acme", "globex"]), created=dates, sequence=sequences)
@example(client_id="acme", created=dt.date(2100, 2, 28), sequence=0)
@example(client_id="globex", created=dt.date(2000, 2, 29), sequence=999)
def test_format_then_parse_round_trips(
    clients: dict[str, ClientConfig], client_id: str, created: dt.date, sequence: int
) -> None:
    client = clients[client_id]
    name = _name(client, created, sequence)
    assert parse_file_name(name, clients, today=END_OF_RANGE) == LandingFile(
        client_id, created, sequence, name
    )
    unsuffixed = _name(client, created, None)
    parsed = parse_file_name(unsuffixed, clients, today=END_OF_RANGE)
    assert (parsed.creation_date, parsed.sequence) == (created, 0)


@given(
    client_id=st.sampled_from(["acme", "globex"]),
    a=st.tuples(dates, sequences),
    b=st.tuples(dates, sequences),
)
def test_order_matches_date_then_sequence(
    clients: dict[str, ClientConfig],
    client_id: str,
    a: tuple[dt.date, int],
    b: tuple[dt.date, int],
) -> None:
    client = clients[client_id]
    first = parse_file_name(_name(client, *a), clients, today=END_OF_RANGE)
    second = parse_file_name(_name(client, *b), clients, today=END_OF_RANGE)
    if a != b:
        assert (first < second) == (a < b)


_alphabet = st.sampled_from("acmeglobx_-.0123456789csvCSV/ \n\t\x00é２")


@given(name=st.one_of(st.text(), st.text(alphabet=_alphabet, max_size=30)))
@example(name="acme_9999-99-99.csv")
@example(name="globex_%Y%m%d.csv")
@example(name="acme_\x00.csv")
def test_random_text_only_raises_landing_file_error(
    clients: dict[str, ClientConfig], name: str
) -> None:
    try:
        parsed = parse_file_name(name, clients, today=TODAY)
    except LandingFileError as err:
        assert err.reason in {
            RejectReason.MISNAMED,
            RejectReason.UNKNOWN_CLIENT,
            RejectReason.BAD_DATE,
            RejectReason.FUTURE_DATE,
        }
        assert err.file == name
    else:
        assert parsed.client_id in clients
        assert parsed.name == name
        assert 0 <= parsed.sequence <= 999_999


def test_future_creation_date_is_rejected(clients: dict[str, ClientConfig]) -> None:
    today = dt.date(2026, 3, 1)
    assert parse_file_name("acme_2026-03-02.csv", clients, today=today).name  # one day slack
    with pytest.raises(LandingFileError) as info:
        parse_file_name("acme_2026-03-03.csv", clients, today=today)
    assert info.value.reason == RejectReason.FUTURE_DATE


def test_the_extension_follows_the_client_format(clients: dict[str, ClientConfig]) -> None:
    jsonl = clients["acme"].model_copy(
        update={"file": clients["acme"].file.model_copy(update={"format": "jsonl"})}
    )
    both = {"acme": jsonl, "globex": clients["globex"]}
    parsed = parse_file_name("acme_2026-01-15_2.jsonl", both, today=TODAY)
    assert (parsed.client_id, parsed.sequence) == ("acme", 2)
    assert _reject("acme_2026-01-15.csv", both).reason == RejectReason.MISNAMED
    assert "delivers .jsonl files" in str(_reject("acme_2026-01-15.csv", both))
    assert _reject("globex_20260115.xml", both).reason == RejectReason.MISNAMED
    assert _reject("acme_2026-01-15.json", both).reason == RejectReason.MISNAMED


# --- a client's other datasets: {client_id}_{dataset}_{date}[_N].{ext} ----------------------


@pytest.mark.parametrize(
    ("name", "feed", "created", "sequence"),
    [
        ("acme_readings_2026-01-15.jsonl", "acme_readings", JAN_15, 0),
        ("acme_readings_2026-01-15_3.jsonl", "acme_readings", JAN_15, 3),
        ("acme_2026-01-15.csv", "acme", JAN_15, 0),
    ],
)
def test_a_dataset_prefix_routes_to_its_feed(
    clients: dict[str, ClientConfig], name: str, feed: str, created: dt.date, sequence: int
) -> None:
    parsed = parse_file_name(name, clients, today=TODAY)
    assert (parsed.client_id, parsed.feed, parsed.creation_date, parsed.sequence) == (
        "acme",
        feed,
        created,
        sequence,
    )
    assert clients[parsed.feed].dataset == ("readings" if feed != "acme" else "members")


@pytest.mark.parametrize(
    ("name", "reason", "words"),
    [
        # The readings dataset delivers JSON lines: a CSV under its prefix is misnamed.
        ("acme_readings_2026-01-15.csv", RejectReason.MISNAMED, "jsonl files for readings"),
        # An undeclared dataset name sits where the date should be.
        ("acme_steps_2026-01-15.csv", RejectReason.MISNAMED, "{client_id}_{dataset}_"),
        ("acme_readings_20260115.jsonl", RejectReason.BAD_DATE, "'%Y-%m-%d'"),
        ("acme_readings_2026-01-15_01.jsonl", RejectReason.BAD_SEQUENCE, "_01"),
    ],
)
def test_dataset_names_are_checked_like_any_other(
    clients: dict[str, ClientConfig], name: str, reason: str, words: str
) -> None:
    err = _reject(name, clients)
    assert err.reason == reason
    assert words in str(err)


def test_the_longest_feed_prefix_wins(clients: dict[str, ClientConfig]) -> None:
    from lakehouse.landing.filenames import feed_prefix

    assert feed_prefix("acme_readings_2026-01-15.jsonl", clients) == "acme_readings"
    assert feed_prefix("acme_2026-01-15.csv", clients) == "acme"
    assert feed_prefix("acmereadings_2026-01-15.csv", clients) is None
