"""Spark expressions built once and applied to every file that needs them.

A file's plan takes thousands of py4j round trips to build (each ``F`` call, each Column
operator, ~30 for registering a UDF), and every file of a client needs the same expressions:
standardisers, tokens, encryption UDFs, the row hash. A memo is a plain dict with an owner
whose life it shares: expressions built from keys live on the ring that keyed them
(``KeyRing.spark_functions``), so they go when the keys go; the others on the run's ``Job``
(``Job.plans``). DesignDoc, "Performance": "Building a file's plan".

A Column is an unresolved expression over column *names*: built for one file's frame, it
applies to the next file's frame with the same columns. A memo name must therefore list
every input of the build: what it is, the client's whole config (``config_id``) or the
column specs, and the frame's column names; never key material (the ring is the memo's
owner, not part of the name). A ``None`` memo builds every time (a one-off call).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping
from typing import TypeAlias, TypeVar, cast

from pyspark import SparkContext

from lakehouse.config.models import ClientConfig

__all__ = ["Memo", "built_once", "config_id"]

T = TypeVar("T")
Memo: TypeAlias = MutableMapping[Hashable, object]


def config_id(client: ClientConfig) -> str:
    """The client config as one hashable value (its JSON, ~20 us): a memo name's part."""
    return client.model_dump_json()


def built_once(memo: Memo | None, name: tuple[Hashable, ...], build: Callable[[], T]) -> T:
    """``build()`` the first time ``name`` is asked of ``memo`` in this Spark context; the
    same object after that. A new context (a stopped and restarted session) builds again:
    registered UDFs belong to the context that made them."""
    if memo is None:
        return build()
    context = SparkContext._active_spark_context
    made = memo.get(name)
    if isinstance(made, tuple) and made[0] is context:
        return cast(T, made[1])
    value = build()
    memo[name] = (context, value)
    return value
