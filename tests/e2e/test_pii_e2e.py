"""PII end to end: on the session's demo lake, prove no raw PII leaked into any log line or
any Parquet value under the lake; then, on a copy, erase members, decrypt as a key holder and
rotate the encrypt key with the real CLI, each audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from e2e_support import REPO, DemoLake, Workspace, run

from lakehouse.config import load_clients
from lakehouse.config.models import ClientConfig
from lakehouse.demo import DemoDataset
from lakehouse.pii.crypto import is_encrypted, key_id_of
from lakehouse.pii.domains import token_domain
from lakehouse.pii.tokens import hmac_hex

pytestmark = pytest.mark.e2e

ENC2 = "c3" * 32  # the encrypt key rotated to
# Characters that separate tokens in text; '@ . _ + / - ' stay inside emails, dates, names.
_SPLIT = re.compile(r"[^\s,;|:()\[\]{}\"=<>*\\]+")
_SPARK_TO_STRPTIME = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"))


def _tokens(text: str) -> list[str]:
    return _SPLIT.findall(text.lower())


def _normal(text: str) -> str:
    return " ".join(_tokens(text))


@dataclass
class Needles:
    """Normalised raw PII values; phones and cards also by their digits."""

    words: set[str]
    digits: set[str]

    def hits(self, text: str) -> list[str]:
        tokens = _tokens(text)
        found = []
        for size in range(1, 5):  # windows of up to 4 tokens: "ana laura", "(212) 555-0142"
            for start in range(len(tokens) - size + 1):
                window = tokens[start : start + size]
                joined = " ".join(window)
                digits = re.sub(r"\D", "", "".join(window))
                if joined in self.words or (len(digits) >= 10 and digits in self.digits):
                    found.append(joined)
        return found


def _iso(value: str, formats: tuple[str, ...]) -> str | None:
    for spark_format in formats:
        pattern = spark_format
        for spark, python in _SPARK_TO_STRPTIME:
            pattern = pattern.replace(spark, python)
        try:
            return dt.datetime.strptime(value.strip(), pattern).date().isoformat()
        except ValueError:
            continue
    return None


def _value_needles(value: str, kind: str, formats: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """(words, digits) a raw value contributes; invalid placeholders ('000', 'unknown') that
    carry no personal data are not needles."""
    number = re.sub(r"\D", "", value)
    if kind == "phone":
        return set(), ({number[-10:], "1" + number[-10:]} if len(number) >= 10 else set())
    if kind == "date":
        iso = _iso(value, formats)
        return ({_normal(value), iso} if iso else set()), set()
    if kind == "email" and not re.search(r"@| at ", value):
        return set(), set()
    if kind in ("name", "email", "code") and re.search(r"[A-Za-z]", value):
        return {_normal(value)}, set()
    return set(), set()


def _notes_needles(value: str) -> tuple[set[str], set[str]]:
    words = {_normal(m) for m in re.findall(r"\b\d{3}-\d{2}-\d{4}\b|\bGM\d{8}\b", value)}
    cards = {re.sub(r"\D", "", m) for m in re.findall(r"\b\d(?:[ -]?\d){12,18}\b", value)}
    return words, cards


def _needles(demo: DemoDataset, clients: dict[str, ClientConfig]) -> Needles:
    """Raw PII of every landing file: names, birth dates, phones, e-mails, member ids of the
    columns whose policy is not ``keep``, and the SSNs, cards and MRNs planted in notes."""
    words: set[str] = set()
    digits: set[str] = set()
    for demo_file in demo.files:
        client = clients.get(demo_file.client_id or "")
        delimiter = client.file.delimiter if client else ","
        records = list(csv.reader(io.StringIO(demo_file.content.decode()), delimiter=delimiter))
        header, rows = records[0], records[1:]
        if client is None:  # the unknown client's file: ids, names, birth dates
            kinds = {"member_id": "code", "first_name": "name", "last_name": "name", "dob": "date"}
            formats: tuple[str, ...] = ("yyyy-MM-dd",)
            notes: set[str] = set()
        else:
            kinds = {c.header: c.type for c in client.columns if c.pii not in (None, "keep")}
            formats = next((c.formats for c in client.columns if c.type == "date"), ())
            notes = {c.header for c in client.columns if c.free_text}
        for row in rows:
            if len(row) != len(header):
                # Malformed: fields are misaligned; its id and e-mails are still known.
                found = [(row[0], "code")] + [(v, "email") for v in row if "@" in v]
            else:
                found = [(v, kinds.get(h, "")) for h, v in zip(header, row, strict=True)]
                for h, v in zip(header, row, strict=True):
                    if h in notes:
                        more_words, more_digits = _notes_needles(v)
                        words |= more_words
                        digits |= more_digits
            for value, kind in found:
                if value.strip() and kind:
                    more_words, more_digits = _value_needles(value, kind, formats)
                    words |= more_words
                    digits |= more_digits
    words.discard("")
    return Needles(words=words, digits={d for d in digits if len(d) >= 10})


def _log_values(line: str) -> Iterator[str]:
    """Values of a Delta commit line: statistics, partition values, commit info (not the
    schema or property names, where 'long' and 'fields' are type words, not surnames)."""
    action = json.loads(line)
    if "metaData" in action or "protocol" in action:
        return
    for kind in ("add", "remove", "cdc"):
        if kind in action:
            stats = action[kind].get("stats")
            yield from _flatten(json.loads(stats) if stats else None)
            yield from _flatten(action[kind].get("partitionValues"))
    if "commitInfo" in action:
        yield from _json_values(action["commitInfo"])


def _json_values(value: object) -> Iterator[str]:
    """Leaf values; JSON inside strings is opened, schemas (names and types) are skipped."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in ("schemaString", "schema"):
                yield from _json_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_values(item)
    elif isinstance(value, str) and value[:1] in ("{", "["):
        try:
            yield from _json_values(json.loads(value))
        except ValueError:
            yield value
    elif value is not None:
        yield str(value)


