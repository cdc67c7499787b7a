"""Every PII policy on Spark: round trips, determinism, raw-zone encryption, PHI counts,
keys hidden from plans, and the config rules around policies."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.config import load_client
from lakehouse.config.models import ClientConfig
from lakehouse.errors import ConfigError, DecryptionError, KeyMissingError
from lakehouse.pii.crypto import decrypt_value, is_encrypted, key_id_of
from lakehouse.pii.deidentify import restricted_zip3
from lakehouse.pii.domains import binding, token_domain
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import (
    KEY_TOKEN,
    PHI_COLUMNS,
    encrypt_silver,
    needed_purposes,
    prepare_silver,
    protect_raw,
    reveal_raw,
    split_phi_counts,
)
from lakehouse.pii.tokens import hmac_hex
from lakehouse.silver import silver_rows

REPO = Path(__file__).resolve().parents[3]
TOKEN, ENC, SIV = bytes(range(32)), bytes(range(1, 33)), bytes(range(2, 34))


@pytest.fixture(scope="module")
def ring() -> KeyRing:
    return KeyRing(
        token_key_id="tok",
        keys={"tok": TOKEN, "enc": ENC, "siv": SIV},
        encrypt_key_id="enc",
        siv_key_id="siv",
    )


def _globex_row(**changes: Any) -> dict[str, Any]:
    row = {
        "client_id": "globex",
        "member_id": "GX-000042",
        "first_name": "Ann",
        "last_name": "Lee",
        "birth_date": dt.date(1970, 5, 17),
        "phone": "+12125550142",
        "email": "ann.lee@example.org",
        "zip": "03601",
        "plan_code": "GOLD",
        "notes": "SSN 123-45-6789; call 212-555-0142; MRN GM12345678",
        "pcp_npi": "1234567893",
        "_creation_date": dt.date(2026, 1, 5),
        "_sequence": 0,
        "_source_file": "globex_20260105.csv",
        "_run_id": "r",
        "_ingested_at": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    }
    row.update(changes)
    return row


def _frame(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    return spark.createDataFrame(pa.Table.from_pylist(rows))


def test_silver_policies_round_trip(
    spark: SparkSession, clients: dict[str, ClientConfig], ring: KeyRing
) -> None:
    globex = clients["globex"]
    out = silver_rows(_frame(spark, [_globex_row()]), globex, ring).cache()
    rows, counts = split_phi_counts(out)
    assert counts == {"email": 0, "mrn": 1, "card": 0, "ssn": 1, "phone": 1, "date": 0}
    table = rows.toArrow()
    assert not set(PHI_COLUMNS) & set(table.column_names)
    [row] = table.to_pylist()
    # token: the Python twin of Spark's HMAC
    assert row["member_id"] == hmac_hex(
        "GX-000042", TOKEN, domain=token_domain(globex, "member_id")
    )
    # encrypt: AES-GCM with the key id inside, bound to client, dataset, column and the row
    for name, plain in (("first_name", "Ann"), ("last_name", "Lee"), ("phone", "+12125550142")):
        assert row[name].startswith("gcm2:enc:")
        place = binding(globex, name)
        assert decrypt_value(row[name], keys=ring, aad=place, row_key=row["member_id"]) == plain
        with pytest.raises(DecryptionError):  # moved to another member's row: refused
            decrypt_value(row[name], keys=ring, aad=place, row_key="0" * 64)
    # deterministic_encrypt: AES-SIV, reversible
    assert row["email"].startswith("siv2:siv:")
    email = decrypt_value(row["email"], keys=ring, aad=binding(globex, "email"))
    assert email == "ann.lee@example.org"
    # generalise: age band at the file's date; zip3 of a small-population prefix is 000
    assert row["birth_date"] == "50-59"
    assert row["zip"] == "000"
    # free text redacted, then kept; keep and non-PII unchanged
    assert row["notes"] == "SSN [SSN]; call [PHONE]; MRN [MRN]"
    assert (row["pcp_npi"], row["plan_code"]) == ("1234567893", "GOLD")


def test_row_hash_is_stable_although_encryption_is_not(
    spark: SparkSession, clients: dict[str, ClientConfig], ring: KeyRing
) -> None:
    globex = clients["globex"]
    first = silver_rows(_frame(spark, [_globex_row()]), globex, ring).first()
    second = silver_rows(_frame(spark, [_globex_row(_run_id="other")]), globex, ring).first()
    changed = silver_rows(_frame(spark, [_globex_row(phone="+12125550143")]), globex, ring).first()
    assert first is not None and second is not None and changed is not None
    assert first["phone"] != second["phone"]  # fresh ciphertext per write
    assert first["email"] == second["email"]  # SIV is deterministic
    assert first["_row_hash"] == second["_row_hash"]
    assert changed["_row_hash"] != first["_row_hash"]  # a changed encrypted value counts


def test_acme_policies_need_only_the_token_key(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    acme = clients["acme"]
    token_only = KeyRing(token_key_id="tok", keys={"tok": TOKEN})
    row = _globex_row(client_id="acme", member_id="AC0000042", zip="10001")
    out = silver_rows(_frame(spark, [row]).drop("notes", "pcp_npi"), acme, token_only).first()
    assert out is not None
    # Fixed-length masks: "Ann" and "Alexandra" look the same (length not revealed).
    assert (out["first_name"], out["last_name"], out["phone"]) == (
        "A******",
        "L******",
        "******0142",
    )
    assert (out["birth_date"], out["zip"]) == ("1970", "100")
    assert "email" not in out.asDict()  # drop
    assert needed_purposes([acme]) == {"token", "encrypt"}  # bronze still encrypts
    assert needed_purposes([clients["globex"]]) == {"token", "encrypt", "siv"}


def test_mask_and_generalise_edges(
    spark: SparkSession, clients: dict[str, ClientConfig], ring: KeyRing
) -> None:
    globex = clients["globex"]
    rows = [
        _globex_row(birth_date=dt.date(1930, 1, 1), zip="10001"),  # 96 years: top band
        _globex_row(birth_date=dt.date(2026, 1, 4), zip=None),  # a day old
        _globex_row(birth_date=None, zip="99950"),
    ]
    prepared = prepare_silver(_frame(spark, rows), globex, ring).select("birth_date", "zip")
    got = [tuple(r) for r in prepared.collect()]
    assert got == [("90+", "100"), ("0-9", None), (None, "999")]
    acme = clients["acme"]
    short = _frame(spark, [_globex_row(client_id="acme", first_name="A", phone=None)])
    masked = prepare_silver(short.drop("notes", "pcp_npi"), acme, ring).first()
    assert masked is not None and (masked["first_name"], masked["phone"]) == ("*******", None)


def test_masks_do_not_reveal_the_length_unless_asked(
    spark: SparkSession, clients: dict[str, ClientConfig], ring: KeyRing
) -> None:
    from pyspark.sql import functions as F

    from lakehouse.config.models import MaskOptions
    from lakehouse.pii.deidentify import mask_column

    names = ["Al", "Ann", "Alexandra-Marie", None]
    frame = spark.createDataFrame([(n,) for n in names], "name string")
    fixed = MaskOptions(keep_first=1)
    got = [r[0] for r in frame.select(mask_column(F.col("name"), fixed)).collect()]
    assert got == ["A******", "A******", "A******", None]
    kept = MaskOptions(keep_first=1, keep_length=True, char="#")
    got = [r[0] for r in frame.select(mask_column(F.col("name"), kept)).collect()]
    assert got == ["A#", "A##", "A##############", None]
    tail = MaskOptions(keep_last=4, masked_chars=3)
    got = [r[0] for r in frame.select(mask_column(F.col("name"), tail)).collect()]
    assert got == ["*******", "*******", "***arie", None]


def test_generalised_year_folds_ages_over_89_into_90_plus(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    acme = clients["acme"]  # birth_date: generalise to year
    token_only = KeyRing(token_key_id="tok", keys={"tok": TOKEN})
    births = [
        dt.date(1930, 1, 1),  # 96 at the file's date (2026-01-05)
        dt.date(1936, 1, 5),  # 90 that very day
        dt.date(1936, 1, 6),  # 89
        dt.date(1970, 5, 17),
    ]
    rows = [
        _globex_row(client_id="acme", member_id=f"AC000004{i}", zip="10001", birth_date=b)
        for i, b in enumerate(births)
    ]
    frame = _frame(spark, rows).drop("notes", "pcp_npi")
    out = prepare_silver(frame, acme, token_only).select("member_id", "birth_date").collect()
    years = {r["member_id"]: r["birth_date"] for r in out}
    expected = ["90+", "90+", "1936", "1970"]
    assert sorted(years.values()) == sorted(expected)
    assert "1930" not in years.values()


def test_restricted_zip3_list_is_hipaa_safe_harbor() -> None:
    assert restricted_zip3() == frozenset(
        [
            "036",
            "059",
            "063",
            "102",
            "203",
            "556",
            "692",
            "790",
            "821",
            "823",
            "830",
            "831",
            "878",
            "879",
            "884",
            "890",
            "893",
        ]
    )


def test_raw_zone_encrypts_pii_and_malformed_text(
    spark: SparkSession, clients: dict[str, ClientConfig], ring: KeyRing
) -> None:
    globex = clients["globex"]
    raw = {c.name: f"raw {c.name}" for c in globex.columns}
    raw.update(member_id=" gx-000042 ", plan_code="gold")
    bad = {**{c.name: f"shifted {c.name}" for c in globex.columns}, "member_id": "GX-000043"}
    rows = [
        {"client_id": "globex", **raw, "_corrupt_record": None, "_record_number": 1},
        {
            "client_id": "globex",
            **bad,
            "_corrupt_record": "GX-000043|Bo|Kim|x",
            "_record_number": 2,
        },
    ]
    df = spark.createDataFrame(pa.Table.from_pylist(rows))
    protected = protect_raw(df, globex, ring, corrupt="_corrupt_record").orderBy("_record_number")
    got = protected.toArrow().to_pylist()
    pii = [c.name for c in globex.columns if c.is_pii]
    for row in got:
        assert all(is_encrypted(row[name]) and key_id_of(row[name]) == "enc" for name in pii)
    # The key token equals silver's token of the standardised key (trimmed, upper-cased).
    assert got[0][KEY_TOKEN] == hmac_hex(
        "GX-000042", TOKEN, domain=token_domain(globex, "member_id")
    )
    # A bronze value moved to another row (another _key_token) does not decrypt.
    place = binding(globex, "last_name")
    assert decrypt_value(got[0]["last_name"], keys=ring, aad=place, row_key=got[0][KEY_TOKEN])
    with pytest.raises(DecryptionError):
        decrypt_value(got[0]["last_name"], keys=ring, aad=place, row_key=got[1][KEY_TOKEN])
    assert got[0]["plan_code"] == "gold"  # non-PII raw value kept for triage
    assert got[1]["plan_code"] is None  # misaligned field of a malformed record: dropped
    assert is_encrypted(got[1]["_corrupt_record"])
    revealed = reveal_raw(protected, globex, ring, corrupt="_corrupt_record").toArrow()
    back = revealed.to_pylist()
    assert back[0]["last_name"] == "raw last_name" and back[0]["member_id"] == " gx-000042 "
    assert back[1]["_corrupt_record"] == "GX-000043|Bo|Kim|x"


def test_missing_encrypt_key_refuses_before_any_job(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    token_only = KeyRing(token_key_id="tok", keys={"tok": TOKEN})
    df = _frame(spark, [_globex_row()])
    with pytest.raises(KeyMissingError, match="LAKEHOUSE_ENCRYPT_KEY"):
        encrypt_silver(df, clients["globex"], token_only)


def test_keys_never_in_plans(
    spark: SparkSession,
    clients: dict[str, ClientConfig],
    ring: KeyRing,
    capsys: pytest.CaptureFixture[str],
) -> None:
    globex = clients["globex"]
    df = spark.createDataFrame(
        [tuple(_globex_row().values())], _frame(spark, [_globex_row()]).schema
    )
    out = silver_rows(df, globex, ring)
    plan = out._jdf.queryExecution().toString()
    out.explain(mode="extended")
    printed = capsys.readouterr().out + plan
    for key in (TOKEN, ENC, SIV):
        assert key.hex() not in printed.lower()
    assert "gcm_encrypt" in printed and "siv_encrypt" in printed


def test_free_text_counts_sum_over_columns(spark: SparkSession, ring: KeyRing) -> None:
    df = spark.createDataFrame(
        [("SSN 123-45-6789", "x@example.org", None)], "a string, b string, c string"
    )
    client = _client_with({"free_text_columns": ["a", "b", "c"]})
    _, counts = split_phi_counts(prepare_silver(df, client, ring))
    assert counts is not None and counts["ssn"] == 1 and counts["email"] == 1


def _client_with(spec: dict[str, Any]) -> ClientConfig:
    columns = [{"name": "member_id", "type": "code", "required": True, "pii": "token"}]
    columns += [
        {"name": n, "type": "string", "free_text": True, "pii": "keep"}
        for n in spec["free_text_columns"]
    ]
    return ClientConfig.model_validate(
        {"client_id": "t", "dataset": "d", "merge_key": ["member_id"], "columns": columns}
    )


# --- config rules around policies -----------------------------------------------------------


def _load(tmp_path: Path, mutate: Any) -> ClientConfig:
    data = yaml.safe_load((REPO / "clients" / "globex.yaml").read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "globex.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_client(path)


def _column(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in data["columns"] if c["name"] == name)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: _column(d, "phone").update(pii=True), "marked PII but has no policy"),
        (lambda d: _column(d, "notes").pop("pii"), "needs a policy"),
        (lambda d: _column(d, "phone").update(mask={"keep_last": 4}), "has 'mask' options"),
        (
            lambda d: _column(d, "phone").update(pii="generalise"),
            "a 'phone' column cannot be generalised",
        ),
        (
            lambda d: _column(d, "zip").update(generalise={"to": "year"}),
            "a 'zip' column generalises to 'zip3', not 'year'",
        ),
        (lambda d: _column(d, "plan_code").update(free_text=True), "free_text applies to string"),
        (lambda d: _column(d, "notes").update(pii="mask"), "cannot use pii 'mask'"),
        (lambda d: d["phi"].update(mrn_patterns=["GM[0-9"]), "not a valid regular expression"),
        (lambda d: d["phi"].update(mrn_patterns=["x*"]), "matches the empty string"),
        (lambda d: _column(d, "member_id").update(pii="encrypt"), r"use token \(or keep\)"),
    ],
    ids=[
        "pii-true",
        "free-text-without-policy",
        "options-without-policy",
        "generalise-phone",
        "zip-to-year",
        "free-text-on-code",
        "free-text-masked",
        "bad-mrn-regex",
        "empty-mrn-regex",
        "encrypted-merge-key",
    ],
)
def test_policy_config_errors(tmp_path: Path, mutate: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, mutate)


def test_every_policy_is_exercised_by_the_demo_clients(clients: dict[str, ClientConfig]) -> None:
    used = {c.pii for client in clients.values() for c in client.columns}
    assert used >= {
        "token",
        "encrypt",
        "deterministic_encrypt",
        "mask",
        "generalise",
        "drop",
        "keep",
    }
    assert any(c.free_text for client in clients.values() for c in client.columns)
    kinds = {
        c.generalisation
        for client in clients.values()
        for c in client.columns
        if c.pii == "generalise"
    }
    assert kinds == {"year", "age_band", "zip3"}


def test_keys_are_not_in_column_names(spark: SparkSession, ring: KeyRing) -> None:
    from lakehouse.pii.udfs import encrypt_column

    df = spark.createDataFrame([("Lee",)], "last_name string")
    place = binding(ClientConfig.model_validate(_GLOBEX), "last_name")
    out = df.select(encrypt_column(F.col("last_name"), binding=place, row_key=None, keys=ring))
    assert all(ENC.hex() not in name for name in out.columns)


_GLOBEX = yaml.safe_load((REPO / "clients" / "globex.yaml").read_text(encoding="utf-8"))


def test_tokens_are_bound_to_the_client_unless_a_domain_is_shared(
    spark: SparkSession, clients: dict[str, ClientConfig], ring: KeyRing
) -> None:
    globex = clients["globex"]
    twin = ClientConfig.model_validate({**_GLOBEX, "client_id": "initech"})
    row = _globex_row(member_id="GX-000042")
    tokens = {}
    for client in (globex, twin):
        frame = _frame(spark, [{**row, "client_id": client.client_id}])
        out = prepare_silver(frame, client, ring).first()
        assert out is not None
        tokens[client.client_id] = out["member_id"]
    assert tokens["globex"] != tokens["initech"]  # same member id, two clients: not linkable
    shared = [
        ClientConfig.model_validate({**_GLOBEX, "client_id": c, "token_domain": "network"})
        for c in ("globex", "initech")
    ]
    linked = {
        c.client_id: prepare_silver(
            _frame(spark, [{**row, "client_id": c.client_id}]), c, ring
        ).first()["member_id"]  # type: ignore[index]
        for c in shared
    }
    assert linked["globex"] == linked["initech"]  # opted in: linkable
    assert linked["globex"] == hmac_hex("GX-000042", TOKEN, domain="shared:network:member_id")
    legacy = ClientConfig.model_validate({**_GLOBEX, "token_domain": "_legacy"})
    old = prepare_silver(_frame(spark, [row]), legacy, ring).first()
    assert old is not None and old["member_id"] == hmac_hex("GX-000042", TOKEN, domain="member_id")


def test_token_domain_must_be_a_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="token_domain"):
        _load(tmp_path, lambda d: d.update(token_domain="Not A Name"))


def test_a_ring_builds_each_udf_once_and_pickles_without_them(
    spark: SparkSession, clients: dict[str, ClientConfig]
) -> None:
    from pyspark import cloudpickle

    fresh = KeyRing(token_key_id="tok", keys={"tok": TOKEN, "enc": ENC}, encrypt_key_id="enc")
    globex = clients["globex"]
    rows = [_globex_row(), _globex_row(member_id="GX-000043", first_name="Bo")]
    first = protect_raw(_frame(spark, rows), globex, fresh, corrupt="_corrupt_record")
    built = dict(fresh.spark_functions)
    assert built, "no UDF was kept on the ring"
    second = protect_raw(_frame(spark, rows[::-1]), globex, fresh, corrupt="_corrupt_record")
    # The second file reuses the very same UDF objects (no new closure pickled or registered)
    assert fresh.spark_functions.keys() == built.keys()
    assert all(entry[1] is built[name][1] for name, entry in fresh.spark_functions.items())
    # ...and they still encrypt each frame's own rows, bound to each row's key token.
    for frame in (first, second):
        for row in frame.collect():
            place = binding(globex, "first_name")
            value = decrypt_value(row["first_name"], keys=fresh, aad=place, row_key=row[KEY_TOKEN])
            assert value in {"Ann", "Bo"}
    # A ring pickled into a worker's closure carries keys, not JVM handles.
    copy = cloudpickle.loads(cloudpickle.dumps(fresh))
    assert copy == fresh and copy.spark_functions == {}
