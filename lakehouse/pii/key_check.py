"""A run's token key must be the one silver was tokenised with.

Tokens are silver's merge keys: a run with another token key would match no stored member
and insert every member of its files again, under new tokens, with no error. Every silver
commit records ``token_key_id`` (and, from ``commit_key_metadata``, a keyed fingerprint of
the key), so a run compares its key with the latest record before any work.

How two keys are compared, best evidence first: the recorded fingerprint; else the bytes the
ring holds under the recorded id; else the fingerprint inside an ``env-token-<fp>`` id; else
the ids themselves. A legacy id ``env`` (before ids carried fingerprints) proves nothing and
is accepted with a warning.

Tokens also depend on the client's token domain (``lakehouse.pii.domains``): silver commits
record it per client (``token_domain``: ``client``, ``shared:<name>``, ``legacy``); commits of
a lakehouse from before domains were bound record none and mean ``legacy``. A client whose
configured domain differs from its recorded one refuses to start too.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.base import TableEngine
from lakehouse.errors import KeyMissingError
from lakehouse.pii.domains import LEGACY_DOMAIN, domain_spec
from lakehouse.pii.keys import TOKEN_KEY_ENV, KeyRing, fingerprint

__all__ = [
    "RecordedTokenKey",
    "TokenDomainMismatchError",
    "TokenKeyMismatchError",
    "check_token_key",
    "checked_ring",
    "commit_key_metadata",
    "recorded_token_key",
]

log = logging.getLogger(__name__)

_HISTORY_LIMIT = 1000  # commits searched, newest first, for the last token key record
_LEGACY_ENV_ID = "env"
_ENV_PREFIX = "env-token-"


class TokenKeyMismatchError(KeyMissingError):
    """The run's token key differs from the one silver's tokens were made with."""


class TokenDomainMismatchError(KeyMissingError):
    """A client's token domain differs from the one its silver rows were tokenised in."""


@dataclass(frozen=True)
class RecordedTokenKey:
    key_id: str
    fingerprint: str | None
    version: int | None


def commit_key_metadata(keys: KeyRing) -> dict[str, str]:
    """Commit metadata naming the ring's keys (ids and the token key's fingerprint only)."""
    return {
        "token_key_id": keys.token_key_id,
        "token_key_fingerprint": fingerprint(keys.token_key),
        "encrypt_key_id": keys.encrypt_key_id or "",
        "siv_key_id": keys.siv_key_id or "",
    }


def recorded_token_key(
    engine: TableEngine, settings: Settings, dataset: str
) -> RecordedTokenKey | None:
    """The token key recorded by the latest silver commit that names one (None: no record)."""
    path = settings.table_path("silver", dataset)
    if not engine.exists(path):
        return None
    commits = engine.history(path, limit=_HISTORY_LIMIT)
    for commit in sorted(commits, key=lambda c: c.version, reverse=True):
        key_id = commit.metadata.get("token_key_id")
        if key_id:
            found = commit.metadata.get("token_key_fingerprint") or None
            return RecordedTokenKey(key_id, found, commit.version)
    return None


def _same_key(recorded: RecordedTokenKey, keys: KeyRing) -> bool | None:
    """True/False when the evidence decides, None when it cannot (legacy ``env`` id)."""
    current = fingerprint(keys.token_key)
    if recorded.fingerprint:
        return hmac.compare_digest(recorded.fingerprint, current)
    held = keys.keys.get(recorded.key_id)
    if held is not None:
        return hmac.compare_digest(held, keys.token_key)
    if recorded.key_id.startswith(_ENV_PREFIX):
        return hmac.compare_digest(recorded.key_id[len(_ENV_PREFIX) :], current)
    if recorded.key_id == _LEGACY_ENV_ID:
        return None
    return recorded.key_id == keys.token_key_id


