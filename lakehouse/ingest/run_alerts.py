"""``run_failed``: a run itself failed (not one of its files), and its resolve.

``alerting_run`` wraps a whole run (ingest, release, backfill) from before Spark starts: an
exception escaping it raises ``run_failed`` for the run's scope (its client, or all clients,
and its mode); a later run of the same scope that completes resolves it. A file's failure is
``file_failed`` (at the commit point), never ``run_failed``. The Alerter is closed on the way
out, so what the run raised is delivered (or left in the ledger for the next run).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from lakehouse.alerts import Alert, Alerter, AlertKind
from lakehouse.audit import safe_error
from lakehouse.errors import LockBusyError, RunFailed

__all__ = ["alerting_run", "run_failed", "run_resolved"]

log = logging.getLogger(__name__)

_NEXT = {
    "ingest": "lakehouse ingest{client_flag} (after fixing the cause named in the alert)",
    "release": "lakehouse release --file <file> (after fixing the cause named in the alert)",
    "backfill": "lakehouse backfill{client_flag} --from ... --to ... (after fixing the cause)",
    "replay": "lakehouse quarantine replay{client_flag} --reason ... (after fixing the cause)",
}


def _next(mode: str, client_id: str | None) -> str:
    return _NEXT.get(mode, _NEXT["ingest"]).format(
        client_flag=f" --client {client_id}" if client_id else ""
    )


def run_failed(
    mode: str, client_id: str | None, run_id: str, error: BaseException, *, subject: str = ""
) -> Alert:
    """The trigger for a failed run of ``mode`` (``subject``: a narrower scope, a stream)."""
    return Alert(
        AlertKind.RUN_FAILED,
        client_id,
        "",
        run_id,
        f"{mode} run failed: {safe_error(error)}",
        {"error_class": type(error).__name__},
        subject=subject or mode,
        next_step=_next(mode, client_id),
    )


def run_resolved(mode: str, client_id: str | None, run_id: str, *, subject: str = "") -> Alert:
    return Alert(
        AlertKind.RUN_FAILED,
        client_id,
        "",
        run_id,
        f"{mode} run completed",
        action="resolve",
        subject=subject or mode,
    )


@contextmanager
def alerting_run(
    alerter: Alerter, *, mode: str, client_id: str | None, run_id: str
) -> Iterator[None]:
    """Raise ``run_failed`` if the block raises (files failing is not the run failing),
    resolve it if the block completes; deliver on the way out, never masking the error."""
    try:
        yield
    except (RunFailed, LockBusyError):
        raise  # files failed (each has its file_failed alert), or another run is busy
    except Exception as exc:
        alerter.emit(run_failed(mode, client_id, run_id, exc))
        raise
    else:
        alerter.emit(run_resolved(mode, client_id, run_id))
    finally:
        try:
            alerter.close()
        except Exception as exc:  # noqa: BLE001 - alerting must not hide the run's own outcome
            log.error(
                "alert ledger not written; alerts of this run may be lost",
                extra={"run_id": run_id, "error": safe_error(exc)},
            )
