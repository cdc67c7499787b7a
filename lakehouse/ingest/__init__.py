"""Orchestration: every way a file is processed, in one place.

- ``job``: what a run shares (``Job``, ``build_job``, run ids);
- ``file``: one file through the stages, returning a ``FileOutcome``;
- ``outcome``: the one commit point (conserve -> audit -> alert -> archive) and the
  exception -> status mapping;
- ``stream`` (the ingest job's streaming run), ``release`` (a held file accepted by an
  operator) and ``backfill`` (a date range re-processed): the three ways in;
- ``lock`` (one run per client at a time) and ``faults`` (the crash harness's kill points).

Nothing is imported here: ``stream`` and ``file`` import pyspark, which the ops commands avoid.
"""
