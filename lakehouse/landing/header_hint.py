"""What a ``missing_columns`` rejection may say about the headers the config does not declare,
and the ``csv`` reader the header checks share.

A file without a header line puts its first data row where the header should be: the
rejection lands in the audit and the log, which must never hold data values. So unknown
headers are named only when they cannot be data (see ``unknown_headers_hint``).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from pathlib import Path

from lakehouse.config.models import ClientConfig, FileFormat

__all__ = ["csv_reader", "unknown_headers_hint"]


def csv_reader(probe: bytes, fmt: FileFormat) -> Iterator[list[str]]:
    """Python's ``csv`` reader over a decoded probe of the file's first bytes."""
    encoding = fmt.encoding
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # tolerate a byte-order mark before the header
    try:
        text = probe.decode(encoding, errors="strict")
    except UnicodeDecodeError:
        # The probe may end inside a multi-byte character; decode what is complete.
        text = probe.decode(encoding, errors="ignore")
    return csv.reader(
        io.StringIO(text, newline=""),  # records may end in \r\n, \n or a bare \r
        delimiter=fmt.delimiter,
        quotechar=fmt.quote,
        doublequote=fmt.escape == fmt.quote,
        escapechar=None if fmt.escape == fmt.quote else fmt.escape,
    )


def unknown_headers_hint(
    path: Path,
    client: ClientConfig,
    header: list[str],
    configured: set[str],
    *,
    probe_bytes: int,
) -> str:
    """The part of a ``missing_columns`` message about headers the config does not declare.

    In a file without a header line the first data row stands where the header should be,
    so an unknown header is named only when it cannot be data: the line holds at least one
    configured header, and the name occurs nowhere among the first data rows' values.
    Others are counted, never named.
    """
    unknown = list(dict.fromkeys(h for h in header if h not in configured))
    if not unknown:
        return ""
    has_header = any(h in configured for h in header)
    values = _first_data_values(path, client, probe_bytes) if has_header else set()
    named = [h for h in unknown if has_header and h not in values]
    text = f"; the file has {len(unknown)} header(s) the config does not declare"
    if named:
        shown = ", ".join(repr(_shortened(h)) for h in named[:_NAMED_HEADERS])
        more = len(named) - _NAMED_HEADERS
        text += f": {shown}" + (f" and {more} more" if more > 0 else "")
        if len(named) < len(unknown):
            text += (
                f" ({len(unknown) - len(named)} more not named: they also occur among the first "
                "data rows' values)"
            )
    elif has_header:
        text += " (not named: they also occur among the first data rows' values)"
    else:
        text += (
            " (not named: no configured header is in the first line, which may be a data row; "
            "does the file lack its header line?)"
        )
    return text + f"; renamed? compare the file's header with clients/{client.client_id}.yaml"


_NAMED_HEADERS = 10
_FIRST_ROWS = 100


def _shortened(name: str) -> str:
    return name if len(name) <= 40 else name[:37] + "..."


def _first_data_values(path: Path, client: ClientConfig, probe_bytes: int) -> set[str]:
    """The values of the first data rows (within the header probe), stripped."""
    with path.open("rb") as handle:
        probe = handle.read(probe_bytes)
    reader = csv_reader(probe, client.file)
    values: set[str] = set()
    try:
        next(reader, None)  # the header
        for _, row in zip(range(_FIRST_ROWS), reader, strict=False):
            values.update(v.strip() for v in row)
    except csv.Error:
        pass  # a malformed row ends the sample; what was read is still a sample
    return values
