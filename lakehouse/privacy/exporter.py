"""One export: read silver through the engine, protect it as the profile says, write files.

``prepare`` computes everything in memory (the release and its report, no values in the
report); the caller records the use in ``audit/pii_events`` and only then calls ``write``,
so no file reaches disk without an audit row. Files are created new and private (0600,
``O_EXCL``, never through a link) in a folder that must not be a link:
``<profile>-<client>-<id>.parquet``, ``.csv`` (formula cells neutralised) and
``.report.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import PrivacyError
from lakehouse.pii.export import create_binary_export, create_export, write_csv
from lakehouse.privacy.dp import release_counts
from lakehouse.privacy.kanon import anonymise
from lakehouse.privacy.ledger import charge
from lakehouse.privacy.profiles import (
    DpCountsProfile,
    ExportsConfig,
    KAnonymityProfile,
)

__all__ = ["PreparedExport", "choose_profile", "prepare", "read_silver", "write"]

# Policies whose silver values single a member out (a token or a ciphertext per person):
# never in an export for people outside the ingestion boundary.
_IDENTIFYING = frozenset({"token", "encrypt", "deterministic_encrypt"})


@dataclass(frozen=True)
class PreparedExport:
    name: str  # file stem
    frame: pl.DataFrame
    report: dict[str, object] = field(default_factory=dict)


def choose_profile(
    exports: ExportsConfig, name: str, client_id: str, dataset: str
) -> KAnonymityProfile | DpCountsProfile:
    """The profile ``name``, if it serves this client and dataset.

    Raises:
        PrivacyError: unknown profile, or one for other clients or another dataset.
    """
    if name not in exports.profiles:
        raise PrivacyError(
            "no such export profile",
            profile=name,
            fix=f"choose from {', '.join(sorted(exports.profiles)) or '(none)'} "
            "in conf/exports.yaml",
        )
    profile = exports.profiles[name]
    if client_id not in profile.clients or dataset != profile.dataset:
        raise PrivacyError(
            f"serves clients {list(profile.clients)} on dataset '{profile.dataset}', "
            f"not {client_id}/{dataset}",
            profile=name,
            client=client_id,
            fix="choose a profile for this client and dataset, or add the client to it",
        )
    return profile


def _columns(profile: KAnonymityProfile | DpCountsProfile) -> list[str]:
    if isinstance(profile, KAnonymityProfile):
        return list(profile.columns)
    used = [*profile.group_by, *(q.column for q in profile.queries if q.column)]
    return list(dict.fromkeys(used))


def read_silver(
    settings: Settings, engine: TableEngine, client: ClientConfig, columns: Sequence[str]
) -> pl.DataFrame:
    """The client's current silver rows, only ``columns`` (delta-rs; no Spark)."""
    table = engine.read(
        settings.table_path("silver", client.dataset),
        columns=list(columns),
        partition=("client_id", client.client_id),
    )
    return pl.from_arrow(table)  # type: ignore[return-value]


def _consented_silver(
    settings: Settings,
    engine: TableEngine,
    client: ClientConfig,
    columns: Sequence[str],
    purpose: str | None,
) -> tuple[pl.DataFrame, int | None]:
    """Silver rows for the export: with a purpose, only members with consent for it
    (``lakehouse.pii.consent``); returns the frame and how many members were left out."""
    if purpose is None:
        return read_silver(settings, engine, client, columns), None
    from lakehouse.pii.consent import consented, read_consent

    wanted = list(dict.fromkeys([*client.merge_key, *columns]))
    table = engine.read(
        settings.table_path("silver", client.dataset),
        columns=wanted,
        partition=("client_id", client.client_id),
    )
    events = read_consent(engine, settings.lake_root, client.client_id)
    kept, decision = consented(table, client, purpose, events)
    frame: pl.DataFrame = pl.from_arrow(kept.select(list(columns)))  # type: ignore[assignment]
    return frame, len(decision.denied)


def _check_columns(
    name: str, profile: KAnonymityProfile | DpCountsProfile, client: ClientConfig
) -> None:
    declared = {c.name: c for c in client.columns}
    for column in _columns(profile):
        spec = declared.get(column)
        if spec is None or spec.pii == "drop":
            raise PrivacyError(
                "not a silver column of the client",
                profile=name,
                column=column,
                client=client.client_id,
                fix=f"choose from {sorted(c for c, s in declared.items() if s.pii != 'drop')}",
            )
        if spec.pii in _IDENTIFYING:
            raise PrivacyError(
                f"a '{spec.pii}' column identifies each member and is never exported",
                profile=name,
                column=column,
                client=client.client_id,
                fix="leave it out of the profile's columns",
            )


