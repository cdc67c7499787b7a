"""Apply PII protection as DataFrame transforms.

Silver (``prepare_silver`` then ``encrypt_silver``), per column policy:

==========================  ====================================================  =========
policy                      silver value                                          key
==========================  ====================================================  =========
token                       HMAC-SHA256 hex, domain: client, dataset, column      token
encrypt                     ``gcm2:<key id>:<base64>`` AES-256-GCM, bound (*)      encrypt
deterministic_encrypt       ``siv2:<key id>:<base64>`` AES-SIV, bound (*)         siv
mask                        ``J***`` / ``*******0142`` (Spark)                      -
generalise                  year, age band, HIPAA zip3 (Spark)                    -
drop                        column removed                                        -
keep                        standardised value                                    -
==========================  ====================================================  =========

(*) ``lakehouse.pii.domains``: client, dataset, column; GCM also the row's key.
``free_text`` columns are redacted first (``[SSN]``...), then their policy applies.
Bronze and quarantine (``protect_raw``) encrypt every PII column and the raw text of
malformed records with AES-GCM, and carry ``_key_token`` (the merge key's token, as in silver)
so erasure can find a member's rows without decrypting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.config.models import ClientConfig
from lakehouse.evolution.plan import RESCUED_COLUMN
from lakehouse.memo import built_once, config_id
from lakehouse.pii.deidentify import generalise_column, mask_column
from lakehouse.pii.domains import binding, row_domain, token_domain
from lakehouse.pii.keys import KeyRing, Purpose
from lakehouse.pii.phi import KINDS
from lakehouse.pii.tokens import spark_hmac_hex, token_message
from lakehouse.pii.udfs import decrypt_column, encrypt_column, redact_column, siv_column
from lakehouse.transform.standardise import standardise_column

__all__ = [
    "KEY_TOKEN",
    "PHI_COLUMNS",
    "encrypt_silver",
    "key_token",
    "needed_purposes",
    "prepare_silver",
    "protect_raw",
    "redact_free_text",
    "reveal_raw",
    "row_hash",
    "silver_row_key",
    "split_phi_counts",
    "tokenise",
]

KEY_TOKEN = "_key_token"
PHI_COLUMNS = tuple(f"_phi_{kind}" for kind in KINDS)
CREATION_DATE = "_creation_date"


def needed_purposes(clients: Iterable[ClientConfig]) -> set[Purpose]:
    """Keys a run over ``clients`` needs: tokens, bronze encryption, SIV if any client uses it."""
    purposes: set[Purpose] = {"token", "encrypt"}
    for client in clients:
        if any(c.pii == "deterministic_encrypt" for c in client.columns):
            purposes.add("siv")
    return purposes


def tokenise(value: Column, *, client: ClientConfig, column: str, keys: KeyRing) -> Column:
    """Deterministic keyed token for ``value`` in ``client``'s domain of ``column``."""
    return spark_hmac_hex(token_message(token_domain(client, column), value), keys.token_key)


def silver_row_key(client: ClientConfig) -> Column:
    """A silver row's key as stored (merge key values, '.'-joined): what its GCM values are
    bound to, so a ciphertext moved to another member's row does not decrypt."""
    parts = [F.col(name).cast("string") for name in client.merge_key]
    return parts[0] if len(parts) == 1 else F.concat_ws(".", *parts)


def key_token(client: ClientConfig, keys: KeyRing, *, standardised: bool) -> Column:
    """The merge key's token(s) as silver stores them ('.'-joined for composite keys).

    ``standardised=False`` standardises raw strings first, exactly as the pipeline does.
    """
    parts: list[Column] = []
    for name in client.merge_key:
        spec = client.column(name)
        value = (
            F.col(name)
            if standardised
            else standardise_column(F.col(name), spec, client.phone_region)
        )
        parts.append(tokenise(value.cast("string"), client=client, column=name, keys=keys))
    return parts[0] if len(parts) == 1 else F.concat_ws(".", *parts)


