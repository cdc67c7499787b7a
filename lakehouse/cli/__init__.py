"""The ``lakehouse`` command (also behind ``spark-submit jobs/ingest.py``).

Each area registers its own subcommands (``register(sub)``) from a module of this package.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lakehouse.cli import (
    alerts,
    backfill,
    bench,
    consent,
    drift,
    export,
    freshness,
    gold,
    ingest,
    ops,
    pii,
    quarantine,
    release,
    report,
    schema,
)
from lakehouse.errors import LakehouseError
from lakehouse.logs import configure_logging

__all__ = ["build_parser", "main"]

_COMMAND_MODULES = (
    ingest,
    release,
    schema,
    backfill,
    ops,
    quarantine,
    freshness,
    gold,
    drift,
    report,
    alerts,
    pii,
    export,
    consent,
    bench,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakehouse",
        description="Config-driven PySpark + Delta Lake ingestion for sensitive data.",
    )
    parser.add_argument("--log-level", default=os.environ.get("LAKEHOUSE_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)
    for module in _COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    try:
        return int(args.func(args))
    except LakehouseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
