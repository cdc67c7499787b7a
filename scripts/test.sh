#!/usr/bin/env bash
# Install dev dependencies into .venv, then lint, type-check and run the whole test suite.
#   ./scripts/test.sh               # everything (what CI runs)
#   ./scripts/test.sh -k silver     # extra arguments go to pytest
#   ./scripts/test.sh -n 0          # in this one process (default: pytest-xdist workers, one per core)
# The suite's wall time is printed at the end, pass or fail, so a slow day is visible.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

started=$SECONDS
report_time() { echo "== suite wall time: $(( (SECONDS - started) / 60 ))m $(( (SECONDS - started) % 60 ))s (install, lint, type check and tests)"; }
trap report_time EXIT

check_java
ensure_venv dev
ensure_chromium
cd "$ROOT"

echo "== ruff check" && ruff check .
echo "== ruff format --check" && ruff format --check .
echo "== mypy (strict on lakehouse/)" && mypy
echo "== pytest"
set +e
# Whole modules per worker, the demo lake's modules together (tests/conftest.py).
pytest -n auto --dist loadfile "$@"
status=$?
set -e
if [[ $status -eq 5 ]]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit $status
