"""Secrets for PII protection: from the environment or a key file, never from YAML or code.

Key file (path in ``LAKEHOUSE_KEY_FILE``), JSON, readable by its owner only::

    {
      "token_key_id": "tok-2026-01",              # HMAC tokens (merge keys): versioned, not rotated
      "encrypt_key_id": "enc-2026-03",            # AES-GCM: encrypts new values
      "encrypt_old_key_ids": ["enc-2026-01"],     # AES-GCM: still decrypts older values
      "siv_key_id": "siv-2026-01",                # AES-SIV: deterministic_encrypt columns
      "siv_old_key_ids": [],                      # AES-SIV: still decrypts older values
      "keys": {"tok-2026-01": "<64+ hex chars>", "enc-2026-03": "...", ...}
    }

Environment variables override the file's active key of their purpose:
``LAKEHOUSE_TOKEN_KEY``, ``LAKEHOUSE_ENCRYPT_KEY``, ``LAKEHOUSE_SIV_KEY`` (hex, 32+ bytes);
their keys get the id ``env-<purpose>-<fingerprint>``. Refused: a key file that is a link,
not owned by the user or root, or has any group/other permission bit; a key of all zero
bytes; the same key bytes for two purposes.
Only the token key is needed to load a ring; the other purposes are checked by ``require``
when a run or command needs them, with an error naming the variable to set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lakehouse.errors import KeyMissingError

__all__ = [
    "ENCRYPT_KEY_ENV",
    "KEY_ENV_VARS",
    "KEY_FILE_ENV",
    "MIN_KEY_BYTES",
    "PURPOSE_ENV",
    "SIV_KEY_ENV",
    "TOKEN_KEY_ENV",
    "KeyRing",
    "Purpose",
    "create_dev_key_file",
    "fingerprint",
    "key_environment_removed",
    "key_file_secrets",
]

log = logging.getLogger(__name__)

TOKEN_KEY_ENV = "LAKEHOUSE_TOKEN_KEY"
ENCRYPT_KEY_ENV = "LAKEHOUSE_ENCRYPT_KEY"
SIV_KEY_ENV = "LAKEHOUSE_SIV_KEY"
KEY_FILE_ENV = "LAKEHOUSE_KEY_FILE"
MIN_KEY_BYTES = 32
# Variables that carry key material (or say where it is): never passed on to Spark's JVM
# or Python workers, which get their keys inside the UDF closures that need them.
KEY_ENV_VARS = (TOKEN_KEY_ENV, ENCRYPT_KEY_ENV, SIV_KEY_ENV, KEY_FILE_ENV)

Purpose = Literal["token", "encrypt", "siv"]
PURPOSE_ENV: Mapping[Purpose, str] = {
    "token": TOKEN_KEY_ENV,
    "encrypt": ENCRYPT_KEY_ENV,
    "siv": SIV_KEY_ENV,
}
# Key ids travel inside every encrypted value (``gcm2:<id>:...``): no ':' and short.
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_FIX = (
    f"export {TOKEN_KEY_ENV}=<64+ hex chars> (e.g. `python -c 'import secrets; "
    f"print(secrets.token_hex(32))'`) or point {KEY_FILE_ENV} to a key file"
)


def _fix_for(purpose: Purpose) -> str:
    if purpose == "token":
        return _FIX
    env = PURPOSE_ENV[purpose]
    return (
        f"export {env}=<64+ hex chars> or add a key and '{purpose}_key_id' to the key file "
        f"named by {KEY_FILE_ENV} (see README, 'PII protection')"
    )


def _decode(value: str, *, source: str, fix: str = _FIX) -> bytes:
    try:
        key = bytes.fromhex(value.strip())
    except ValueError as exc:
        raise KeyMissingError(f"{source} is not hex", fix=fix) from exc
    if len(key) < MIN_KEY_BYTES:
        raise KeyMissingError(
            f"{source} is {len(key)} bytes; at least {MIN_KEY_BYTES} are required", fix=fix
        )
    if not any(key):
        raise KeyMissingError(
            f"{source} is all zero bytes (a placeholder, not a secret)",
            fix=f"replace it with a random key: {fix}",
        )
    return key


def fingerprint(key: bytes) -> str:
    """Short keyed fingerprint naming an env key (reveals nothing about the key)."""
    return hmac.new(key, b"lakehouse key fingerprint", hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True)
class KeyRing:
    """Named keys and which one serves each purpose. ``repr`` never shows key material."""

    token_key_id: str
    keys: Mapping[str, bytes] = field(repr=False)
    encrypt_key_id: str | None = field(default=None, repr=False)
    encrypt_old_key_ids: frozenset[str] = field(default=frozenset(), repr=False)
    siv_key_id: str | None = field(default=None, repr=False)
    siv_old_key_ids: frozenset[str] = field(default=frozenset(), repr=False)
    # Spark expressions built from these keys (``lakehouse.memo``), kept for the ring's life
    # so a run builds each once, not once per file. Opaque here; no key material in it that
    # the ring does not already hold.
    spark_functions: dict[Hashable, object] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __getstate__(self) -> dict[str, object]:
        # A ring pickled into a UDF (decryption) travels without the JVM handles.
        return {**self.__dict__, "spark_functions": {}}

    @property
    def token_key(self) -> bytes:
        return self.keys[self.token_key_id]

    def active(self, purpose: Purpose) -> tuple[str, bytes]:
        """(key id, key) that protects new values for ``purpose``.

        Raises:
            KeyMissingError: no key configured for ``purpose``; names the env var to set.
        """
        key_id = {
            "token": self.token_key_id,
            "encrypt": self.encrypt_key_id,
            "siv": self.siv_key_id,
        }[purpose]
        if key_id is None or key_id not in self.keys:
            raise KeyMissingError(
                f"no {purpose} key: neither {PURPOSE_ENV[purpose]} nor '{purpose}_key_id' in the "
                f"file named by {KEY_FILE_ENV} is set; lakehouse refuses to process PII "
                "without one",
                fix=_fix_for(purpose),
            )
        return key_id, self.keys[key_id]

    def require(self, purposes: Iterable[Purpose]) -> None:
        """Fail before any work when a purpose a run needs has no key."""
        for purpose in sorted(set(purposes)):
            self.active(purpose)

    def decryption_key(self, key_id: str, purpose: Literal["encrypt", "siv"]) -> bytes:
        """Key ``key_id`` if it may decrypt values of ``purpose`` (active or old).

        Raises:
            KeyMissingError: the id is not in the ring or not designated for ``purpose``.
        """
        allowed = (
            {self.encrypt_key_id, *self.encrypt_old_key_ids}
            if purpose == "encrypt"
            else {self.siv_key_id, *self.siv_old_key_ids}
        )
        if key_id not in allowed or key_id not in self.keys:
            raise KeyMissingError(
                f"values were encrypted with {purpose} key '{key_id}', which this key ring does "
                "not hold for that purpose",
                fix=f"add key '{key_id}' to the key file and list it in "
                + f"'{purpose}_old_key_ids'",
            )
        return self.keys[key_id]

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> KeyRing:
        """Load keys from ``LAKEHOUSE_*_KEY`` variables and/or ``LAKEHOUSE_KEY_FILE``.

        Raises:
            KeyMissingError: no token key, unreadable key file, or a key too short.
        """
        env = os.environ if environ is None else environ
        parsed = _FileKeys()
        key_file = env.get(KEY_FILE_ENV)
        if key_file:
            parsed = _read_key_file(Path(key_file))
        keys = dict(parsed.keys)
        token_key_id = parsed.ids.get("token")
        if env.get(TOKEN_KEY_ENV):
            token_key = _decode(env[TOKEN_KEY_ENV], source=TOKEN_KEY_ENV)
            token_key_id = f"env-token-{fingerprint(token_key)}"
            keys[token_key_id] = token_key
        if token_key_id is None:
            raise KeyMissingError(
                f"no tokenisation key: neither {TOKEN_KEY_ENV} nor {KEY_FILE_ENV} is set; "
                "lakehouse refuses to process PII without one",
                fix=_FIX,
            )
        active: dict[Purpose, str | None] = {p: parsed.ids.get(p) for p in ("encrypt", "siv")}
        for purpose in ("encrypt", "siv"):
            value = env.get(PURPOSE_ENV[purpose])
            if value:
                key = _decode(value, source=PURPOSE_ENV[purpose], fix=_fix_for(purpose))
                key_id = f"env-{purpose}-{fingerprint(key)}"
                keys[key_id] = key
                active[purpose] = key_id
        ring = cls(
            token_key_id=token_key_id,
            keys=keys,
            encrypt_key_id=active["encrypt"],
            encrypt_old_key_ids=frozenset(parsed.old["encrypt"]),
            siv_key_id=active["siv"],
            siv_old_key_ids=frozenset(parsed.old["siv"]),
        )
        _check_separation(ring)
        return ring


def _check_separation(ring: KeyRing) -> None:
    """One key, one purpose: an HMAC key reused for AES (or GCM for SIV) couples their security.

    Raises:
        KeyMissingError: the same key bytes serve two purposes; names both key ids.
    """
    ids: dict[Purpose, set[str]] = {
        "token": {ring.token_key_id},
        "encrypt": {i for i in (ring.encrypt_key_id, *ring.encrypt_old_key_ids) if i},
        "siv": {i for i in (ring.siv_key_id, *ring.siv_old_key_ids) if i},
    }
    seen: dict[bytes, tuple[Purpose, str]] = {}
    for purpose, key_ids in ids.items():
        for key_id in sorted(key_ids):
            key = ring.keys.get(key_id)
            if key is None:
                continue
            other = seen.get(key)
            if other is not None and other[0] != purpose:
                raise KeyMissingError(
                    f"the same key serves two purposes: {other[0]} key '{other[1]}' and "
                    f"{purpose} key '{key_id}' are identical",
                    fix="generate a separate random key for each purpose (token, encrypt, siv)",
                )
            seen.setdefault(key, (purpose, key_id))


@contextmanager
def key_environment_removed(
    environ: dict[str, str] | None = None, *, also: Iterable[str] = ()
) -> Iterator[None]:
    """Hide the key variables (and ``also``: alert sinks' secrets) while a child process
    (Spark's JVM) is started; restore after.

    The JVM passes its environment on to every Python worker it forks, so keys loaded into
    the ring must not be in it. ``environ`` defaults to ``os.environ``.
    """
    env: dict[str, str] | os._Environ[str] = os.environ if environ is None else environ
    saved = {name: env.pop(name) for name in (*KEY_ENV_VARS, *also) if name in env}
    try:
        yield
    finally:
        env.update(saved)


@dataclass(frozen=True)
class _FileKeys:
    keys: dict[str, bytes] = field(default_factory=dict)
    ids: dict[Purpose, str] = field(default_factory=dict)
    old: dict[Purpose, tuple[str, ...]] = field(default_factory=lambda: {"encrypt": (), "siv": ()})


def _open_key_file(path: Path) -> str:
    """The key file's text, refusing a symlink and a file other users can read or write.

    Raises:
        KeyMissingError: a link, not a regular file, not owned by this user (or root), or
            group/other permission bits set; names the file and the fix.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if stat.S_ISLNK(_lmode(path)):
            raise KeyMissingError(
                f"key file {path} named by {KEY_FILE_ENV} is a symbolic link; lakehouse does "
                "not follow links to keys (anyone who can change the link chooses the keys)",
                fix=f"point {KEY_FILE_ENV} at the real file",
            ) from exc
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyMissingError(
                f"key file {path} named by {KEY_FILE_ENV} is not a regular file", fix=_FIX
            )
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise KeyMissingError(
                f"key file {path} is mode {mode:04o}: readable or writable by other users",
                fix=f"chmod 600 {path}",
            )
        if info.st_uid not in (os.geteuid(), 0):
            raise KeyMissingError(
                f"key file {path} is owned by uid {info.st_uid}, not by this user "
                f"(uid {os.geteuid()}) or root",
                fix=f"chown the key file to the user running lakehouse, mode 600: {path}",
            )
        return handle.read().decode("utf-8")


def _lmode(path: Path) -> int:
    try:
        return os.lstat(path).st_mode
    except OSError:
        return 0


def _read_key_file(path: Path) -> _FileKeys:
    try:
        data = json.loads(_open_key_file(path))
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
    for key_id in keys:
        if not _KEY_ID.match(key_id):
            raise KeyMissingError(
                f"key id '{key_id[:64]}' in {KEY_FILE_ENV} is not 1-64 of [A-Za-z0-9._-]",
                fix="rename the key (ids are stored inside encrypted values)",
            )
    token_key_id = str(data.get("token_key_id", ""))
    if token_key_id not in keys:
        raise KeyMissingError(
            f"key file's token_key_id '{token_key_id}' is not among its keys", fix=_FIX
        )
    ids: dict[Purpose, str] = {"token": token_key_id}
    purposes: tuple[Purpose, ...] = ("encrypt", "siv")
    for purpose in purposes:
        chosen = data.get(f"{purpose}_key_id")
        if chosen is None:
            continue
        if str(chosen) not in keys:
            raise KeyMissingError(
                f"key file's {purpose}_key_id '{chosen}' is not among its keys",
                fix=_fix_for(purpose),
            )
        ids[purpose] = str(chosen)
    old = {p: _old_ids(data.get(f"{p}_old_key_ids", []), keys, p) for p in purposes}
    return _FileKeys(keys=keys, ids=ids, old=old)


def key_file_secrets(path: Path) -> dict[str, str]:
    """The key file's ``"secrets"`` object (``{NAME: value}``: alert webhook URLs, routing keys,
    SMTP passwords), read with the key file's checks (no link, this user's, mode 600).

    Raises:
        KeyMissingError: the file is unsafe or unreadable, or ``secrets`` is not a mapping of
            names to strings (the message never quotes a value).
    """
    try:
        data = json.loads(_open_key_file(path))
    except (OSError, ValueError) as exc:
        raise KeyMissingError(
            f"key file named by {KEY_FILE_ENV} cannot be read ({type(exc).__name__})", fix=_FIX
        ) from exc
    found = data.get("secrets", {}) if isinstance(data, dict) else None
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise KeyMissingError(
            f"key file's 'secrets' must map names to strings ({KEY_FILE_ENV})",
            fix='write it as "secrets": {"LAKEHOUSE_SLACK_WEBHOOK_URL": "https://..."}',
        )
    return {str(name): value for name, value in found.items()}


def _old_ids(value: Any, keys: Mapping[str, bytes], purpose: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise KeyMissingError(
            f"key file's {purpose}_old_key_ids must be a list of key ids ({KEY_FILE_ENV})"
        )
    missing = [str(v) for v in value if str(v) not in keys]
    if missing:
        raise KeyMissingError(
            f"key file's {purpose}_old_key_ids name keys it does not hold: {', '.join(missing)}",
            fix="add those keys (values encrypted with them stay readable) or remove the ids",
        )
    return tuple(str(v) for v in value)


_DEV_IDS = {"token_key_id": "dev-1", "encrypt_key_id": "dev-enc-1", "siv_key_id": "dev-siv-1"}


def create_dev_key_file(path: Path) -> Path:
    """Create a random local development key file (demo only) unless one exists.

    A development file from an older lakehouse (token key only, id ``dev-1``) gets the
    encryption keys it lacks; its token key is kept, so demo tokens do not change. Other
    files are never modified.
    """
    if path.exists():
        _upgrade_dev_key_file(path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        **_DEV_IDS,
        "keys": {key_id: secrets.token_hex(32) for key_id in _DEV_IDS.values()},
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    log.warning(
        "generated a DEVELOPMENT key file for the demo; never use it for real data",
        extra={"key_file": str(path)},
    )
    return path


def _upgrade_dev_key_file(path: Path) -> None:
    try:
        data = json.loads(_open_key_file(path))
    except (OSError, ValueError, KeyMissingError):
        return  # not ours to repair; loading it reports the problem
    if not isinstance(data, dict) or data.get("token_key_id") != _DEV_IDS["token_key_id"]:
        return
    keys = data.get("keys")
    if not isinstance(keys, dict) or all(k in data for k in _DEV_IDS):
        return
    for name, key_id in _DEV_IDS.items():
        if name not in data:
            data[name] = key_id
            keys.setdefault(key_id, secrets.token_hex(32))
    staging = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    staging.replace(path)
    log.warning(
        "added encryption keys to the DEVELOPMENT key file; never use it for real data",
        extra={"key_file": str(path)},
    )
