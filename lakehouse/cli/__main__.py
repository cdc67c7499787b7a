"""``python -m lakehouse.cli``: the ``lakehouse`` command without its console script."""

import sys

from lakehouse.cli import main

sys.exit(main())
