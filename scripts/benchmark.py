"""Benchmark the pipeline on this machine; see README "Performance".

    .venv/bin/python scripts/benchmark.py [--rows 1000000] [--quick] [--out bench]

Same as ``lakehouse bench``.
"""

from __future__ import annotations

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
