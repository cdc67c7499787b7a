"""spark-submit entry point: ``spark-submit jobs/backfill.py --client ID --from D --to D``.

Thin by design: parse arguments, then hand over to ``lakehouse backfill``.
"""

import sys

from lakehouse.cli import main

if __name__ == "__main__":
    sys.exit(main(["backfill", *sys.argv[1:]]))
