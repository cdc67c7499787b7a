"""lakehouse.memo: a build runs once per memo, name and Spark context; no memo, every time."""

from __future__ import annotations

from collections.abc import Hashable

from pyspark import SparkContext
from pyspark.sql import SparkSession

from lakehouse.memo import built_once


def test_a_name_is_built_once_per_memo_and_context(spark: SparkSession) -> None:
    builds: list[str] = []

    def build(label: str) -> object:
        builds.append(label)
        return object()

    memo: dict[Hashable, object] = {}
    first = built_once(memo, ("a", 1), lambda: build("a"))
    assert built_once(memo, ("a", 1), lambda: build("a again")) is first
    other = built_once(memo, ("a", 2), lambda: build("b"))
    assert other is not first
    assert builds == ["a", "b"]
    # Without a memo every call builds.
    built_once(None, ("a", 1), lambda: build("c"))
    built_once(None, ("a", 1), lambda: build("d"))
    assert builds == ["a", "b", "c", "d"]
    # An entry made under another Spark context (a stopped session's) is built again.
    assert SparkContext._active_spark_context is not None
    memo[("a", 1)] = (object(), first)
    assert built_once(memo, ("a", 1), lambda: build("e")) is not first
    assert builds[-1] == "e"
