"""Sequence gaps: a day's ``_N`` files that should have arrived before this one.

A client that sends several files a day numbers them ``_1``, ``_2``, ... (a bare name is the
day's sequence 0 and needs no successor). A file ``_3`` whose day has no ``_1`` or ``_2`` yet,
neither audited in an earlier run (with any outcome) nor in this batch, is ingested (the
late-data rule orders whatever comes later) but flagged: its audit row says
``sequence_gap:missing=1,2`` and an alert names the missing numbers, since a lost extract is
otherwise invisible.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["GAP_REASON", "gap_reason", "missing_sequences"]

GAP_REASON = "sequence_gap"
_LISTED = 10  # numbers named in a reason; more are counted


def missing_sequences(sequence: int, delivered: Iterable[int]) -> list[int]:
    """The numbers 1..sequence-1 not in ``delivered`` (the day's files seen so far)."""
    seen = set(delivered)
    return [n for n in range(1, sequence) if n not in seen]


def gap_reason(missing: list[int], reason: str | None = None) -> str | None:
    """``reason`` with ``sequence_gap:missing=...`` added (None when nothing is missing)."""
    if not missing:
        return reason
    listed = ",".join(str(n) for n in missing[:_LISTED])
    more = f",+{len(missing) - _LISTED}" if len(missing) > _LISTED else ""
    gap = f"{GAP_REASON}:missing={listed}{more}"
    return gap if not reason else f"{reason};{gap}"
