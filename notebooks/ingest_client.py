# Databricks notebook source
# MAGIC %md
# MAGIC # Ingest one client
# MAGIC
# MAGIC Runs the lakehouse ingest for one client (the same `run_ingest` that `jobs/ingest.py`
# MAGIC and `lakehouse ingest` call), then shows what the run did:
# MAGIC
# MAGIC 1. the audit rows of the run (one per file: status, counts, reason);
# MAGIC 2. the quarantine reasons of the run's files, counted (codes only, never values);
# MAGIC 3. the silver changes the run committed, from the Change Data Feed (tokenised key and
# MAGIC    non-PII columns only).
# MAGIC
# MAGIC **Parameters** are widgets on Databricks; locally (`python notebooks/ingest_client.py`)
# MAGIC they come from `LAKEHOUSE_NOTEBOOK_CLIENT` and `LAKEHOUSE_NOTEBOOK_DEMO`. Tables and
# MAGIC landing come from `conf/lakehouse.yaml` and `LAKEHOUSE_*` variables as for every entry
# MAGIC point. The key comes from `LAKEHOUSE_TOKEN_KEY` / `LAKEHOUSE_KEY_FILE` (on Databricks: a
# MAGIC cluster environment variable backed by a secret scope). `demo=true` first writes the
# MAGIC bundled demo files into landing and, without a key, creates a local development key.

# COMMAND ----------

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from lakehouse.config import load_clients, load_settings
from lakehouse.engine import get_engine
from lakehouse.ingest.stream import run_ingest
from lakehouse.ops import (
    Column,
    audit_rows,
    quarantine_reasons,
    render_table,
    silver_changes,
)
from lakehouse.pii.key_check import checked_ring
from lakehouse.pii.keys import KEY_FILE_ENV, TOKEN_KEY_ENV, create_dev_key_file

try:
    _widgets: Any = dbutils.widgets  # defined by Databricks
except NameError:
    _widgets = None


def parameter(name: str, default: str) -> str:
    """A widget on Databricks, else ``LAKEHOUSE_NOTEBOOK_<NAME>``, else the default."""
    if _widgets is not None:
        _widgets.text(name, default)
        return str(_widgets.get(name))
    return os.environ.get(f"LAKEHOUSE_NOTEBOOK_{name.upper()}", default)


def show(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """``display`` on Databricks; an aligned text table elsewhere."""
    print(f"\n{title}")
    if not rows:
        print("(none)")
        return
    try:
        import pandas as pd

        display(pd.DataFrame(rows)[columns])  # defined by Databricks
    except NameError:
        print(render_table(rows, [Column(c, c) for c in columns]))


# COMMAND ----------

# MAGIC %md
# MAGIC ## Parameters and configuration

# COMMAND ----------

CLIENT = parameter("client", "acme")
DEMO = parameter("demo", "false").strip().lower() in ("1", "true", "yes")

conf = Path("conf/lakehouse.yaml")
settings = load_settings(conf if conf.exists() else None)
clients = load_clients(settings.clients_dir)
engine = get_engine(settings)
print(f"client={CLIENT} demo={DEMO} lake={settings.lake_root} landing={settings.landing_dir}")

if DEMO:
    from lakehouse.demo import build_demo

    if not os.environ.get(TOKEN_KEY_ENV) and not os.environ.get(KEY_FILE_ENV):
        dev_key = Path(".lakehouse/dev-keys.json")
        os.environ[KEY_FILE_ENV] = str(create_dev_key_file(dev_key))
        print(f"demo: using the local DEVELOPMENT key file {dev_key} (never for real data)")
    written = build_demo(clients).write(settings.landing_dir, waves=[1, 2])
    print(f"demo: {len(written)} file(s) in {settings.landing_dir}")

# Refuses a token key other than the one silver was tokenised with (before Spark starts).
keys = checked_ring(settings, [c for name, c in clients.items() if name == CLIENT])

# COMMAND ----------

# MAGIC %md
# MAGIC ## Run the ingest

# COMMAND ----------

started = time.perf_counter()
result = run_ingest(settings, clients, keys, only=[CLIENT])
print(f"run {result.run_id}: {len(result.records)} file(s) in {time.perf_counter() - started:.1f}s")

# COMMAND ----------

# MAGIC %md
# MAGIC ## Audit of the run

# COMMAND ----------

audit = audit_rows(settings, engine, run_id=result.run_id)
show(
    "audit rows of this run",
    audit,
    [
        "file_name",
        "status",
        "rows_read",
        "rows_valid",
        "rows_quarantined",
        "rows_inserted",
        "rows_updated",
        "rows_unchanged",
        "rows_stale",
        "silver_version",
        "reason",
    ],
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## Quarantine reasons (codes and counts, no values)

# COMMAND ----------

run_files = {str(r["file_name"]) for r in audit if r["client_id"] == CLIENT}
reasons = quarantine_reasons(settings, engine, clients[CLIENT], files=run_files)
show("quarantine reasons of this run", reasons, ["reason", "rows", "files", "latest_file"])

# COMMAND ----------

# MAGIC %md
# MAGIC ## Silver changes of the run (Change Data Feed)

# COMMAND ----------

versions = sorted(int(r["silver_version"]) for r in audit if r["silver_version"] is not None)
if versions:
    counts, sample = silver_changes(
        settings,
        engine,
        clients[CLIENT],
        starting_version=versions[0],
        ending_version=versions[-1],
    )
    show(f"silver changes, versions {versions[0]}..{versions[-1]}", counts, list(counts[:1][0]))
    columns = list(sample[0]) if sample else []
    show("changed rows (sample; key tokenised, PII columns left out)", sample, columns)
else:
    print("\nno silver version was committed by this run")

# COMMAND ----------

# A failed file fails the notebook run (its audit row above says why).
result.raise_for_failures()
