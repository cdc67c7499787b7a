"""``lakehouse export``: privacy-safe exports for people outside the ingestion boundary.

``lakehouse export --client ID --dataset NAME --profile P --out DIR --reason TEXT`` applies a
profile of ``conf/exports.yaml`` (k-anonymity or differentially private counts) to the
client's silver rows, read through the engine (no Spark), and writes Parquet, CSV and a JSON
report; every export, refused or failed ones too, is recorded in ``audit/pii_events``.
``lakehouse export --check --client ID --dataset NAME --quasi a,b [--file PATH]`` measures
re-identification risk (class sizes only) of silver or of an exported file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lakehouse.cli._common import Subcommands, load_cli_settings, settings_args
from lakehouse.cli.pii import _audited, _engine, _record_now, client_of
from lakehouse.errors import LakehouseError
from lakehouse.privacy.profiles import DEFAULT_EXPORTS

__all__ = ["register"]


def _dataset(args: argparse.Namespace, dataset: str) -> None:
    if args.dataset != dataset:
        raise LakehouseError(
            f"client '{args.client}' delivers dataset '{dataset}', not '{args.dataset}'",
            client=args.client,
            fix=f"pass --dataset {dataset}",
        )


def _cmd_check(args: argparse.Namespace) -> int:
    from lakehouse.privacy.exporter import read_silver
    from lakehouse.privacy.risk import measure, read_export_file

    quasi = [c.strip() for c in (args.quasi or "").split(",") if c.strip()]
    if args.file is not None:
        frame = read_export_file(args.file)
        source = args.file.name
    else:
        settings = load_cli_settings(args)
        client = client_of(settings, args.client)
        _dataset(args, client.dataset)
        frame = read_silver(settings, _engine(settings), client, quasi)
        source = f"silver/{client.dataset} ({client.client_id})"
    report = measure(frame, quasi)
    if args.json:
        print(json.dumps({"source": source, **report.as_dict()}, indent=2))
        return 0
    print(f"{source}: {report.rows} row(s) on {', '.join(quasi)}")
    print(f"equivalence classes  {report.classes}")
    print(f"smallest class       {report.min_class}")
    print(f"unique rows          {report.unique_rows} ({report.unique_share:.1%})")
    print("class size   classes      rows")
    for label, counts in report.histogram.items():
        print(f"{label:<10} {counts['classes']:>9} {counts['rows']:>9}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    if args.check:
        return _cmd_check(args)
    from lakehouse.pii.export import check_reason
    from lakehouse.privacy.exporter import prepare, write
    from lakehouse.privacy.profiles import load_exports

    missing = [f"--{n}" for n in ("profile", "out", "reason") if getattr(args, n) is None]
    if missing:
        raise LakehouseError(
            f"an export needs {', '.join(missing)}",
            fix="or pass --check --quasi col,col to measure risk only",
        )
    args.reason = check_reason(args.reason)
    settings = load_cli_settings(args)
    engine = _engine(settings)
    with _audited(settings, engine, "export", args.client, args.reason) as event:
        event.tables = f"silver/{args.dataset}"
        event.detail = {"profile": args.profile, "out": str(args.out)}
        client = client_of(settings, args.client)
        _dataset(args, client.dataset)
        exports = load_exports(args.exports)
        prepared = prepare(
            settings,
            engine,
            client,
            exports,
            args.profile,
            event_id=event.event_id,
            user=event.user,
        )
        report = prepared.report
        event.columns = ",".join(prepared.frame.columns)
        event.rows = prepared.frame.height
        event.detail = {
            key: report[key]
            for key in (
                "profile",
                "method",
                "consumer",
                "k",
                "k_achieved",
                "l",
                "levels",
                "rows_in",
                "rows_suppressed",
                "epsilon",
                "spent_before",
                "budget",
            )
            if key in report
        } | {"out": str(args.out)}
        _record_now(settings, engine, event)  # the release is on record before it is written
        files = write(prepared, args.out)
    print(json.dumps(report, indent=2, sort_keys=True))
    print(
        f"wrote {', '.join(str(f) for f in files)}; export recorded in audit/pii_events",
        file=sys.stderr,
    )
    return 0


def register(sub: Subcommands) -> None:
    export = sub.add_parser(
        "export", help="privacy-safe export (k-anonymity, DP counts) or --check a risk"
    )
    settings_args(export)
    export.set_defaults(func=_cmd_export)
    export.add_argument("--client", required=True)
    export.add_argument("--dataset", required=True, help="the client's dataset (silver table)")
    export.add_argument("--profile", help="profile name in conf/exports.yaml")
    export.add_argument("--out", type=Path, help="folder for the files (created 0700)")
    export.add_argument(
        "--reason", help="why: a ticket (INC-1234) or a sentence; recorded in the audit"
    )
    export.add_argument(
        "--exports",
        type=Path,
        default=DEFAULT_EXPORTS,
        help=f"export profiles (default: {DEFAULT_EXPORTS})",
    )
    export.add_argument(
        "--check", action="store_true", help="measure re-identification risk; write nothing"
    )
    export.add_argument("--quasi", help="--check: quasi-identifier columns, comma-separated")
    export.add_argument("--file", type=Path, help="--check: an exported .parquet or .csv file")
    export.add_argument("--json", action="store_true", help="--check: JSON output")
