"""Spark's HMAC-SHA256 (per Arrow batch) equals Python's ``hmac`` byte for byte, and its key
never reaches a plan, a column name, an error, stderr or the event log."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.pii.tokens import hmac_hex, spark_hmac_hex, token_message

KEY_32 = bytes(range(32, 64))
KEY_64 = bytes(range(64, 128))  # exactly one SHA-256 block: used as is, not hashed
KEY_100 = bytes((7 * i + 3) % 256 for i in range(100))  # longer than a block: hashed first
KEYS = {"32": KEY_32, "64": KEY_64, "100": KEY_100}

VALUES = [
    "AC0000001",
    "GX-123456",
    "",
    " ",
    "a",
    "O'Brien",
    'quote " and \\ backslash',
    "Zoë Ångström",
    "Łódź",
    "東京都",
    "Ελληνικά",
    "👩\u200d⚕️ emoji",
    "\u0301combining",
    "tab\tnew\nline\r\n",
    "\x00nul inside\x00",
    "\x1f",  # the domain separator itself
    "x" * 55,  # message lengths around SHA-256 padding boundaries
    "x" * 56,
    "x" * 64,
    "y" * 1000,
    "z" * 100_000,
]


def _frame(spark: SparkSession, **columns: pa.Array) -> DataFrame:
    """A DataFrame with an ``i`` column for ordering; from Arrow, so no Python worker starts."""
    size = len(next(iter(columns.values())))
    return spark.createDataFrame(pa.table({"i": pa.array(range(size), pa.int32()), **columns}))


def _token_columns(
    spark: SparkSession, values: Sequence[str | None], specs: dict[str, tuple[bytes, str]]
) -> dict[str, list[str | None]]:
    """Tokens of ``values`` for every (key, domain) in ``specs``, computed in one Spark job."""
    df = _frame(spark, v=pa.array(list(values), pa.string()))
    columns = [
        spark_hmac_hex(token_message(domain, F.col("v")), key).alias(name)
        for name, (key, domain) in specs.items()
    ]
    # The shuffle keeps the optimizer from folding the tokens into the local relation, so the
    # executors' generated code computes them, as it does for files.
    rows = df.repartition(2).select("i", *columns).orderBy("i").collect()
    return {name: [row[name] for row in rows] for name in specs}


def _tokens(
    spark: SparkSession, values: Sequence[str | None], key: bytes, domain: str
) -> list[str]:
    return _token_columns(spark, values, {"t": (key, domain)})["t"]  # type: ignore[return-value]


@pytest.fixture(scope="module")
def by_key(spark: SparkSession) -> dict[str, list[str | None]]:
    """VALUES (and a NULL) tokenised with every test key, plus sha256(KEY_100) as a key."""
    specs = {name: (key, "member_id") for name, key in KEYS.items()}
    specs["100-hashed"] = (hashlib.sha256(KEY_100).digest(), "member_id")
    return _token_columns(spark, [*VALUES, None], specs)


def test_python_twin_is_standard_hmac() -> None:
    expected = hmac.new(KEY_32, b"member_id\x1fAC0000001", hashlib.sha256).hexdigest()
    assert hmac_hex("AC0000001", KEY_32, domain="member_id") == expected
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


def test_python_twin_rfc4231_vector() -> None:
    # RFC 4231 test case 2 with the message split into domain and value at the separator.
    assert hmac_hex("", b"Jefe", domain="what do ya want for nothing?") == (
        hmac.new(b"Jefe", b"what do ya want for nothing?\x1f", hashlib.sha256).hexdigest()
    )


@pytest.mark.parametrize("key_name", list(KEYS))
def test_spark_matches_python_for_many_values(
    by_key: dict[str, list[str | None]], key_name: str
) -> None:
    key = KEYS[key_name]
    assert by_key[key_name][:-1] == [hmac_hex(v, key, domain="member_id") for v in VALUES]


def test_keys_longer_than_a_block_are_hashed_first(by_key: dict[str, list[str | None]]) -> None:
    # RFC 2104: a key longer than the block equals HMAC with sha256(key) as the key.
    assert by_key["100"] == by_key["100-hashed"]
    hashed = hashlib.sha256(KEY_100).digest()
    assert hmac_hex("v", KEY_100, domain="d") == hmac_hex("v", hashed, domain="d")


def test_different_keys_give_different_tokens(by_key: dict[str, list[str | None]]) -> None:
    for i in range(len(VALUES)):
        assert len({by_key[name][i] for name in KEYS}) == len(KEYS)


def test_different_values_give_different_tokens(by_key: dict[str, list[str | None]]) -> None:
    assert len(set(by_key["32"][:-1])) == len(set(VALUES))


def test_null_stays_null(by_key: dict[str, list[str | None]]) -> None:
    for name in by_key:
        assert by_key[name][-1] is None
    assert by_key["32"][VALUES.index("")] == hmac_hex("", KEY_32, domain="member_id")


def test_tokens_are_lower_case_hex(by_key: dict[str, list[str | None]]) -> None:
    for token in by_key["32"][:-1]:
        assert token is not None and re.fullmatch(r"[0-9a-f]{64}", token)


def test_domains_separate_equal_values(spark: SparkSession) -> None:
    domains = ["member_id", "member_id2", "phone", "MEMBER_ID", "", "ab", "a"]
    got = _token_columns(
        spark, ["12345", "c", "bc"], {f"d{i}": (KEY_32, d) for i, d in enumerate(domains)}
    )
    tokens = {d: got[f"d{i}"] for i, d in enumerate(domains)}
    assert len({t[0] for t in tokens.values()}) == len(domains)
    assert tokens == {
        d: [hmac_hex(v, KEY_32, domain=d) for v in ["12345", "c", "bc"]] for d in domains
    }
    # ("ab", "c") and ("a", "bc") would collide if domain and value were simply concatenated.
    assert tokens["ab"][1] != tokens["a"][2]


def test_non_string_columns_are_tokenised_as_their_string_form(spark: SparkSession) -> None:
    df = _frame(spark, n=pa.array([1234567], pa.int32()))
    token = df.select(spark_hmac_hex(token_message("n", F.col("n")), KEY_32)).first()
    assert token is not None
    assert token[0] == hmac_hex("1234567", KEY_32, domain="n")


@settings(max_examples=6, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.text(max_size=200), min_size=1, max_size=40),
    domain=st.text(min_size=1, max_size=20),
    key=st.binary(min_size=32, max_size=130),
)
def test_property_spark_equals_python(
    spark: SparkSession, values: list[str], domain: str, key: bytes
) -> None:
    # One Spark job per example, each example a batch of values.
    assert _tokens(spark, values, key, domain) == [hmac_hex(v, key, domain=domain) for v in values]


# --- the key never shows in plans ---------------------------------------------------------


def _key_spellings(key: bytes) -> list[str]:
    """Ways the key (or the pads derived from it, which reveal it) could be printed."""
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\x00")
    inner = bytes(b ^ 0x36 for b in block)
    outer = bytes(b ^ 0x5C for b in block)
    spellings = []
    for material in (key, inner, outer):
        spellings += [
            material.hex(),
            material.hex().upper(),
            ", ".join(str(b) for b in material[:16]),  # a byte array printed as numbers
            ", ".join(str(b - 256 if b > 127 else b) for b in material[:16]),  # Java bytes
        ]
    return spellings


def _tokenised(spark: SparkSession, key: bytes) -> DataFrame:
    # From Python rows, not Arrow: a local relation would be constant-folded away. Only plans
    # are built from it, so no job (and no Python worker) runs.
    df = spark.createDataFrame([("AC0000001",), (None,)], "member_id string")
    # Aliased, as lakehouse.pii.policies does: otherwise the column *name* is the expression.
    token = spark_hmac_hex(token_message("member_id", F.col("member_id")), key)
    return df.select(token.alias("member_id"))


def test_session_redaction_regex_covers_the_pads(spark: SparkSession) -> None:
    pattern = re.compile(spark.conf.get("spark.sql.redaction.string.regex") or "^$")
    for spelling in _key_spellings(KEY_32)[::4]:  # the hex spellings of key and pads
        assert pattern.search(f"concat(0x{spelling.upper()}, v)")


@pytest.mark.parametrize("key_name", list(KEYS))
def test_key_never_in_query_execution(spark: SparkSession, key_name: str) -> None:
    key = KEYS[key_name]
    plan = _tokenised(spark, key)._jdf.queryExecution().toString()
    assert "hmac_sha256" in plan  # the UDF is named; its key is in no literal
    assert "redacted" not in plan  # nothing needed hiding
    for spelling in _key_spellings(key):
        assert spelling not in plan


@pytest.mark.parametrize("mode", ["simple", "extended", "codegen", "cost", "formatted"])
def test_key_never_in_explain(
    spark: SparkSession, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    # lakehouse turns whole-stage codegen off (faster here) and the test JVMs interpret
    # expressions (NO_CODEGEN, tests/conftest.py); a deployment may turn codegen back on,
    # and the generated code must not show the key either.
    settings = {"spark.sql.codegen.wholeStage": "true", "spark.sql.codegen.factoryMode": "FALLBACK"}
    previous = {key: spark.conf.get(key) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        _tokenised(spark, KEY_32).explain(mode=mode)
    finally:
        for key, value in previous.items():
            spark.conf.set(key, value)
    printed = capsys.readouterr().out
    assert "member_id" in printed
    for spelling in _key_spellings(KEY_32):
        assert spelling not in printed


def test_key_never_in_column_repr(spark: SparkSession) -> None:
    text = repr(spark_hmac_hex(token_message("member_id", F.col("member_id")), KEY_32))
    for spelling in _key_spellings(KEY_32):
        assert spelling not in text


def test_key_never_in_plan_of_unaliased_token_column(spark: SparkSession) -> None:
    df = spark.createDataFrame([("AC0000001",)], "member_id string")
    out = df.select(spark_hmac_hex(token_message("member_id", F.col("member_id")), KEY_32))
    text = out._jdf.queryExecution().toString() + " ".join(out.columns)
    for spelling in _key_spellings(KEY_32):
        assert spelling not in text


def test_key_never_in_an_analysis_error(
    spark: SparkSession, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyspark.errors import AnalysisException

    df = spark.createDataFrame([("AC0000001",)], "member_id string")
    token = spark_hmac_hex(token_message("member_id", F.col("member_id")), KEY_32)
    with pytest.raises(AnalysisException) as info:
        # Unaliased token column, then a column that does not exist: the error quotes the plan.
        df.select(token, F.col("member_id")).select(F.col("no_such_column")).collect()
    printed = capsys.readouterr()
    text = str(info.value) + printed.out + printed.err
    assert "no_such_column" in text  # the error is the one forced
    for spelling in _key_spellings(KEY_32):
        assert spelling not in text


_EVENT_LOG_JOB = """
import sys
from pathlib import Path
from pyspark.sql import SparkSession, functions as F
from lakehouse.pii.tokens import spark_hmac_hex, token_message
from lakehouse.spark import BASE_CONF, use_this_python