def check_token_key(
    engine: TableEngine, settings: Settings, clients: Iterable[ClientConfig], keys: KeyRing
) -> None:
    """Refuse to start when the token key differs from the one silver was tokenised with.

    Reads only the silver tables' logs (no Spark); call it before a run starts.

    Raises:
        TokenKeyMismatchError: names both key ids, the table and the rebuild command.
    """
    by_dataset: dict[str, list[str]] = {}
    by_client = list(clients)
    for client in by_client:
        by_dataset.setdefault(client.dataset, []).append(client.client_id)
    for dataset, client_ids in sorted(by_dataset.items()):
        recorded = recorded_token_key(engine, settings, dataset)
        if recorded is None:
            continue
        same = _same_key(recorded, keys)
        if same is None:
            log.warning(
                "silver records the token key only as 'env' (older lakehouse): cannot check it; "
                "the next commit records a fingerprint",
                extra={"table": f"silver/{dataset}", "token_key_id": keys.token_key_id},
            )
            continue
        if same:
            continue
        _refuse_key(keys, recorded, settings, dataset, client_ids)
    for client in by_client:
        _check_domain(engine, settings, client)


def _refuse_key(
    keys: KeyRing,
    recorded: RecordedTokenKey,
    settings: Settings,
    dataset: str,
    client_ids: list[str],
) -> None:
    path = settings.table_path("silver", dataset)
    at = f" (version {recorded.version})" if recorded.version is not None else ""
    first = sorted(client_ids)[0]
    raise TokenKeyMismatchError(
        f"token key '{keys.token_key_id}' is not the key silver/{dataset} was tokenised "
        f"with ('{recorded.key_id}'{at}): its members would all be inserted again under "
        "new tokens; the run did not start",
        fix=f"use the recorded key again ({TOKEN_KEY_ENV}, or token_key_id "
        f"'{recorded.key_id}' in the key file), or rebuild under the new key: move {path} and "
        f"bronze/quarantine {dataset} aside (their _key_token columns hold the old tokens), "
        f"then for each client of the dataset ({', '.join(sorted(client_ids))}) "
        f"`lakehouse backfill --client {first} --from <first date> --to <last date> "
        "--source archive` (README, 'PII protection', 'Keys')",
    )


def checked_ring(settings: Settings, clients: Iterable[ClientConfig]) -> KeyRing:
    """The key ring from the environment, checked against silver's recorded token key.

    Raises:
        KeyMissingError: no usable keys (see ``KeyRing.from_environment``).
        TokenKeyMismatchError: see ``check_token_key``.
    """
    from lakehouse.engine import get_engine

    keys = KeyRing.from_environment()
    check_token_key(get_engine(settings), settings, clients, keys)
    return keys


def recorded_domain(engine: TableEngine, settings: Settings, client: ClientConfig) -> str | None:
    """The token domain the client's latest silver commit was made in (None: no commit).

    Commits from before domains were bound record none: they are ``legacy`` (recognised by
    their ``source_file``, which starts with the client id).
    """
    path = settings.table_path("silver", client.dataset)
    if not engine.exists(path):
        return None
    commits = engine.history(path, limit=_HISTORY_LIMIT)
    for commit in sorted(commits, key=lambda c: c.version, reverse=True):
        meta = commit.metadata
        if meta.get("client_id") == client.client_id and meta.get("token_domain"):
            return meta["token_domain"]
        source = meta.get("source_file") or ""
        if meta.get("token_key_id") and source.startswith(f"{client.client_id}_"):
            return meta.get("token_domain") or "legacy"
    return None


def _check_domain(engine: TableEngine, settings: Settings, client: ClientConfig) -> None:
    recorded = recorded_domain(engine, settings, client)
    current = domain_spec(client)
    if recorded is None or recorded == current:
        return
    keep = (
        f"token_domain: {LEGACY_DOMAIN}"
        if recorded == "legacy"
        else f"token_domain: {recorded.removeprefix('shared:')}"
        if recorded.startswith("shared:")
        else "no token_domain"
    )
    raise TokenDomainMismatchError(
        f"client '{client.client_id}' now tokenises in domain '{current}', but its silver rows "
        f"were tokenised in '{recorded}': every member would be inserted again under new "
        "tokens; the run did not start",
        client=client.client_id,
        fix=f"keep the recorded domain ({keep} in clients/{client.client_id}.yaml), or move "
        f"the client to the new domain by rebuilding its tables: move bronze, quarantine and "
        f"silver/{client.dataset} aside (or delete the client's partitions), then re-ingest "
        f"its files from the archive (`lakehouse backfill --client {client.client_id} --from "
        "<first date> --to <last date> --source archive`); see README, 'PII protection'",
    )
