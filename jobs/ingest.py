"""spark-submit entry point: ``spark-submit jobs/ingest.py [--client ID] [--demo] ...``.

Thin by design: parse arguments, then hand over to ``lakehouse ingest``.
"""

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
