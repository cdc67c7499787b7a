"""Scheduled gold refresh: ``python jobs/gold.py [--table NAME] [--full] [--conf PATH]``.

Thin by design: hand over to ``lakehouse gold``. It reads silver's change feed and the changed
clients' rows through the engine: no Spark session, no PII keys (gold aggregates silver's
already protected values).
"""

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["gold", *sys.argv[1:]]))
