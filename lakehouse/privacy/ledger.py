"""The privacy-budget ledger: ``<lake>/audit/privacy_budget``, an append-only Delta table.

One row per differentially private export charged to a consumer: client, dataset,
consumer, profile and the epsilon spent (never a value or a result). What a consumer has
spent on a client's dataset is the sum of its rows; a charge that would take it past the
consumer's budget is refused before anything is computed. The charge is appended before
the release is computed, under a lock, so two exports cannot both pass the check and a
failed computation still counts (the ledger may over-count, never under-count).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.engine.base import TableEngine
from lakehouse.errors import PrivacyBudgetExceeded
from lakehouse.ingest.lock import ClientLock

__all__ = ["LEDGER_SCHEMA", "Charge", "charge", "ledger_path", "spent"]

LEDGER_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),  # the export's event in audit/pii_events
        ("client_id", pa.string()),
        ("dataset", pa.string()),
        ("consumer", pa.string()),
        ("profile", pa.string()),
        ("epsilon", pa.float64()),
        ("user", pa.string()),
        ("charged_at", pa.timestamp("us", tz="UTC")),
    ]
)
# Float sums of the same charges must not refuse a budget spent exactly.
_TOLERANCE = 1e-9


def ledger_path(lake_root: Path) -> Path:
    return lake_root / "audit" / "privacy_budget"


@dataclass(frozen=True)
class Charge:
    client_id: str
    dataset: str
    consumer: str
    profile: str
    epsilon: float
    budget: float
    spent_before: float

    @property
    def remaining(self) -> float:
        return max(self.budget - self.spent_before - self.epsilon, 0.0)


def spent(
    engine: TableEngine, lake_root: Path, client_id: str, dataset: str, consumer: str
) -> float:
    """Epsilon the consumer has spent on the client's dataset so far."""
    path = ledger_path(lake_root)
    if not engine.exists(path):
        return 0.0
    table = engine.read(path, columns=["client_id", "dataset", "consumer", "epsilon"])
    mask = pc.and_(
        pc.and_(pc.equal(table["client_id"], client_id), pc.equal(table["dataset"], dataset)),
        pc.equal(table["consumer"], consumer),
    )
    total = pc.sum(table.filter(mask)["epsilon"]).as_py()
    return float(total or 0.0)


def charge(
    engine: TableEngine,
    *,
    lake_root: Path,
    lock_dir: Path,
    event_id: str,
    user: str,
    client_id: str,
    dataset: str,
    consumer: str,
    profile: str,
    epsilon: float,
    budget: float,
) -> Charge:
    """Record ``epsilon`` against the consumer's budget, or refuse.

    Raises:
        PrivacyBudgetExceeded: the charge would exceed ``budget``; nothing is recorded.
        LockBusyError: another charge for the client is being recorded (retry).
    """
    with ClientLock(lock_dir, f"privacy-budget-{client_id}", run_id=event_id):
        before = spent(engine, lake_root, client_id, dataset, consumer)
        if before + epsilon > budget + _TOLERANCE:
            raise PrivacyBudgetExceeded(
                f"consumer '{consumer}' has spent epsilon {before:g} of {budget:g} on "
                f"{client_id}/{dataset}; this export needs {epsilon:g}",
                profile=profile,
                client=client_id,
                fix="lower the queries' epsilon, or raise consumers."
                f"{consumer}.epsilon_budget in conf/exports.yaml after a privacy review",
            )
        row = {
            "event_id": event_id,
            "client_id": client_id,
            "dataset": dataset,
            "consumer": consumer,
            "profile": profile,
            "epsilon": epsilon,
            "user": user,
            "charged_at": dt.datetime.now(dt.UTC),
        }
        engine.append(ledger_path(lake_root), pa.Table.from_pylist([row], schema=LEDGER_SCHEMA))
    return Charge(client_id, dataset, consumer, profile, epsilon, budget, before)
