"""Pieces every command module shares: settings flags and their loading."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse.config import load_settings
from lakehouse.config.models import Settings

if TYPE_CHECKING:
    Subcommands = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subcommands = Any

__all__ = [
    "DEFAULT_CONF",
    "Subcommands",
    "iso_date",
    "load_cli_settings",
    "settings_args",
    "write_or_print",
]

DEFAULT_CONF = Path("conf/lakehouse.yaml")


def settings_args(parser: argparse.ArgumentParser) -> None:
    """Flags that override conf/lakehouse.yaml and LAKEHOUSE_* environment variables."""
    parser.add_argument(
        "--conf", type=Path, default=DEFAULT_CONF, help=f"settings file (default: {DEFAULT_CONF})"
    )
    parser.add_argument("--lake-root", type=Path, help="overrides lake_root")
    parser.add_argument("--landing", type=Path, help="overrides landing_dir")
    parser.add_argument("--checkpoint-dir", type=Path, help="overrides checkpoint_dir")
    parser.add_argument("--clients-dir", type=Path, help="overrides clients_dir")


def load_cli_settings(args: argparse.Namespace) -> Settings:
    # The default settings file is optional (run from anywhere); an explicit one must exist.
    conf = args.conf if args.conf != DEFAULT_CONF or args.conf.exists() else None
    return load_settings(
        conf,
        overrides={
            "lake_root": args.lake_root,
            "landing_dir": args.landing,
            "checkpoint_dir": args.checkpoint_dir,
            "clients_dir": args.clients_dir,
            "trigger": getattr(args, "trigger", None),
            "processing_time": getattr(args, "processing_time", None),
        },
    )


def write_or_print(text: str, out: Path | None) -> None:
    """Write ``text`` to ``out`` (creating folders), or print it when no file is given."""
    if out is None:
        print(text, end="")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")


def iso_date(text: str) -> dt.date:
    """An argparse ``type`` for YYYY-MM-DD dates."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date (YYYY-MM-DD)") from None
