#!/usr/bin/env bash
# Run the ingest job through spark-submit.
#
#   ./scripts/run_pipeline.sh --demo              # bundled demo data, dev key generated locally
#   ./scripts/run_pipeline.sh [--client ID ...]   # real run: needs LAKEHOUSE_TOKEN_KEY or LAKEHOUSE_KEY_FILE
#   ./scripts/run_pipeline.sh --backfill --client ID --from YYYY-MM-DD --to YYYY-MM-DD [--dry-run]
#   ./scripts/run_pipeline.sh --freshness [--client ID]   # deliveries vs calendars, no Spark
#   ./scripts/run_pipeline.sh --retention [--client ID] [--dry-run]   # expired data, no Spark
#   ./scripts/run_pipeline.sh --gold [--table NAME] [--full]   # gold from silver's CDF, no Spark
#
# Other flags are passed to `lakehouse ingest` (`lakehouse backfill` after --backfill,
# `lakehouse freshness` after --freshness: exit 1 when late, `lakehouse retention`, `lakehouse gold`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
    sed -n '2,12p' "$0"; exit 0
fi

if [[ "${1:-}" == "--freshness" || "${1:-}" == "--retention" || "${1:-}" == "--gold" ]]; then
    command="${1#--}"
    shift
    ensure_venv
    cd "$ROOT"
    exec lakehouse "$command" "$@"  # tables through delta-rs: no JVM
fi

JOB="$ROOT/jobs/ingest.py"
if [[ "${1:-}" == "--backfill" ]]; then
    JOB="$ROOT/jobs/backfill.py"
    shift
fi

check_java
ensure_venv
cd "$ROOT"
exec spark-submit \
    --master "${SPARK_MASTER:-local[2]}" \
    --driver-memory "${SPARK_DRIVER_MEMORY:-2g}" \
    --conf spark.ui.enabled=false \
    --driver-java-options "-Dlog4j2.configurationFile=file:$ROOT/lakehouse/resources/log4j2.properties" \
    "$JOB" "$@"
