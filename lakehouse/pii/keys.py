"""Secrets for PII protection: from the environment or a key file, never from YAML or code.

Key file (path in ``LAKEHOUSE_KEY_FILE``), JSON, readable by its owner only::

    {"token_key_id": "tok-2026-01", "keys": {"tok-2026-01": "<64+ hex chars>"}}

``LAKEHOUSE_TOKEN_KEY`` (hex, 32+ bytes) overrides the file's token key. The token key id is
recorded with each silver commit; rotating the token key changes every token (see
DesignDoc.md, "Keys"), so it is versioned, not rotated casually.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.errors import KeyMissingError

__all__ = ["KEY_FILE_ENV", "MIN_KEY_BYTES", "TOKEN_KEY_ENV", "KeyRing", "create_dev_key_file"]

log = logging.getLogger(__name__)

TOKEN_KEY_ENV = "LAKEHOUSE_TOKEN_KEY"
KEY_FILE_ENV = "LAKEHOUSE_KEY_FILE"
MIN_KEY_BYTES = 32
_FIX = (
    f"export {TOKEN_KEY_ENV}=<64+ hex chars> (e.g. `python -c 'import secrets; "
    f"print(secrets.token_hex(32))'`) or point {KEY_FILE_ENV} to a key file"
)


def _decode(value: str, *, source: str) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError as exc:
        raise KeyMissingError(f"{source} is not hex", fix=_FIX) from exc
    if len(key) < MIN_KEY_BYTES:
        raise KeyMissingError(
            f"{source} is {len(key)} bytes; at least {MIN_KEY_BYTES} are required", fix=_FIX
        )
    return key


@dataclass(frozen=True)
class KeyRing:
    """Named keys and which one tokenises. ``repr`` never shows key material."""

    token_key_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    @property
    def token_key(self) -> bytes:
        return self.keys[self.token_key_id]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> KeyRing:
        """Load keys from ``LAKEHOUSE_TOKEN_KEY`` and/or ``LAKEHOUSE_KEY_FILE``.

        Raises:
            KeyMissingError: no key configured, unreadable key file, or a key too short.
        """
        env = os.environ if environ is None else environ
        keys: dict[str, bytes] = {}
        token_key_id: str | None = None
        key_file = env.get(KEY_FILE_ENV)
        if key_file:
            token_key_id, keys = _read_key_file(Path(key_file))
        if env.get(TOKEN_KEY_ENV):
            keys["env"] = _decode(env[TOKEN_KEY_ENV], source=TOKEN_KEY_ENV)
            token_key_id = "env"
        if token_key_id is None:
            raise KeyMissingError(
                f"no tokenisation key: neither {TOKEN_KEY_ENV} nor {KEY_FILE_ENV} is set; "
                "lakehouse refuses to process PII without one",
                fix=_FIX,
            )
        return cls(token_key_id=token_key_id, keys=keys)


def _read_key_file(path: Path) -> tuple[str, dict[str, bytes]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KeyMissingError(
            f"key file named by {KEY_FILE_ENV} cannot be read ({type(exc).__name__})", fix=_FIX
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise KeyMissingError(f"key file named by {KEY_FILE_ENV} has no 'keys' mapping", fix=_FIX)
    keys = {
        str(key_id): _decode(str(value), source=f"key '{key_id}' in {KEY_FILE_ENV}")
        for key_id, value in data["keys"].items()
    }
    token_key_id = str(data.get("token_key_id", ""))
    if token_key_id not in keys:
        raise KeyMissingError(
            f"key file's token_key_id '{token_key_id}' is not among its keys", fix=_FIX
        )
    return token_key_id, keys


def create_dev_key_file(path: Path) -> Path:
    """Create a random local development key file (demo only) unless one exists."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    key_id = "dev-1"
    payload = {"token_key_id": key_id, "keys": {key_id: secrets.token_hex(32)}}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    log.warning(
        "generated a DEVELOPMENT key file for the demo; never use it for real data",
        extra={"key_file": str(path)},
    )
    return path