def _parquet_values(root: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(root.rglob("*.parquet")):
        table = pq.read_table(path)
        for row in table.to_pylist():
            for value in _flatten(row):
                yield path, value


def _flatten(value: object) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _flatten(item)
    else:
        yield value.isoformat() if isinstance(value, dt.date) else str(value)


@dataclass(frozen=True)
class DemoRun:
    lake: DemoLake
    clients: dict[str, ClientConfig]

    @property
    def workspace(self) -> Workspace:
        return self.lake.workspace

    @property
    def demo(self) -> DemoDataset:
        return self.lake.demo

    @property
    def output(self) -> str:
        return self.lake.stdout + self.lake.stderr


@pytest.fixture(scope="module")
def demo_run(demo_lake: DemoLake) -> DemoRun:
    """The session's demo lake (DEBUG logs captured); the scans only read it."""
    return DemoRun(demo_lake, load_clients(REPO / "clients"))


def _write_rotated_keys(lake: DemoLake, path: Path) -> None:
    """The demo's key file plus a new encrypt key; the old one is kept for reading."""
    payload = lake.keys()
    payload["keys"]["enc-2"] = ENC2
    payload.update(encrypt_key_id="enc-2", encrypt_old_key_ids=[payload["encrypt_key_id"]])
    path.write_text(json.dumps(payload), encoding="utf-8")
    path.chmod(0o600)


def _cli(lake: DemoLake, *args: str, key_file: Path | None = None) -> str:
    env = lake.workspace.env(LAKEHOUSE_KEY_FILE=str(key_file or lake.key_file))
    result = run([sys.executable, "-m", "lakehouse", *args], env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_leak_scan_finds_no_raw_pii(demo_run: DemoRun, capsys: pytest.CaptureFixture[str]) -> None:
    needles = _needles(demo_run.demo, demo_run.clients)
    assert len(needles.words) > 8000 and len(needles.digits) > 1500  # the scan has teeth
    # Positive control: the same scan finds PII all over the landing files themselves.
    landing = [n for f in demo_run.demo.files for n in needles.hits(f.content.decode())]
    assert len(landing) > 10_000
    # The demo's notices about its development key file are fixed text, not data ("Key" is
    # also a surname in the demo data).
    lines = [line for line in demo_run.output.splitlines() if "DEVELOPMENT key" not in line]
    assert any("file ingested" in line for line in lines)  # DEBUG/INFO logs were captured
    log_lines = [*lines]
    for log in sorted((demo_run.workspace.lake).rglob("_delta_log/*.json")):
        for line in log.read_text(encoding="utf-8").splitlines():
            log_lines += list(_log_values(line))
    hits = [(i, h) for i, line in enumerate(log_lines) for h in needles.hits(line)]
    values = 0
    for path, value in _parquet_values(demo_run.workspace.lake):
        values += 1
        if not is_encrypted(value):
            hits += [
                (str(path.relative_to(demo_run.workspace.lake)), h) for h in needles.hits(value)
            ]
    with capsys.disabled():
        print(  # noqa: T201 - the figure the issue asks to report
            f"\nleak scan: {values} Parquet values and {len(log_lines)} log lines/commit values "
            f"against {len(needles.words) + len(needles.digits)} raw PII values: {len(hits)} hits"
        )
    assert values > 50_000
    assert hits == []


def test_tables_hold_protected_values(demo_run: DemoRun) -> None:
    ws = demo_run.workspace
    encrypt_key_id = demo_run.lake.keys()["encrypt_key_id"]
    quarantine = ws.table("quarantine/members").to_pylist()
    for row in quarantine:
        for name in ("member_id", "first_name", "last_name", "birth_date", "phone", "email"):
            assert row[name] is None or (
                is_encrypted(row[name]) and key_id_of(row[name]) == encrypt_key_id
            )
        # No key token only where the key itself is missing or unparseable.
        assert row["_reasons"] and (row["_key_token"] is None or len(row["_key_token"]) == 64)
    assert sum(r["_key_token"] is not None for r in quarantine) > len(quarantine) // 2
    audit = {r["file_name"]: r for r in ws.table("audit/files").to_pylist()}
    globex = [r for r in audit.values() if r["client_id"] == "globex" and r["status"] == "SUCCESS"]
    assert globex and all(json.loads(r["phi_redactions"])["ssn"] > 0 for r in globex)


def _gold_members(ws: Workspace, client: str) -> int:
    rows = ws.table("gold/members_summary").to_pylist()
    cells = [r for r in rows if r["client_id"] == client]
    assert cells and not any(r["suppressed"] for r in cells)  # demo cells are all >= k
    return sum(r["members"] for r in cells)


def test_forget_decrypt_and_rotate(demo_run: DemoRun, tmp_path: Path) -> None:
    lake = demo_run.lake.copy(tmp_path)  # erasure and rotation change the lake
    ws = lake.workspace
    keys = lake.keys()
    token_key = bytes.fromhex(keys["keys"][keys["token_key_id"]])
    silver = ws.table("silver/members")
    globex = demo_run.clients["globex"]
    domain = token_domain(globex, "member_id")
    # A globex member from the first file: raw key as the client spells it.
    first = next(f for f in demo_run.demo.files if f.client_id == "globex")
    rows = list(csv.reader(io.StringIO(first.content.decode()), delimiter="|"))[1:]
    token = key = None
    for row in rows:
        candidate = hmac_hex(row[0].strip().upper(), token_key, domain=domain)
        if candidate in silver.column("member_id").to_pylist():
            token, key = candidate, row[0]
            break
    assert token is not None and key is not None
    gold_before = _gold_members(ws, "globex")
    out = _cli(
        lake, "forget", "--client", "globex", "--key", key.lower(), "--yes", "--reason", "INC-1"
    )
    assert "verified" in out and key not in out and token not in out
    # Gold no longer counts the member, and no gold version that did is left to compare.
    assert _gold_members(ws, "globex") == gold_before - 1
    assert "gold/members_summary recomputed without the member" in out
    gold_log = sorted(p.name for p in (ws.lake / "gold/members_summary/_delta_log").glob("*.json"))
    assert len(gold_log) <= 2, gold_log
    assert token not in ws.table("silver/members").column("member_id").to_pylist()
    from lakehouse.pii.scan import scan_files

    assert scan_files([ws.lake], [token, key.strip().upper()]) == []

    decrypted = _cli(
        lake, "decrypt", "--client", "globex", "--table", "quarantine", "--reason", "INC-2"
    )
    table = list(csv.DictReader(io.StringIO(decrypted.split("decrypted ")[0])))
    assert table and not any(is_encrypted(r["last_name"]) for r in table)

    rotated = tmp_path / "rotated.json"
    _write_rotated_keys(lake, rotated)
    tokens_before = sorted(ws.table("silver/members").column("member_id").to_pylist())
    _cli(lake, "keys", "rotate", "--reason", "INC-3", key_file=rotated)
    for zone in ("bronze/members", "quarantine/members", "silver/members", "bronze/readings"):
        values = [v for r in ws.table(zone).to_pylist() for v in r.values() if is_encrypted(v)]
        gcm = [v for v in values if v.startswith(("gcm1:", "gcm2:"))]
        assert gcm and {key_id_of(v) for v in gcm} == {"enc-2"}
    assert sorted(ws.table("silver/members").column("member_id").to_pylist()) == tokens_before

    events = sorted(ws.table("audit/pii_events").to_pylist(), key=lambda e: e["started_at"])
    # keys rotate: one event per client dataset (acme's members and readings, globex).
    assert [e["event"] for e in events] == ["forget", "decrypt", *["keys_rotate"] * 3]
    assert {e["status"] for e in events} == {"SUCCESS"}
    assert all(key not in json.dumps(e, default=str) for e in events)
    assert all(token not in json.dumps(e, default=str) for e in events)
    assert {e["reason"] for e in events} >= {"INC-1", "INC-2", "INC-3"}
    assert globex.client_id in {e["client_id"] for e in events}


def test_retention_as_the_crontab_line_runs_it(demo_run: DemoRun, tmp_path: Path) -> None:
    """`run_pipeline.sh --retention` (no JVM, no key) on a copy of the demo, as of 2027-03-01:
    acme's quarantine (90d) is gone, its bronze (400d) keeps February only, in every file of
    the tables; silver and globex are untouched; the event is audited."""
    lake = demo_run.lake.copy(tmp_path)
    ws = lake.workspace
    silver_before = ws.table("silver/members").num_rows
    env = {k: v for k, v in ws.env().items() if "KEY" not in k}
    args = ["--retention", "--client", "acme", "--as-of", "2027-03-01", "--reason", "POL-1"]
    result = run(["./scripts/run_pipeline.sh", *args], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified: no data file of the client holds an expired row" in result.stdout
    for zone, cutoff in (("bronze", dt.date(2026, 1, 25)), ("quarantine", dt.date(2026, 12, 1))):
        files = [p for p in (ws.lake / zone).rglob("*.parquet") if "client_id=acme" in p.parts]
        dates = {d for p in files for d in pq.read_table(p).column("_creation_date").to_pylist()}
        assert all(d >= cutoff for d in dates), (zone, sorted(dates))
    acme_bronze = [r for r in ws.table("bronze/members").to_pylist() if r["client_id"] == "acme"]
    assert {r["_creation_date"] for r in acme_bronze} == {dt.date(2026, 2, 2)}
    quarantine = ws.table("quarantine/members").column("client_id").to_pylist()
    assert "acme" not in quarantine and "globex" in quarantine
    assert ws.table("silver/members").num_rows == silver_before
    archived = sorted(p.name for p in (ws.lake / "_archive" / "acme").glob("*.csv"))
    assert archived == ["acme_2026-02-02.csv", "acme_2026-02-03.csv"]
    # acme's readings have the same periods: their bronze keeps February only too.
    readings = ws.table("bronze/readings").column("_creation_date").to_pylist()
    assert set(readings) == {dt.date(2026, 2, 2)}
    archived = sorted(p.name for p in (ws.lake / "_archive" / "acme").glob("*.jsonl"))
    assert archived == ["acme_readings_2026-02-02.jsonl"]
    events = ws.table("audit/pii_events").to_pylist()
    retention = [e for e in events if e["event"] == "retention"]
    assert len(retention) == 2  # one per dataset of acme
    assert {(e["status"], e["reason"]) for e in retention} == {("SUCCESS", "POL-1")}