use_this_python()
key = bytes.fromhex(sys.argv[2])
builder = SparkSession.builder.master("local[1]").appName("token-event-log")
for k, v in {**BASE_CONF, "spark.eventLog.enabled": "true", "spark.eventLog.dir": sys.argv[1],
             "spark.eventLog.compress": "false",
             "spark.sql.redaction.string.regex": "(?!)"}.items():
    builder = builder.config(k, v)
spark = builder.getOrCreate()
df = spark.createDataFrame([(f"AC{i:07d}",) for i in range(100)], "member_id string")
token = spark_hmac_hex(token_message("member_id", F.col("member_id")), key)
out = df.repartition(2).select(token, F.col("member_id")).orderBy("member_id")
print(out.collect()[0][0])
try:
    out.select("no_such_column").collect()
except Exception as exc:
    print(type(exc).__name__, exc, file=sys.stderr)
print(out._jdf.queryExecution().toString(), file=sys.stderr)
spark.stop()
"""


def test_key_never_in_the_event_log_or_stderr(tmp_path: Path) -> None:
    # Own JVM: the event log is set when the SparkContext starts. Redaction is switched off
    # ("(?!)" matches nothing), so nothing but the design keeps the key out.
    events = tmp_path / "events"
    events.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    result = subprocess.run(
        [sys.executable, "-c", _EVENT_LOG_JOB, str(events), KEY_100.hex()],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().splitlines()[-1] == hmac_hex(
        "AC0000000", KEY_100, domain="member_id"
    )
    assert "AnalysisException" in result.stderr and "no_such_column" in result.stderr
    logs = "".join(
        p.read_text(encoding="utf-8", errors="replace") for p in events.rglob("*") if p.is_file()
    )
    assert "SparkListenerSQLExecutionEnd" in logs and "hmac_sha256" in logs
    for text in (logs, result.stderr, result.stdout):
        for spelling in _key_spellings(KEY_100):
            assert spelling not in text
