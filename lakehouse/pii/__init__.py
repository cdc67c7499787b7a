"""PII protection: key ring, per-column policies, encryption, PHI redaction, erasure, rotation.

Only the key ring is imported here (no Spark), so CLI commands that need keys start fast;
import ``lakehouse.pii.policies`` (Spark) or ``lakehouse.pii.crypto`` where needed.
"""

from lakehouse.pii.keys import KeyRing, create_dev_key_file

__all__ = ["KeyRing", "create_dev_key_file"]
