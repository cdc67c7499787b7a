"""Configuration: typed models and their loaders."""

from lakehouse.config.loader import load_client, load_clients, load_settings
from lakehouse.config.models import ClientConfig, ColumnSpec, Settings

__all__ = ["ClientConfig", "ColumnSpec", "Settings", "load_client", "load_clients", "load_settings"]
