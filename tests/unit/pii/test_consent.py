"""Consent: record > column > default, the latest record in effect wins, exports keep only
members with consent, and withdrawing an erasing purpose removes the member everywhere."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from lakehouse.cli import main
from lakehouse.config import load_client
from lakehouse.config.consent import ConsentSettings
from lakehouse.config.models import ClientConfig
from lakehouse.errors import LakehouseError
from lakehouse.pii.consent import CONSENT_SCHEMA, consented, decisions
from lakehouse.pii.domains import token_domain
from lakehouse.pii.keys import ENCRYPT_KEY_ENV, KEY_FILE_ENV, SIV_KEY_ENV, TOKEN_KEY_ENV
from lakehouse.pii.tokens import hmac_hex

from .conftest import ENC1, ENC2, SIV1, SIV2, TOKEN, make_lake

REPO = Path(__file__).resolve().parents[3]
ACME = load_client(REPO / "clients" / "acme.yaml")
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
CONSENT = {
    "purposes": ["care", "research"],
    "default": "grant",
    "erase_on_withdrawal": ["care"],
}


def _client(**consent: Any) -> ClientConfig:
    return ACME.model_copy(update={"consent": ConsentSettings(**{**CONSENT, **consent})})


def _events(*rows: tuple[str, str, str, dt.datetime]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "client_id": "acme",
                "member": member,
                "purpose": purpose,
                "status": status,
                "effective_at": at,
                "recorded_at": at,
                "event_id": "e",
                "source": "record",
                "reason": "test",
                "user": "u",
            }
            for member, purpose, status, at in rows
        ],
        schema=CONSENT_SCHEMA,
    )


SILVER = pa.table({"member_id": ["m1", "m2", "m3", "m4"], "plan": ["gold"] * 4})


def test_a_record_beats_the_default_and_the_latest_in_effect_wins() -> None:
    events = _events(
        ("m1", "research", "withdrawn", T0),
        ("m2", "research", "withdrawn", T0),
        ("m2", "research", "granted", T0 + dt.timedelta(days=1)),
        ("m3", "research", "withdrawn", T0 + dt.timedelta(days=30)),  # not yet in effect
        ("m4", "care", "withdrawn", T0),  # another purpose
    )
    now = T0 + dt.timedelta(days=2)
    kept, decision = consented(SILVER, _client(), "research", events, now=now)
    assert kept.column("member_id").to_pylist() == ["m2", "m3", "m4"]
    assert decision.basis == {"granted": {"record": 1, "default": 2}, "denied": {"record": 1}}
    denied_by_default = decisions(SILVER, _client(default="deny"), "research", events, now=now)
    assert sorted(denied_by_default.granted) == ["m2"]
    assert "m1" not in repr(decision)  # counts only


def test_the_consent_column_lists_granted_purposes() -> None:
    client = ACME.model_copy(
        update={"consent": ConsentSettings(**CONSENT, column="plan_code", separator=";")}
    )
    silver = pa.table(
        {"member_id": ["m1", "m2", "m3"], "plan_code": ["care;research", "care", None]}
    )
    decision = decisions(silver, client, "research", _events(), now=T0)
    assert sorted(decision.granted) == ["m1", "m3"]  # m3: no value, the default (grant)
    assert decision.basis == {"granted": {"column": 1, "default": 1}, "denied": {"column": 1}}


def test_unknown_purposes_and_bad_columns_are_refused() -> None:
    with pytest.raises(LakehouseError, match="unknown purpose 'ads'"):
        decisions(SILVER, _client(), "ads", _events())
    with pytest.raises(ValueError, match="unknown purpose"):
        ConsentSettings(purposes=("care",), erase_on_withdrawal=("research",))
    data = yaml.safe_load((REPO / "clients" / "acme.yaml").read_text(encoding="utf-8"))
    data.pop("datasets")  # acme's members (readings are a config of their own)
    data["consent"] = {**CONSENT, "column": "email"}  # PII: never a consent column
    with pytest.raises(ValueError, match="non-PII string column"):
        ClientConfig.model_validate(data)


HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan\n"
FILE = HEADER + "".join(f"AC00000{i:02d},Flo,Fay,1960-01-01,,,10005,gold\n" for i in range(1, 11))


def _token(raw: str) -> str:
    return hmac_hex(raw, TOKEN, domain=token_domain(ACME, "member_id"))


@pytest.fixture()
def consent_lake(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pii_ring: Any
) -> Any:
    """Ten acme members ingested; the CLI's clients dir declares consent; keys in a key file."""
    clients_dir = tmp_path / "clients"
    clients_dir.mkdir()
    data = yaml.safe_load((REPO / "clients" / "acme.yaml").read_text(encoding="utf-8"))
    data.pop("datasets")  # acme's members (readings are a config of their own)
    data["consent"] = CONSENT
    (clients_dir / "acme.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    lake = make_lake(tmp_path, {"acme": ClientConfig.model_validate(data)})
    lake.ingest(spark, pii_ring(), "acme_2026-03-01.csv", FILE)
    key_file = tmp_path / "keys.json"
    keys = {"tok": TOKEN, "enc-1": ENC1, "enc-2": ENC2, "siv-1": SIV1, "siv-2": SIV2}
    key_file.write_text(
        json.dumps(
            {
                "token_key_id": "tok",
                "encrypt_key_id": "enc-1",
                "siv_key_id": "siv-1",
                "keys": {k: v.hex() for k, v in keys.items()},
            }
        ),
        encoding="utf-8",
    )
    key_file.chmod(0o600)
    for name in (TOKEN_KEY_ENV, ENCRYPT_KEY_ENV, SIV_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEY_FILE_ENV, str(key_file))
    return lake


def test_import_record_status_and_an_erasing_withdrawal(
    consent_lake: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = consent_lake.settings
    where = ["--lake-root", str(settings.lake_root), "--clients-dir", str(settings.clients_dir)]
    listing = tmp_path / "consents.csv"
    listing.write_text(
        "MemberID,purpose,status\nac0000002,research,withdrawn\nAC0000003,research,granted\n",
        encoding="utf-8",
    )
    assert main(["consent", "import", *where, "--client", "acme", "--file", str(listing),
                 "--reason", "BATCH-1"]) == 0  # fmt: skip
    assert main(["consent", "status", *where, "--client", "acme", "--json"]) == 0
    out = capsys.readouterr().out
    status = {r["purpose"]: r for r in json.loads(out[out.index("[") :])}
    assert (status["research"]["granted"], status["research"]["denied"]) == (9, 1)
    assert status["research"]["by_record"] == 2 and status["care"]["by_default"] == 10
    events = DeltaTable(str(settings.lake_root / "consent" / "events")).to_pyarrow_table()
    assert "AC0000002" not in str(events.to_pylist())  # members by token only
    assert _token("AC0000002") in events.column("member").to_pylist()

    withdraw = ["consent", "record", *where, "--client", "acme", "--purpose", "care",
                "--withdraw", "--key", "AC0000001", "--reason", "REQ-9"]  # fmt: skip
    assert main(withdraw) == 1  # erases: needs --yes, records nothing
    assert "--yes" in capsys.readouterr().err
    assert main([*withdraw, "--yes"]) == 0
    assert "erased" in capsys.readouterr().out
    silver = consent_lake.table("silver", "acme")
    assert _token("AC0000001") not in silver.column("member_id").to_pylist()
    assert silver.num_rows == 9
    pii = DeltaTable(str(settings.lake_root / "audit" / "pii_events")).to_pyarrow_table()
    forget = [r for r in pii.to_pylist() if r["event"] == "forget"]
    assert [(r["status"], r["reason"]) for r in forget] == [
        ("SUCCESS", "consent withdrawn: care; REQ-9")
    ]
    # an export for research keeps members with consent only
    events = DeltaTable(str(settings.lake_root / "consent" / "events")).to_pyarrow_table()
    kept, _ = consented(silver, consent_lake.clients["acme"], "research", events)
    assert kept.num_rows == 8
    assert not pc.any(pc.equal(kept.column("member_id"), _token("AC0000002"))).as_py()


def test_a_refused_consent_list_names_the_line_never_a_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A shifted row puts a raw key where the purpose or date belongs: the error names the
    line only, and nothing is recorded (refused before Spark or the lake is touched)."""
    clients = tmp_path / "clients"
    clients.mkdir()
    data = yaml.safe_load((REPO / "clients" / "acme.yaml").read_text(encoding="utf-8"))
    data.pop("datasets")  # acme's members (readings are a config of their own)
    data["consent"] = CONSENT
    (clients / "acme.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    where = ["--lake-root", str(tmp_path / "lake"), "--clients-dir", str(clients)]
    for body in ("AC0000007,AC0000008,granted\n", "AC0000007,research,granted,AC0000008\n"):
        listing = tmp_path / "list.csv"
        listing.write_text("MemberID,purpose,status,effective\n" + body, encoding="utf-8")
        args = ["consent", "import", *where, "--client", "acme", "--file", str(listing)]
        assert main([*args, "--reason", "B-1"]) == 1
        err = capsys.readouterr().err
        assert "line 2" in err and "AC0000008" not in err and "AC0000007" not in err
    assert not (tmp_path / "lake" / "consent").exists()
