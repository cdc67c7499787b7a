"""Schema evolution without Spark: modes per column, the overlay merge, diff classification,
registry versions and which type changes silver takes."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from lakehouse.config import load_client, load_clients
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.engine.deltars import DeltaRsEngine
from lakehouse.errors import ConfigError, LakehouseError, SchemaChangeRefused
from lakehouse.evolution.approve import approve_column, refuse_removal
from lakehouse.evolution.compat import check_type_change, refuse_breaking
from lakehouse.evolution.diff import diff_client, infer_type, proposals_for_file
from lakehouse.evolution.overlay import merge_overlay, overlay_path
from lakehouse.evolution.plan import pending_name, plan_file
from lakehouse.evolution.registry import registry_entries

REPO = Path(__file__).resolve().parents[3]
HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan"
ROW = "AC{n:07d},Ann,Lee,1970-05-05,,,10001,gold"


def _acme_data(**evolution: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "clients/acme.yaml").read_text("utf-8"))
    data = copy.deepcopy(data)
    data.pop("datasets", None)  # acme's members only (its readings are another config)
    if evolution:
        data["schema_evolution"] = evolution
    return data


def _acme(**evolution: Any) -> ClientConfig:
    return ClientConfig.model_validate(_acme_data(**evolution))


def test_the_default_mode_holds_and_a_header_override_wins() -> None:
    client = _acme(columns={"ExportedAt": "none", "CarePlan": "addNewColumns"})
    plan = plan_file(client, ["Secret", "ExportedAt", "CarePlan"])
    assert plan.held == ("Secret",)
    assert plan.ignored == ("ExportedAt",)
    assert [(c.header, c.name) for c in plan.added] == [("CarePlan", "care_plan")]
    # A pending column is read encrypted as PII until approved, never into silver.
    pending = plan.client.column("care_plan")
    assert (pending.source, pending.type, pending.pii, pending.is_pii) == (
        "CarePlan",
        "string",
        "encrypt",
        True,
    )
    assert not plan.rescue_types and client.schema_evolution.mode == "failOnNewColumns"


def test_rescue_mode_reads_unknown_columns_under_unique_names() -> None:
    plan = plan_file(_acme(mode="rescue"), ["Plan Code", "member id"])
    assert plan.rescue_types and plan.rescues and not plan.held
    assert plan.extra_columns() == [("Plan Code", "plan_code_2"), ("member id", "member_id_2")]
    assert plan_file(_acme(mode="none"), ["X"]).ignored == ("X",)


@pytest.mark.parametrize(
    ("header", "name"),
    [("CarePlan", "care_plan"), ("2nd Phone", "c_2nd_phone"), ("  ", "column"), ("a-b", "a_b")],
)
def test_pending_names_are_snake_case(header: str, name: str) -> None:
    assert pending_name(header, ["first_name"]) == name


def test_an_unknown_mode_names_the_key(tmp_path: Path) -> None:
    data = _acme_data(mode="failOnNewColumn")
    (tmp_path / "acme.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_client(tmp_path / "acme.yaml")
    assert error.value.key == "schema_evolution.mode"


def test_the_overlay_appends_new_columns_and_replaces_declared_ones(tmp_path: Path) -> None:
    base = _acme_data()
    merged = merge_overlay(
        base,
        {
            "client_id": "acme",
            "columns": [
                {"name": "care_plan", "source": "CarePlan", "type": "code"},
                {"name": "zip", "source": "Zip", "type": "string", "pii": "generalise"},
            ],
        },
    )
    names = [c["name"] for c in merged["columns"]]
    assert names[-1] == "care_plan" and names.count("zip") == 1
    with pytest.raises(ValueError, match="client_id"):
        merge_overlay(base, {"client_id": "globex", "columns": []})
    # The loader merges it; load_clients does not mistake it for a client file.
    (tmp_path / "acme.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    overlay_path(tmp_path / "acme.yaml").write_text(
        yaml.safe_dump({"client_id": "acme", "columns": [{"name": "care_plan"}]}), "utf-8"
    )
    clients = load_clients(tmp_path)
    assert list(clients) == ["acme"] and clients["acme"].columns[-1].name == "care_plan"


def test_a_broken_overlay_names_the_overlay_file(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(yaml.safe_dump(_acme_data()), encoding="utf-8")
    overlay = overlay_path(tmp_path / "acme.yaml")
    overlay.write_text(
        yaml.safe_dump({"client_id": "acme", "columns": [{"name": "x", "pii": "maybe"}]}),
        "utf-8",
    )
    with pytest.raises(ConfigError) as error:
        load_client(tmp_path / "acme.yaml")
    assert error.value.path == str(overlay)


def test_type_inference() -> None:
    assert infer_type(["1", " 2 ", "1,234", ""]) == "integer"
    assert infer_type(["1", "2.5"]) == "number"
    assert infer_type(["2026-01-02", "01/02/2026"]) == "date"
    assert infer_type(["A1", "2"]) == "string"
    assert infer_type(["", " "]) is None


def _visits_client() -> ClientConfig:
    data = _acme_data()
    data["columns"].append({"name": "visits", "source": "Visits", "type": "integer"})
    return ClientConfig.model_validate(data)


def _file(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_diff_classifies_added_renamed_removed_and_type_changes(tmp_path: Path) -> None:
    client = _visits_client()
    secret = "SecretValue123"
    added = _file(
        tmp_path / "acme_2026-03-01.csv",
        HEADER + ",Visits,CarePlan",
        [ROW.format(n=1) + ",2.5,A1", ROW.format(n=2) + ",3," + secret],
    )
    kinds = {
        (p.kind, p.column, p.header, p.inferred_type) for p in proposals_for_file(added, client)
    }
    assert kinds == {
        ("added", "care_plan", "CarePlan", "string"),
        ("type_change", "visits", "Visits", "number"),
    }
    renamed = _file(
        tmp_path / "acme_2026-03-02.csv",
        HEADER.replace("MemberID", "MemberNo").replace(",Plan", "") + ",Visits",
        [ROW.format(n=3).replace(",gold", "") + ",1"],
    )
    found = {p.kind: p for p in proposals_for_file(renamed, client)}
    assert set(found) == {"renamed", "removed"}
    assert (found["renamed"].column, found["removed"].column) == ("member_id", "plan_code")
    # With a configured header missing, an undeclared header may be data: never named.
    assert "MemberNo" not in repr(found["renamed"].as_row())
    proposals = [p.as_row() for p in proposals_for_file(added, client)]
    assert secret not in repr(proposals) and "A1" not in repr(proposals)
    empty = tmp_path / "acme_2026-03-03.csv"
    empty.write_bytes(b"")
    assert proposals_for_file(empty, client) == []


def test_removing_a_column_and_restyping_it_are_refused_with_the_manual_path() -> None:
    client = _visits_client()
    with pytest.raises(SchemaChangeRefused) as removed:
        refuse_removal(client, "plan_code")
    assert "members_v2" in str(removed.value) and "backfill" in str(removed.value)
    with pytest.raises(SchemaChangeRefused, match="bigint -> double"):
        check_type_change(client, client.column("visits"), "number")
    check_type_change(client, client.column("plan_code"), "string")  # both stored as string


def test_silver_refuses_a_missing_column_or_a_changed_type() -> None:
    client = _acme()
    table = pa.schema([("client_id", pa.string()), ("zip", pa.string()), ("_hash", pa.string())])
    rows = {"client_id": "string", "zip": "string", "care": "string"}
    refuse_breaking(client, table, rows, accepted={"zip", "care"})  # a new column is fine
    # Another client's columns in the shared table are not this client's to fill.
    refuse_breaking(client, table, {"client_id": "string"})
    with pytest.raises(SchemaChangeRefused, match="no longer fills"):
        refuse_breaking(client, table, {"client_id": "string"}, accepted={"zip"})
    with pytest.raises(SchemaChangeRefused, match=r"zip \(string -> bigint\)"):
        refuse_breaking(client, table, {"client_id": "string", "zip": "bigint"})
    refuse_breaking(client, None, {})


def test_a_timestamp_column_is_stored_as_a_zoned_timestamp() -> None:
    client = load_clients(REPO / "clients")["acme"]
    # What Delta's schema reads as in Arrow: microseconds, zone UTC; Spark calls it timestamp.
    table = pa.schema([("client_id", pa.string()), ("seen", pa.timestamp("us", tz="UTC"))])
    refuse_breaking(client, table, {"client_id": "string", "seen": "timestamp"})
    with pytest.raises(SchemaChangeRefused, match=r"seen \(timestamp -> date\)"):
        refuse_breaking(client, table, {"client_id": "string", "seen": "date"})
    with pytest.raises(SchemaChangeRefused, match="date -> timestamp"):
        check_type_change(client, client.column("birth_date"), "timestamp")


def test_approvals_are_versioned_in_the_registry_and_merged_by_the_loader(tmp_path: Path) -> None:
    clients_dir, landing = tmp_path / "clients", tmp_path / "landing"
    clients_dir.mkdir()
    landing.mkdir()
    data = _acme_data()
    data["columns"].append({"name": "visits", "source": "Visits", "type": "integer"})
    (clients_dir / "acme.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    _file(
        landing / "acme_2026-03-01.csv",
        HEADER + ",Visits,CarePlan,Notes",
        [ROW.format(n=1) + ",2,A1,x"],
    )
    settings = Settings(lake_root=tmp_path / "lake", landing_dir=landing, clients_dir=clients_dir)
    engine = DeltaRsEngine()
    client = load_clients(clients_dir)["acme"]
    with pytest.raises(LakehouseError, match="no PII decision"):
        approve_column(
            settings, client, engine, column="CarePlan", pii=None, column_type="code",
            reason="r", approved_by="dana",
        )  # fmt: skip
    with pytest.raises(LakehouseError, match="no landing or held file"):
        approve_column(
            settings, client, engine, column="nope", pii="none", column_type="code",
            reason="r", approved_by="dana",
        )  # fmt: skip
    first = approve_column(
        settings, client, engine, column="CarePlan", pii="none", column_type="code",
        reason="care plan code, no PII (ticket 14)", approved_by="dana",
    )  # fmt: skip
    assert first.entry.version == 2  # version 1 is the baseline
    client = load_clients(clients_dir)["acme"]
    assert client.column("care_plan").header == "CarePlan"
    second = approve_column(
        settings, client, engine, column="notes", pii="encrypt", column_type="string",
        reason="free notes", approved_by="lee",
    )  # fmt: skip
    entries = registry_entries(engine, settings.lake_root, "acme")
    assert [(e.version, e.change, e.column_name, e.pii, e.approved_by) for e in entries] == [
        (1, "baseline", None, None, "dana"),
        (2, "add", "care_plan", "none", "dana"),
        (3, "add", "notes", "encrypt", "lee"),
    ]
    assert second.entry.approved_at <= dt.datetime.now(dt.UTC)
    assert [c["name"] for c in entries[-1].columns][-2:] == ["care_plan", "notes"]
    overlay = yaml.safe_load(second.overlay.read_text("utf-8"))
    assert overlay["schema_version"] == 3 and len(overlay["columns"]) == 2
    client = load_clients(clients_dir)["acme"]
    assert client.column("notes").pii == "encrypt"
    # Nothing is proposed any more; the registry and the config agree.
    proposals, files = diff_client(settings, client, engine)
    assert files == 1 and proposals == []
    with pytest.raises(SchemaChangeRefused):
        approve_column(
            settings, client, engine, column="visits", pii="none", column_type="number",
            reason="decimals now", approved_by="dana",
        )  # fmt: skip
