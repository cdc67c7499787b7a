"""Schema evolution end to end, in process on the session's Spark, in one lake for the module:
an added column under each mode; diff -> approve -> release ending with the column in silver;
a type change shown by diff; a removed column refused with the manual path."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml
from deltalake import DeltaTable
from e2e_support import REPO, TEST_KEYS
from pyspark.sql import SparkSession

from lakehouse.audit import AuditRecord
from lakehouse.cli import main
from lakehouse.config import load_clients, load_settings
from lakehouse.config.models import ClientConfig, Settings
from lakehouse.errors import LakehouseError
from lakehouse.ingest.release import release_file
from lakehouse.ingest.stream import RunResult, run_ingest
from lakehouse.landing.reader import CORRUPT_COLUMN
from lakehouse.pii.crypto import is_encrypted
from lakehouse.pii.keys import KeyRing
from lakehouse.pii.policies import reveal_raw

pytestmark = pytest.mark.e2e

HEADER = "MemberID,FirstName,LastName,DOB,Phone,Email,Zip,Plan,Visits,CarePlan"
ROWS = [
    "AC{n}01,Ann,Lee,1970-05-05,(212) 555-0142,,10001,gold,2,CP-{n}1",
    "AC{n}02,Bo,Kim,1980-02-02,notaphone,,10002,silver,3,CP-{n}2",
    "AC{n}03,Cy,Orr,1990-03-03,,,10003,bronze,,CP-{n}3",
]
# Two clients, two streams: afail holds (the default mode); amix takes every other mode at
# once (rescue for the file, per-header overrides for the rest).
MODES: dict[str, dict[str, Any]] = {
    "afail": {"mode": "failOnNewColumns"},
    "amix": {"mode": "rescue", "columns": {"CarePlan": "addNewColumns", "ExportedAt": "none"}},
}
MIX_HEADER = HEADER + ",ExportedAt,Note"
DAY = "2026-03-02"


@dataclass(frozen=True)
class Lake:
    root: Path
    settings: Settings
    first_run: RunResult

    def clients(self) -> dict[str, ClientConfig]:
        return load_clients(self.settings.clients_dir)

    def table(self, zone: str) -> pa.Table:
        path = self.settings.lake_root / zone / "members"
        return pa.table(DeltaTable(str(path)).to_pyarrow_dataset().to_table())

    def audit(self, name: str) -> dict[str, Any]:
        rows = [r for r in self.table_at("audit/files") if r["file_name"] == name]
        return sorted(rows, key=lambda r: r["started_at"])[-1]

    def table_at(self, relative: str) -> list[dict[str, Any]]:
        path = self.settings.lake_root / relative
        return pa.table(DeltaTable(str(path)).to_pyarrow_dataset().to_table()).to_pylist()

    def cli(self, *args: str) -> int:
        flags = [
            "--conf",
            str(REPO / "conf/lakehouse.yaml"),
            "--lake-root",
            str(self.settings.lake_root),
            "--landing",
            str(self.settings.landing_dir),
            "--clients-dir",
            str(self.settings.clients_dir),
        ]
        return main([*args[:2], *flags, *args[2:]])


def _client_file(directory: Path, client_id: str, evolution: dict[str, Any]) -> None:
    data: dict[str, Any] = copy.deepcopy(
        yaml.safe_load((REPO / "clients/acme.yaml").read_text(encoding="utf-8"))
    )
    data.update(client_id=client_id, schema_evolution=evolution)
    data["thresholds"] = {"max_invalid_ratio": 0.5}  # one bad phone of three: not held
    data.pop("delivery")
    data["columns"].append({"name": "visits", "source": "Visits", "type": "integer"})
    data["columns"][0]["checks"] = {"regex": "^AC[0-9]{3}$"}
    (directory / f"{client_id}.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


def _rows(n: int) -> list[str]:
    return [row.format(n=n) for row in ROWS]


def _write(landing: Path, name: str, header: str, rows: list[str]) -> Path:
    path = landing / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    root = tmp_path_factory.mktemp("schema-lake")
    clients_dir, landing = root / "clients", root / "landing"
    clients_dir.mkdir()
    landing.mkdir()
    for client_id, evolution in MODES.items():
        _client_file(clients_dir, client_id, evolution)
    _write(landing, f"afail_{DAY}.csv", HEADER, _rows(1))
    _write(landing, f"amix_{DAY}.csv", MIX_HEADER, [r + ",2026-03-02T01:00,n" for r in _rows(2)])
    settings = load_settings(
        REPO / "conf/lakehouse.yaml",
        environ={},
        overrides={
            "lake_root": root / "lake",
            "landing_dir": landing,
            "clients_dir": clients_dir,
            "spark": {},
        },
    )
    result = run_ingest(settings, load_clients(clients_dir), KeyRing.from_environment(TEST_KEYS))
    result.raise_for_failures()
    yield Lake(root, settings, result)


def _bronze(lake: Lake, client_id: str) -> list[dict[str, Any]]:
    bronze = lake.table("bronze")
    return bronze.filter(pc.equal(bronze.column("client_id"), client_id)).to_pylist()


def _silver(lake: Lake, client_id: str) -> list[dict[str, Any]]:
    silver = lake.table("silver")
    return silver.filter(pc.equal(silver.column("client_id"), client_id)).to_pylist()


def test_fail_on_new_columns_holds_the_file_and_names_only_headers(lake: Lake) -> None:
    row = lake.audit(f"afail_{DAY}.csv")
    assert (row["status"], row["reason"]) == ("HELD", "schema_drift:new_columns=1")
    assert "CarePlan" in row["error"] and "CP-" not in row["error"]
    assert _silver(lake, "afail") == []
    # Bronze keeps the declared columns, as without evolution: CarePlan is not in it.
    assert all(r.get("care_plan") is None for r in _bronze(lake, "afail"))
    alerts = [
        json.loads(a["payload"])
        for a in lake.table_at("audit/alerts")
        if a["kind"] == "file_held" and a["file_name"] == f"afail_{DAY}.csv"
    ]
    assert alerts and "schema_drift" in alerts[0]["message"]


def test_none_ignores_the_column_as_before(lake: Lake) -> None:
    row = lake.audit(f"amix_{DAY}.csv")
    assert (row["status"], row["rows_read"], row["rows_quarantined"]) == ("SUCCESS", 3, 0)
    assert "exported_at" not in lake.table("bronze").schema.names


def test_add_new_columns_puts_them_in_bronze_encrypted_and_not_in_silver(lake: Lake) -> None:
    row = lake.audit(f"amix_{DAY}.csv")
    assert row["reason"] == "schema_added:new_columns=1"
    values = [r["care_plan"] for r in _bronze(lake, "amix")]
    assert len(values) == 3 and all(is_encrypted(v) for v in values)
    assert "care_plan" not in lake.table("silver").schema.names  # not approved yet


def test_rescue_keeps_unknown_and_misfit_values_encrypted(lake: Lake, spark: SparkSession) -> None:
    bronze = _bronze(lake, "amix")
    assert all(is_encrypted(r["_rescued_data"]) for r in bronze)
    client = lake.clients()["amix"]
    frame = spark.createDataFrame(
        pa.Table.from_pylist(bronze).select(["client_id", "_key_token", "_rescued_data"])
    )
    keys = KeyRing.from_environment(TEST_KEYS)
    plain = reveal_raw(frame, client, keys, corrupt=CORRUPT_COLUMN).collect()
    rescued = [json.loads(r["_rescued_data"]) for r in plain]
    assert {"Note": "n"} in rescued
    assert {"Note": "n", "Phone": "notaphone"} in rescued  # a misfit value, not quarantined
    silver = _silver(lake, "amix")
    assert len(silver) == 3 and "_rescued_data" not in lake.table("silver").schema.names


def test_diff_approve_release_brings_the_column_into_silver(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lake.cli("schema", "diff", "--client", "afail", "--json") == 0
    diff = json.loads(capsys.readouterr().out)
    added = [c for c in diff["changes"] if c["kind"] == "added"]
    assert added == [
        {
            "kind": "added",
            "column": "care_plan",
            "header": "CarePlan",
            "declared_type": None,
            "inferred_type": "string",
            "files": 1,
            "sampled_rows": 3,
            "detail": "mode failOnNewColumns",
        }
    ]
    assert "CP-" not in json.dumps(diff)
    approve = ["schema", "approve", "--client", "afail", "--column", "CarePlan"]
    assert lake.cli(*approve, "--type", "code", "--reason", "r") == 1  # no --pii: refused
    assert "no PII decision" in capsys.readouterr().err
    assert lake.cli(*approve, "--type", "code", "--pii", "none", "--reason", "plan code") == 0
    assert "schema version 2" in capsys.readouterr().out
    assert (lake.settings.clients_dir / "afail.approved.yaml").is_file()

    clients = lake.clients()
    record: AuditRecord = release_file(
        lake.settings, clients, KeyRing.from_environment(TEST_KEYS), f"afail_{DAY}.csv"
    )
    assert (record.status, record.reason, record.rows_inserted) == ("SUCCESS", "released", 2)
    silver = lake.table("silver")
    assert silver.schema.field("care_plan").nullable
    values = {r["care_plan"] for r in _silver(lake, "afail")}
    assert values == {"CP-11", "CP-13"}
    # Rows merged before the column existed read NULL.
    assert {r["care_plan"] for r in _silver(lake, "amix")} == {None}
    assert lake.cli("schema", "history", "--client", "afail") == 0
    assert "plan code" in capsys.readouterr().out


def test_a_held_file_with_undeclared_columns_is_not_released_as_is(lake: Lake) -> None:
    _write(lake.settings.landing_dir, "afail_2026-03-04.csv", HEADER + ",Extra", [])
    clients = lake.clients()
    from lakehouse.ingest.release import _refuse_undeclared

    with pytest.raises(LakehouseError, match="1 column") as error:
        _refuse_undeclared(lake.settings.landing_dir / "afail_2026-03-04.csv", clients["afail"])
    assert "schema approve" in str(error.value)
    (lake.settings.landing_dir / "afail_2026-03-04.csv").unlink()


def test_diff_shows_a_type_change_and_approval_refuses_it(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    decimals = [r.replace(",2,", ",2.5,").replace(",3,", ",3.25,") for r in _rows(4)]
    _write(lake.settings.landing_dir, "afail_2026-03-03.csv", HEADER, decimals)
    assert lake.cli("schema", "diff", "--client", "afail", "--exit-code") == 2
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("type_change"))
    assert "visits" in line and "integer" in line and "number" in line
    assert "2 of" in line and "2.5" not in out
    code = lake.cli(
        "schema", "approve", "--client", "afail", "--column", "visits", "--type", "number",
        "--pii", "none", "--reason", "decimals now",
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "bigint -> double" in err and "members_v2" in err
    (lake.settings.landing_dir / "afail_2026-03-03.csv").unlink()  # diff's input only


def test_a_removed_column_is_refused_with_the_manual_path(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    code = lake.cli("schema", "approve", "--client", "afail", "--column", "visits", "--remove",
                    "--reason", "gone")  # fmt: skip
    assert code == 1
    assert "breaking change" in (err := capsys.readouterr().err) and "backfill" in err
    # Removed from the YAML by hand: the registry (version 2) still accepts it, so the
    # next file of the client fails with the manual path instead of silently emptying it.
    path = lake.settings.clients_dir / "afail.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["columns"] = [c for c in data["columns"] if c["name"] != "visits"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    _write(lake.settings.landing_dir, "afail_2026-03-05.csv", HEADER.replace(",Visits", ""), [
        r.replace(",2,", ",").replace(",3,", ",").replace(",,CP", ",CP") for r in _rows(5)
    ])  # fmt: skip
    result = run_ingest(
        lake.settings, lake.clients(), KeyRing.from_environment(TEST_KEYS), only=["afail"]
    )
    [failed] = result.failed
    assert failed.file_name == "afail_2026-03-05.csv"
    assert "visits" in (failed.error or "") and "members_v2" in (failed.error or "")
