"""PII protection: keys, keyed tokens and per-column policies."""

from lakehouse.pii.keys import KeyRing, create_dev_key_file
from lakehouse.pii.policies import protect, row_hash, tokenise, tokenise_pii_raw

__all__ = ["KeyRing", "create_dev_key_file", "protect", "row_hash", "tokenise", "tokenise_pii_raw"]
