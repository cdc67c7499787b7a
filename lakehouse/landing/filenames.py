"""The landing file-name contract: ``{client_id}_{creation_date}[_N].{ext}`` for a client's
default dataset, ``{client_id}_{dataset}_{creation_date}[_N].{ext}`` for its others (the
prefix is the dataset's feed, ``ClientConfig.feed``).

The extension is the dataset's ``file.format``: ``.csv`` (the default), ``.jsonl`` or ``.xml``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lakehouse.config.models import ClientConfig
from lakehouse.errors import LandingFileError

__all__ = ["LandingFile", "RejectReason", "feed_prefix", "parse_file_name"]

_NAME = re.compile(
    r"^(?P<client>[a-z][a-z0-9]*)_(?P<date>[^_]+?)(?:_(?P<seq>[0-9]{1,6}))?\.(?P<ext>csv|jsonl|xml)$"
)
# The same after a dataset's feed prefix: what follows ``acme_readings_``.
_REST = re.compile(r"^(?P<date>[^_]+?)(?:_(?P<seq>[0-9]{1,6}))?\.(?P<ext>csv|jsonl|xml)$")


class RejectReason:
    """Machine-readable reasons for files that are audited but not processed."""

    MISNAMED = "misnamed_file"
    UNKNOWN_CLIENT = "unknown_client"
    BAD_DATE = "invalid_creation_date"
    FUTURE_DATE = "future_creation_date"
    NOT_A_FILE = "not_a_regular_file"
    BAD_ENCODING = "invalid_encoding"
    REPLACED = "replaced_after_ingest"
    BAD_SEQUENCE = "invalid_sequence"


@dataclass(frozen=True, order=True)
class LandingFile:
    """A correctly named landing file. Sorts by (client, creation date, sequence); ``feed``
    names the dataset's config (``ClientConfig.feed``; default: the client's default one)."""

    client_id: str
    creation_date: dt.date
    sequence: int
    name: str
    feed: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.feed:
            object.__setattr__(self, "feed", self.client_id)


def feed_prefix(name: str, feeds: Iterable[str]) -> str | None:
    """The feed whose files ``name`` is named like: the longest of ``feeds`` (the configs'
    keys) ``f`` with ``name`` starting ``f_`` (``acme_readings_...`` before ``acme_...``)."""
    found = [feed for feed in feeds if name.startswith(feed + "_")]
    return max(found, key=len) if found else None


def parse_file_name(
    name: str, clients: Mapping[str, ClientConfig], *, today: dt.date | None = None
) -> LandingFile:
    """Parse and check a landing file name against the configured clients.

    Raises:
        LandingFileError: misnamed file, unknown client, a date that does not match the
            client's ``file.name_date_format`` or lies in the future. The file is audited with
            ``reason``.
    """
    feed = feed_prefix(name, clients)
    match = _REST.fullmatch(name[len(feed) + 1 :]) if feed is not None else _NAME.fullmatch(name)
    if match is None:
        raise LandingFileError(
            "file name does not follow {client_id}_{creation_date}[_N].csv (or .jsonl, .xml; "
            "{client_id}_{dataset}_... for a client's other datasets)",
            reason=RejectReason.MISNAMED,
            client=None,
            file=name,
        )
    client = clients.get(feed) if feed is not None else None
    client_id = client.client_id if client is not None else match["client"]
    if client is None:
        raise LandingFileError(
            f"no client configuration clients/{client_id}.yaml",
            reason=RejectReason.UNKNOWN_CLIENT,
            client=client_id,
            file=name,
        )
    if match["ext"] != client.file.extension:
        # A .csv from a JSON-lines client (or the reverse) would be parsed as the wrong format.
        raise LandingFileError(
            f"client {client_id} delivers .{client.file.extension} files for "
            f"{client.dataset} (file.format: {client.file.format}), not .{match['ext']}",
            reason=RejectReason.MISNAMED,
            client=client_id,
            file=name,
        )
    fmt = client.file.name_date_format
    try:
        created = dt.datetime.strptime(match["date"], fmt).date()
    except ValueError:
        created = None
    # strptime accepts unpadded fields ("2026-1-5"); require the exact canonical spelling.
    if created is None or created.strftime(fmt) != match["date"]:
        raise LandingFileError(
            f"creation date '{match['date']}' does not match the client's format '{fmt}'",
            reason=RejectReason.BAD_DATE,
            client=client_id,
            file=name,
        )
    # One day of slack for clients ahead of UTC; anything later is a clock or naming error
    # that would otherwise win every "newer data" comparison in silver forever.
    latest = (today or dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=1)
    if created > latest:
        raise LandingFileError(
            f"creation date {created.isoformat()} is in the future",
            reason=RejectReason.FUTURE_DATE,
            client=client_id,
            file=name,
        )
    digits = match["seq"]
    if digits is not None and digits.startswith("0"):
        # A bare name is the day's sequence 0: "_0" (or "_01" beside "_1") would share its
        # place in the (date, N) order with another file and be overwritten silently.
        raise LandingFileError(
            f"sequence '_{digits}' is not allowed: numbers start at _1 and have no leading "
            "zeros (a file without _N is the day's first)",
            reason=RejectReason.BAD_SEQUENCE,
            client=client_id,
            file=name,
        )
    sequence = int(digits) if digits is not None else 0
    return LandingFile(
        client_id=client_id, creation_date=created, sequence=sequence, name=name, feed=client.feed
    )