def protect_raw(df: DataFrame, client: ClientConfig, keys: KeyRing, *, corrupt: str) -> DataFrame:
    """Raw rows for bronze/quarantine: ``_key_token`` added; PII columns, ``corrupt`` and
    ``_rescued_data`` encrypted (AES-GCM bound to client, dataset, column and the row's
    ``_key_token``); other columns untouched."""
    present = tuple(df.columns)
    token, replaced = built_once(
        keys.spark_functions,
        ("protect_raw", config_id(client), present, corrupt),
        lambda: _raw_protection(present, client, keys, corrupt=corrupt),
    )
    return df.withColumn(KEY_TOKEN, token).withColumns(replaced)


def _raw_protection(
    present: Sequence[str], client: ClientConfig, keys: KeyRing, *, corrupt: str
) -> tuple[Column, dict[str, Column]]:
    """``protect_raw``'s expressions for a frame of columns ``present``: the key token, and
    the replaced columns (they read the token, so they apply after it is added)."""
    names = [c.name for c in client.columns if c.is_pii and c.name in present]
    # Raw values nobody has classified (schema evolution's rescue): PII until shown otherwise.
    names += [c for c in (corrupt, RESCUED_COLUMN) if c in present]
    row = F.col(KEY_TOKEN)
    replaced = {
        name: encrypt_column(F.col(name), binding=binding(client, name), row_key=row, keys=keys)
        for name in names
    }
    if corrupt in present:
        # A malformed record's fields are misaligned: a PII value may sit in a non-PII
        # column. Its encrypted raw text keeps everything; its plain fields are dropped.
        plain = [c.name for c in client.columns if not c.is_pii and c.name in present]
        for name in plain:
            replaced[name] = F.when(F.col(corrupt).isNull(), F.col(name))
    return key_token(client, keys, standardised=False), replaced


def reveal_raw(df: DataFrame, client: ClientConfig, keys: KeyRing, *, corrupt: str) -> DataFrame:
    """Inverse of ``protect_raw`` for key holders (replay, ``lakehouse decrypt``)."""
    names = [c.name for c in client.columns if c.is_pii and c.name in df.columns]
    names += [c for c in (corrupt, RESCUED_COLUMN) if c in df.columns]
    row = F.col(KEY_TOKEN) if KEY_TOKEN in df.columns else None
    return df.withColumns(
        {
            name: decrypt_column(F.col(name), binding=binding(client, name), row_key=row, keys=keys)
            for name in names
        }
    )


def redact_free_text(df: DataFrame, client: ClientConfig) -> DataFrame:
    """Redact PHI in ``free_text`` columns; add ``_phi_<kind>`` finding counts per row."""
    steps = _redaction(tuple(df.columns), client)
    return df if steps is None else _apply_redaction(df, steps)


_Redaction = tuple[dict[str, Column], dict[str, Column], list[str]]


def _redaction(present: Sequence[str], client: ClientConfig) -> _Redaction | None:
    """The redaction's expressions: per free-text column its struct (text and counts), then
    the texts and count totals read from those structs, then the structs to drop."""
    free = [c.name for c in client.columns if c.free_text and c.name in present]
    if not free:
        return None
    structs = {
        f"__phi_{name}": redact_column(F.col(name), mrn_patterns=client.phi.mrn_patterns)
        for name in free
    }
    counts = {
        f"_phi_{kind}": sum(
            (F.col(f"__phi_{name}")[kind] for name in free[1:]),
            F.col(f"__phi_{free[0]}")[kind],
        )
        for kind in KINDS
    }
    texts = {name: F.col(f"__phi_{name}")["text"] for name in free}
    return structs, {**texts, **counts}, list(structs)


def _apply_redaction(df: DataFrame, steps: _Redaction) -> DataFrame:
    structs, finals, staged = steps
    return df.withColumns(structs).withColumns(finals).drop(*staged)


