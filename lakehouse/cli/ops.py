"""Operations commands: ``status``, ``audit``, ``history``, ``archive``,
``validate-config``, ``config-schema`` and ``schedules render``.

They read tables through the engine and never start Spark. Tables for people by default,
``--json`` for automation. Output holds identifiers, counts and reason codes, never values.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lakehouse.cli._common import (
    Subcommands,
    iso_date,
    load_cli_settings,
    settings_args,
    write_or_print,
)
from lakehouse.config import load_clients
from lakehouse.config.loader import client_files
from lakehouse.engine import get_engine
from lakehouse.errors import LakehouseError
from lakehouse.ops import (
    TABLES,
    Column,
    audit_rows,
    check_client_files,
    check_exports_file,
    check_schedules_file,
    client_json_schema,
    client_status,
    dataset_of,
    render_table,
    table_history,
    to_json,
)
from lakehouse.ops.render import FILE_OUTCOME
from lakehouse.privacy.profiles import DEFAULT_EXPORTS

__all__ = ["register"]

DEFAULT_SCHEDULES = Path("conf/schedules.yaml")
RUN_SCRIPT = Path("scripts/run_pipeline.sh")

_STATUS = (
    Column("client_id", "client"),
    Column("dataset", "dataset"),
    Column("files_ingested", "files", ">"),
    Column("last_file", "last file"),
    Column("last_status", "status"),
    Column("last_success_at", "last success (UTC)"),
    Column("rows_read", "rows read", ">"),
    Column("silver_rows", "silver rows", ">"),
    Column("quarantine_rate", "quarantined", ">", percent=True),
    Column("files_over_threshold", "over thr", ">"),
    Column("files_held", "held", ">"),
    Column("files_failing", "failing", ">"),
)
_AUDIT = (
    Column("finished_at", "finished (UTC)"),
    Column("client_id", "client"),
    Column("dataset", "dataset"),
    Column("file_name", "file"),
    *FILE_OUTCOME,
    Column("reason", "reason"),
    Column("run_id", "run"),
)
_HISTORY = (
    Column("version", "version", ">"),
    Column("timestamp", "time (UTC)"),
    Column("operation", "operation"),
    Column("run_id", "run"),
    Column("source_file", "file"),
    Column("metrics", "metrics"),
)


def _emit(rows: list[dict[str, Any]], columns: tuple[Column, ...], as_json: bool) -> None:
    print(to_json(rows) if as_json else render_table(rows, columns))


def _cmd_status(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    rows = client_status(settings, get_engine(settings), load_clients(settings.clients_dir))
    _emit(rows, _STATUS, args.json)
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    rows = audit_rows(
        settings,
        get_engine(settings),
        client_id=args.client,
        since=args.since,
        status=args.status,
        run_id=args.run_id,
        limit=args.limit,
    )
    _emit(rows, _AUDIT, args.json)
    return 0


def _cmd_history(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    clients = load_clients(settings.clients_dir)
    dataset = args.dataset or dataset_of(clients)
    tables = [args.table] if args.table else list(TABLES)
    rows: list[dict[str, Any]] = []
    engine = get_engine(settings)
    for table in tables:
        history = table_history(settings, engine, table, dataset, limit=args.limit)
        if args.json:
            rows.extend(history)
            continue
        print(f"{table}" + ("" if table == "audit" else f"/{dataset}") + ":")
        print(render_table(history, _HISTORY) if history else "  (no table yet)")
    if args.json:
        print(to_json(rows))
    return 0


def _cmd_archive(args: argparse.Namespace) -> int:
    from lakehouse.archive import sweep_landing

    settings = load_cli_settings(args)
    items = sweep_landing(settings, get_engine(settings), dry_run=args.dry_run)
    rows = [
        {
            "file": i.name,
            "status": i.status,
            "action": i.action,
            "note": i.note,
            "target": str(i.target) if i.target else None,
        }
        for i in items
    ]
    columns = (
        Column("file", "file"),
        Column("status", "last status"),
        Column("action", "action"),
        Column("note", "note"),
    )
    _emit(rows, columns, args.json)
    return 0


def _cmd_validate_config(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)  # settings errors stop here, naming file and key
    clients, problems = check_client_files(settings.clients_dir)
    schedules = args.schedules or (DEFAULT_SCHEDULES if DEFAULT_SCHEDULES.exists() else None)
    with_files = {p.stem for p in client_files(settings.clients_dir)} | {
        c.client_id for c in clients.values()
    }
    if schedules is not None:
        problems += check_schedules_file(schedules, with_files)
    exports = args.exports or (DEFAULT_EXPORTS if DEFAULT_EXPORTS.exists() else None)
    if exports is not None:
        problems += check_exports_file(exports, clients, with_files)
    if args.json:
        print(to_json({"ok": sorted(clients), "problems": [p.as_row() for p in problems]}))
    else:
        for client_id, client in sorted(clients.items()):
            print(f"ok     {client_id}: dataset={client.dataset} columns={len(client.columns)}")
        for extra in (schedules, exports):
            if extra is not None and not any(p.file == str(extra) for p in problems):
                print(f"ok     {extra}")
        for problem in problems:
            print(f"error  {problem}")
        if problems:
            files = len({p.file for p in problems})
            print(f"{len(problems)} problem(s) in {files} file(s)")
    return 1 if problems else 0


def _cmd_config_schema(args: argparse.Namespace) -> int:
    write_or_print(json.dumps(client_json_schema(), indent=2) + "\n", args.out)
    return 0


def _cmd_schedules_render(args: argparse.Namespace) -> int:
    from lakehouse.ops.schedules import (
        check_clients,
        existing_cluster_secrets,
        load_schedules,
        render_crontab,
        render_databricks_jobs,
    )

    settings = load_cli_settings(args)
    schedules = load_schedules(args.schedules)
    clients = load_clients(settings.clients_dir)
    check_clients(schedules, clients, args.schedules)
    if args.format == "crontab":
        repo = args.repo_dir.resolve()
        if schedules.repo_dir is None and not (repo / RUN_SCRIPT).is_file():
            raise LakehouseError(
                f"{repo} has no {RUN_SCRIPT}: crontab lines would call nothing",
                fix="run from the repository or pass --repo-dir (or set repo_dir)",
            )
        text = render_crontab(schedules, repo)
    else:
        text = json.dumps(render_databricks_jobs(schedules, clients), indent=2) + "\n"
        needed = existing_cluster_secrets(schedules, clients)
        if needed:
            print(
                f"note: cluster {schedules.databricks.existing_cluster_id} must set "
                f"{', '.join(needed)} (from a secret scope) or the jobs refuse to start",
                file=sys.stderr,
            )
    write_or_print(text, args.out)
    return 0


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def register(sub: Subcommands) -> None:
    status = sub.add_parser("status", help="per client: last file, last success, rows, rates")
    settings_args(status)
    _json_flag(status)
    status.set_defaults(func=_cmd_status)

    audit = sub.add_parser("audit", help="audit rows (one per file per run)")
    settings_args(audit)
    audit.add_argument("--client", help="only this client")
    audit.add_argument("--since", type=iso_date, help="processed on or after (UTC date)")
    audit.add_argument("--status", type=str.upper, help="SUCCESS, DUPLICATE, REJECTED, ...")
    audit.add_argument("--run-id", help="run id or prefix (backfill- lists backfills)")
    audit.add_argument("--limit", type=int, help="only the newest N rows")
    _json_flag(audit)
    audit.set_defaults(func=_cmd_audit)

    history = sub.add_parser("history", help="table versions: time, operation, run, metrics")
    settings_args(history)
    history.add_argument("--table", choices=TABLES, help="default: all four")
    history.add_argument("--dataset", help="default: the dataset every client writes")
    history.add_argument("--limit", type=int, help="newest N versions")
    _json_flag(history)
    history.set_defaults(func=_cmd_history)

    archive = sub.add_parser(
        "archive", help="archive landing files already processed (e.g. from before archiving)"
    )
    settings_args(archive)
    archive.add_argument("--dry-run", action="store_true")
    _json_flag(archive)
    archive.set_defaults(func=_cmd_archive)

    check = sub.add_parser("validate-config", help="check every configuration file")
    settings_args(check)
    check.add_argument("--schedules", type=Path, help=f"default: {DEFAULT_SCHEDULES} if present")
    check.add_argument(
        "--exports", type=Path, help=f"export profiles; default: {DEFAULT_EXPORTS} if present"
    )
    _json_flag(check)
    check.set_defaults(func=_cmd_validate_config)

    schema = sub.add_parser("config-schema", help="JSON Schema of clients/<id>.yaml")
    schema.add_argument("--out", type=Path, help="write to this file instead of stdout")
    schema.set_defaults(func=_cmd_config_schema)

    schedules = sub.add_parser("schedules", help="render conf/schedules.yaml for schedulers")
    verbs = schedules.add_subparsers(dest="verb", required=True)
    render = verbs.add_parser("render", help="crontab or Databricks Jobs (API 2.1) JSON")
    settings_args(render)
    render.add_argument("--format", choices=["crontab", "databricks-json"], required=True)
    render.add_argument("--schedules", type=Path, default=DEFAULT_SCHEDULES)
    render.add_argument("--out", type=Path, help="write to this file instead of stdout")
    render.add_argument(
        "--repo-dir", type=Path, default=Path(), help="where crontab runs (default: here)"
    )
    render.set_defaults(func=_cmd_schedules_render)
