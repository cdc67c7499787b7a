"""lakehouse: config-driven PySpark + Delta Lake ingestion for sensitive data."""

__version__ = "0.1.0"