def prepare(
    settings: Settings,
    engine: TableEngine,
    client: ClientConfig,
    exports: ExportsConfig,
    profile_name: str,
    *,
    event_id: str,
    user: str,
) -> PreparedExport:
    """The release and its report. A dp_counts profile is charged to its consumer's budget
    first (refused when it would exceed it).

    Raises:
        PrivacyError: the profile does not fit the client, a column is identifying or missing.
        PrivacyRefused: k-anonymity cannot be reached within the suppression limit.
        PrivacyBudgetExceeded: the consumer's epsilon budget would be exceeded.
    """
    profile = choose_profile(exports, profile_name, client.client_id, client.dataset)
    _check_columns(profile_name, profile, client)
    stem = f"{profile_name}-{client.client_id}-{event_id[:12]}"
    report: dict[str, object] = {
        "profile": profile_name,
        "method": profile.method,
        "client": client.client_id,
        "dataset": client.dataset,
        "consumer": profile.consumer,
        "event_id": event_id,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if isinstance(profile, KAnonymityProfile):
        frame, excluded = _consented_silver(
            settings, engine, client, profile.columns, profile.purpose
        )
        report.update(purpose=profile.purpose, members_without_consent=excluded)
        result = anonymise(frame, profile, name=profile_name)
        report.update(
            k=profile.k,
            k_achieved=result.k_achieved,
            l=profile.l_diversity.l if profile.l_diversity else None,
            l_achieved=result.l_achieved,
            levels=result.levels,
            rows_in=result.rows_in,
            rows_out=result.rows_out,
            rows_suppressed=result.rows_suppressed,
            suppression_share=round(result.rows_suppressed / max(result.rows_in, 1), 6),
            max_suppression=profile.max_suppression,
            classes=result.classes,
            nodes_evaluated=result.nodes_evaluated,
        )
        return PreparedExport(stem, result.frame, report)
    budget = exports.consumers[profile.consumer].epsilon_budget
    charged = charge(
        engine,
        lake_root=settings.lake_root,
        lock_dir=settings.lock_dir,
        event_id=event_id,
        user=user,
        client_id=client.client_id,
        dataset=client.dataset,
        consumer=profile.consumer,
        profile=profile_name,
        epsilon=profile.epsilon,
        budget=budget,
    )
    frame, excluded = _consented_silver(
        settings, engine, client, _columns(profile), profile.purpose
    )
    report.update(purpose=profile.purpose, members_without_consent=excluded)
    release = release_counts(frame, profile, name=profile_name)
    report.update(
        epsilon=profile.epsilon,
        epsilon_by_query=release.epsilon,
        budget=budget,
        spent_before=charged.spent_before,
        remaining=round(charged.remaining, 9),
        queries=[q.model_dump(exclude_none=True) for q in profile.queries],
        groups=release.groups,
        rows_in=release.rows_in,
        rows_out=release.frame.height,
    )
    return PreparedExport(stem, release.frame, report)


def _folder(out: Path) -> Path:
    """``out``, created private if missing; a link or a non-folder is refused."""
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(out)
    if not stat.S_ISDIR(info.st_mode):
        raise PrivacyError(
            f"--out {out} is a link or not a folder",
            profile="-",
            fix="give a real folder; exports are never written through links",
        )
    return out


def write(prepared: PreparedExport, out: Path) -> list[Path]:
    """Write the Parquet, CSV and report files; returns their paths."""
    folder = _folder(out)
    parquet = folder / f"{prepared.name}.parquet"
    csv_path = folder / f"{prepared.name}.csv"
    report_path = folder / f"{prepared.name}.report.json"
    files = [parquet, csv_path, report_path]
    prepared.report["files"] = [p.name for p in files]
    with create_binary_export(parquet) as handle:
        prepared.frame.write_parquet(handle)
    with create_export(csv_path) as text:
        write_csv(prepared.frame.to_dicts(), prepared.frame.columns, text)
    with create_export(report_path) as text:
        text.write(json.dumps(prepared.report, indent=2, sort_keys=True) + "\n")
    return files
