"""Scheduled retention: ``python jobs/retention.py [--client ID] [--dry-run] ...``.

Thin by design: hand over to ``lakehouse retention`` (delete and purge what each client's
periods say has expired; audited in audit/pii_events). Tables are changed through delta-rs:
no Spark session, no PII keys.
"""

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["retention", *sys.argv[1:]]))
