"""Scheduled freshness check: ``python jobs/freshness.py [--client ID] [--json] ...``.

Thin by design: hand over to ``lakehouse freshness`` (exit 1 when a client is late). It reads
the audit table only: no Spark session, no PII keys.
"""

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["freshness", *sys.argv[1:]]))