def prepare_silver(df: DataFrame, client: ClientConfig, keys: KeyRing) -> DataFrame:
    """Deterministic policies (redaction, token, mask, generalise), ``drop`` removed.

    ``encrypt``/``deterministic_encrypt`` columns stay plaintext here so the row hash can be
    computed over them (an encrypted value differs on every write); ``encrypt_silver`` then
    encrypts them.
    """
    present = tuple(df.columns)
    redaction, replaced, dropped = built_once(
        keys.spark_functions,
        ("prepare_silver", config_id(client), present),
        lambda: (_redaction(present, client), *_silver_policies(present, client, keys)),
    )
    redacted = df if redaction is None else _apply_redaction(df, redaction)
    return redacted.withColumns(replaced).drop(*dropped)


def _silver_policies(
    present: Sequence[str], client: ClientConfig, keys: KeyRing
) -> tuple[dict[str, Column], list[str]]:
    replaced: dict[str, Column] = {}
    for spec in client.columns:
        if spec.name not in present:
            continue
        column = F.col(spec.name)
        if spec.pii == "token":
            replaced[spec.name] = tokenise(
                column.cast("string"), client=client, column=spec.name, keys=keys
            )
        elif spec.pii == "mask":
            replaced[spec.name] = mask_column(column, spec.mask_options)
        elif spec.pii == "generalise":
            replaced[spec.name] = generalise_column(column, spec, as_of=F.col(CREATION_DATE))
    dropped = [c.name for c in client.columns if c.pii == "drop" and c.name in present]
    return replaced, dropped


def encrypt_silver(df: DataFrame, client: ClientConfig, keys: KeyRing) -> DataFrame:
    """Encrypt ``encrypt`` (AES-GCM) and ``deterministic_encrypt`` (AES-SIV) columns."""
    present = tuple(df.columns)
    replaced = built_once(
        keys.spark_functions,
        ("encrypt_silver", config_id(client), present),
        lambda: _silver_encryption(present, client, keys),
    )
    return df.withColumns(replaced) if replaced else df


def _silver_encryption(
    present: Sequence[str], client: ClientConfig, keys: KeyRing
) -> dict[str, Column]:
    replaced: dict[str, Column] = {}
    row = silver_row_key(client)
    for spec in client.columns:
        if spec.name not in present:
            continue
        place = binding(client, spec.name)
        if spec.pii == "encrypt":
            replaced[spec.name] = encrypt_column(
                F.col(spec.name), binding=place, row_key=row, keys=keys
            )
        elif spec.pii == "deterministic_encrypt":
            replaced[spec.name] = siv_column(F.col(spec.name), binding=place, keys=keys)
    return replaced


def row_hash(columns: Sequence[str], keys: KeyRing, client: ClientConfig) -> Column:
    """Keyed content hash of a row's silver values: equal content gives an equal hash.

    Keyed (not plain SHA-256) so the hash of a row of PII cannot be confirmed by guessing;
    in the client's own domain, so equal rows of two clients do not hash alike.
    """
    content = F.to_json(F.struct(*[F.col(c) for c in columns]))
    return spark_hmac_hex(token_message(row_domain(client), content), keys.token_key)


def split_phi_counts(df: DataFrame) -> tuple[DataFrame, dict[str, int] | None]:
    """Remove the ``_phi_<kind>`` columns from silver rows; their totals per kind.

    None when the client has no free-text column (nothing was scanned). The totals take one
    pass over ``df``: persist it first when it is expensive to compute.
    """
    present = [c for c in PHI_COLUMNS if c in df.columns]
    if not present:
        return df, None
    row = df.agg(*[F.coalesce(F.sum(name), F.lit(0)).alias(name) for name in present]).first()
    assert row is not None
    totals = {name.removeprefix("_phi_"): int(row[name]) for name in present}
    return df.drop(*present), totals
