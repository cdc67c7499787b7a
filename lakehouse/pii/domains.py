"""Where a token or ciphertext belongs: client, dataset, column (and, for AES-GCM, the row).

- Token domains bind the client and dataset: the same member id or e-mail in two clients
  gives two unrelated tokens, so tables cannot be linked across clients by token. Clients
  that must be linked opt in with the same ``token_domain: <name>``; ``_legacy`` keeps the
  column-only domain of lakes tokenised before domains were bound.
- AES-GCM associated data binds client, dataset, column and the row's key (``_key_token``
  in bronze and quarantine, the stored merge key in silver): a ciphertext moved to another
  row, column or client does not decrypt. AES-SIV binds client (or the shared domain),
  dataset and column, not the row, so equal values stay equal (joinable) within a column.

The domain strings never collide: their parts (client ids, dataset and column names,
domain names) cannot contain ``:``, and every form starts with its own tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.config.models import ClientConfig

__all__ = ["LEGACY_DOMAIN", "Binding", "binding", "domain_spec", "row_domain", "token_domain"]

LEGACY_DOMAIN = "_legacy"


def token_domain(client: ClientConfig, column: str) -> str:
    """HMAC domain of ``column``'s tokens for ``client``: the referenced column's domain for
    a column with ``references: <dataset>.<column>`` (readings' member ids are tokenised as
    the client's members' are, so the two silver tables join on the token)."""
    dataset = client.dataset
    spec = next((c for c in client.columns if c.name == column), None)
    if spec is not None and spec.referenced is not None:
        dataset, column = spec.referenced
    if client.token_domain == LEGACY_DOMAIN:
        return column
    if client.token_domain:
        return f"shared:{client.token_domain}:{column}"
    return f"client:{client.client_id}:{dataset}:{column}"


def row_domain(client: ClientConfig) -> str:
    """HMAC domain of the keyed row hash (never shared: rows are compared within a client)."""
    if client.token_domain == LEGACY_DOMAIN:
        return "_row"
    return f"row:{client.client_id}:{client.dataset}"


def domain_spec(client: ClientConfig) -> str:
    """What decides the client's tokens, as recorded in silver commits: ``client``,
    ``shared:<name>`` or ``legacy``."""
    if client.token_domain == LEGACY_DOMAIN:
        return "legacy"
    return f"shared:{client.token_domain}" if client.token_domain else "client"


@dataclass(frozen=True)
class Binding:
    """The place an encrypted value belongs to (associated data; not secret)."""

    client_id: str
    dataset: str
    column: str
    siv_domain: str  # client id, or ``shared:<name>`` for linked clients

    def gcm_aad(self, row_key: str | None) -> bytes:
        return self.gcm_aad_head() + (row_key or "").encode("utf-8")

    def gcm_aad_head(self) -> bytes:
        """``gcm_aad`` without the row key: a batch builds it once, then appends each row's."""
        parts = ("lakehouse-gcm2", self.client_id, self.dataset, self.column, "")
        return "\x1f".join(parts).encode("utf-8")

    def siv_aad(self) -> list[bytes]:
        parts = ("lakehouse-siv2", self.siv_domain, self.dataset, self.column)
        return [p.encode("utf-8") for p in parts]  # AES-SIV takes separate components


def binding(client: ClientConfig, column: str) -> Binding:
    """Binding of ``column``'s encrypted values for ``client``."""
    shared = client.token_domain not in (None, LEGACY_DOMAIN)
    siv_domain = f"shared:{client.token_domain}" if shared else client.client_id
    return Binding(client.client_id, client.dataset, column, siv_domain)
