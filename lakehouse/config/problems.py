"""Configuration problems as a user can act on them: which key, what was expected, what was
found; every problem of a file at once.

Pydantic's errors are rewritten here: list positions become the item's ``name`` where it
has one (``columns[birth_date].formats``, not ``columns.3.formats``), pydantic's prefixes
("Value error, ") go, an allowed-values list is said once, a list given as a scalar says so
with an example, and a key written at the wrong level says where it belongs. YAML is read
with duplicate keys reported (PyYAML would keep the last one silently).
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lakehouse.errors import ConfigError

__all__ = [
    "KeyedValueError",
    "KeyedValueErrors",
    "Problem",
    "one_or_many",
    "read_yaml",
    "validation_problems",
]


def one_or_many(value: object) -> object:
    """A single value where a list is expected is a list of one (``formats: MM/dd/yyyy``);
    a ``BeforeValidator`` for list fields."""
    if isinstance(value, str | int | float | dt.date) and not isinstance(value, bool):
        return (value,)
    return value


class KeyedValueError(ValueError):
    """A validator error about a key below the validated model (for ``ConfigError.key``)."""

    def __init__(
        self, message: str, *, key: tuple[str | int, ...], expected: str, found: str
    ) -> None:
        super().__init__(message)
        self.key = key
        self.expected = expected
        self.found = found


class KeyedValueErrors(ValueError):
    """Every cross-field problem a model validator found (not only the first)."""

    def __init__(self, errors: Sequence[KeyedValueError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = tuple(errors)


@dataclass(frozen=True)
class Problem:
    """One problem of one file; ``key`` is a path such as ``columns[birth_date].formats``."""

    key: str | None
    message: str
    expected: str | None = None
    found: str | None = None


# --- YAML ----------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that records duplicate mapping keys (key, line, first line)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[object, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # '<<' merges are meant to be overridden
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: YAML allows it, the constructor refuses it
                continue
            if seen != key_node.start_mark.line + 1:
                self.duplicates.append((str(key), key_node.start_mark.line + 1, seen))
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> tuple[dict[str, Any], list[Problem]]:
    """The file's top-level mapping and its duplicate keys (as problems; the last value wins
    in the mapping, as in PyYAML).

    Raises:
        ConfigError: unreadable, not UTF-8, not YAML, or not a mapping at the top.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read file ({exc.strerror})", path=str(path), fix="check the path"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"not UTF-8 text (byte {exc.start})", path=str(path), fix="save the file as UTF-8"
        ) from exc
    loader = _UniqueKeyLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(
            f"not valid YAML{where}: {what}",
            path=str(path),
            fix="check the indentation and quoting there (a tab, a missing ':' or an "
            "unclosed bracket)",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=str(path)) from exc
    except ValueError as exc:  # PyYAML builds dates itself: 1900-13-01 raises here
        raise ConfigError(
            f"a value is not what it looks like ({exc})",
            path=str(path),
            expected="a real date such as 1900-01-01",
            fix="fix the date, or quote the value to keep it as text",
        ) from exc
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            "top level must be a mapping",
            path=str(path),
            expected="a mapping",
            found=type(data).__name__,
        )
    duplicates = [
        Problem(
            key,
            f"duplicate key (line {line}; first at line {first}): YAML keeps only the last value",
            expected="each key once per mapping",
            found=f"'{key}' twice",
        )
        for key, line, first in loader.duplicates
    ]
    return data, duplicates


# --- pydantic errors -----------------------------------------------------------------------

_PREFIXES = ("Value error, ", "Assertion failed, ")


def validation_problems(
    model: type[BaseModel], data: Mapping[str, Any], exc: ValidationError
) -> list[Problem]:
    """Every error of ``exc`` (from validating ``data`` as ``model``) as a ``Problem``; a
    misspelt key comes before the 'missing' it causes. Cross-field rules that pydantic did
    not reach because a field failed are checked on the raw data too
    (``model.raw_cross_field_problems``, where the model has it)."""
    problems: list[Problem] = []
    errors = exc.errors()
    locations = [tuple(e["loc"]) for e in errors]
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locations
        ):
            continue  # a list whose items failed is 'too short' after them: noise
        problems.extend(_explained(model, data, error))
    raw_check = getattr(model, "raw_cross_field_problems", None)
    if callable(raw_check):
        for keyed in raw_check(data):
            problems.append(_keyed(model, data, (), keyed))
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: 0 if p.message == "unknown key" else 1)


_NO_SUCH_KEY = "no such key (check the spelling)"
_BOUNDS = {
    "greater_than_equal": ">=",
    "less_than_equal": "<=",
    "greater_than": ">",
    "less_than": "<",
}


def _explained(model: type[BaseModel], data: Mapping[str, Any], error: Any) -> Iterator[Problem]:
    loc = tuple(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, KeyedValueErrors):
        for keyed in cause.errors:
            yield _keyed(model, data, loc, keyed)
        return
    if isinstance(cause, KeyedValueError):
        yield _keyed(model, data, loc, cause)
        return
    kind = error["type"]
    found = error.get("input")
    found_text = _shown(found)
    message = str(cause) if cause is not None else str(error["msg"])
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    expected = (error.get("ctx") or {}).get("expected")
    expected = None if expected is None else str(expected)
    if kind == "extra_forbidden":
        message, expected = _unknown_key(model, loc, found_text)
    elif kind == "missing":
        message, expected, found_text = "required key is missing", "the key to be present", None
    elif kind == "literal_error":
        message = "not an allowed value"  # the allowed values are in ``expected``, once
    elif kind in _BOUNDS:
        ctx = error.get("ctx") or {}
        bound = next(ctx[k] for k in ("ge", "le", "gt", "lt") if k in ctx)
        message, expected = "out of range", f"a number {_BOUNDS[kind]} {bound}"
    elif kind == "too_short":
        wanted = (error.get("ctx") or {}).get("min_length", 1)
        message, expected = "is empty" if not found else "too few items", f"at least {wanted} item"
        expected += "s" if wanted != 1 else ""
        found_text = repr(list(found)) if isinstance(found, list | tuple) else found_text
    elif kind in ("tuple_type", "list_type", "set_type"):
        message, expected = "not a list", _list_expected(model, loc, found)
    elif kind == "model_type" or kind == "dict_type":
        message, expected = "not a mapping", "a mapping of keys (key: value, indented below)"
    yield Problem(_display_key(data, _without_tags(data, loc)), message, expected, found_text)


def _shown(value: object) -> str | None:
    """A found value as the user wrote it (a YAML date as 2026-01-01, not datetime.date)."""
    if isinstance(value, dict | list) or value is None:
        return None
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return repr(value)


def _list_expected(model: type[BaseModel], loc: tuple[Any, ...], found: object) -> str:
    parent = _model_at(model, loc[:-1])
    info = parent.model_fields.get(str(loc[-1])) if parent is not None else None
    if info is not None and any(True for _ in _models_in(info.annotation)):
        return f"a list of mappings, one '- {next(iter(_first_field(info.annotation)))}: ...' each"
    example = found if isinstance(found, str | int | float) and not isinstance(found, bool) else "a"
    return f"a list, e.g. [{example}]"


def _first_field(annotation: Any) -> Iterator[str]:
    for child in _models_in(annotation):
        yield from child.model_fields
    yield "key"


def _keyed(
    model: type[BaseModel], data: Mapping[str, Any], loc: tuple[Any, ...], err: KeyedValueError
) -> Problem:
    full = _without_tags(data, loc + tuple(err.key))
    return Problem(_display_key(data, full), str(err), err.expected, err.found)


def _without_tags(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop union tags pydantic puts in locations (a profile's ``method`` value, ...)."""
    kept: list[Any] = []
    node = data
    for i, part in enumerate(loc):
        is_tag = (
            isinstance(node, Mapping)
            and isinstance(part, str)
            and part not in node
            and i < len(loc) - 1
            and part in {v for v in node.values() if isinstance(v, str)}
        )
        if is_tag:
            continue
        kept.append(part)
        node = _child(node, part)
    return tuple(kept)


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(node, list | tuple) and isinstance(part, int) and -len(node) <= part < len(node):
        return node[part]
    return None


def _display_key(data: Any, loc: tuple[Any, ...]) -> str | None:
    """``columns[birth_date].formats``: list items by their ``name`` where they have one."""
    text = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            item = _child(node, part)
            name = item.get("name") if isinstance(item, Mapping) else None
            text += f"[{name}]" if isinstance(name, str) and name else f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
        node = _child(node, part)
    return text or None


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (None: not one model)."""
    candidates = [model]
    for part in loc:
        if isinstance(part, int):
            continue  # a list item: the element's models are already the candidates
        owners = [m for m in candidates if part in m.model_fields]
        if owners:
            candidates = list(_models_in(owners[0].model_fields[part].annotation))
            continue
        tagged = [m for m in candidates if part in _tags(m)]
        if tagged:
            candidates = tagged  # a union member picked by its tag
        # else: a mapping key chosen by the user (a profile's name): same candidates
    return candidates[0] if len(candidates) == 1 else None


def _tags(model: type[BaseModel]) -> set[str]:
    """The values of the model's Literal fields (a discriminated union's tags)."""
    tags: set[str] = set()
    for info in model.model_fields.values():
        if typing.get_origin(info.annotation) is typing.Literal:
            tags.update(str(arg) for arg in typing.get_args(info.annotation))
    return tags


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """Model classes in an annotation (through Optional, tuple, dict values, unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _models_in(typing.get_args(annotation)[0])
        return
    if origin in (typing.Union, types.UnionType, tuple, list, dict):
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                yield from _models_in(arg)


def _unwrapped(annotation: Any) -> Any:
    """``tuple[X, ...]`` out of ``tuple[X, ...] | None``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _unknown_key(
    model: type[BaseModel], loc: tuple[Any, ...], found: str | None
) -> tuple[str, str]:
    """Message and expected for a key the model does not have: where it belongs if it is a
    key of a section below (``max_invalid_ratio`` -> ``thresholds:``), else the nearest
    spelling, else the keys allowed here."""
    parent = _model_at(model, loc[:-1])
    key = loc[-1]
    if parent is None or not isinstance(key, str):
        return "unknown key", _NO_SUCH_KEY
    where = "a top-level key" if len(loc) == 1 else "a key here"
    below: dict[str, str] = {}  # a section's key -> "section:" (first section wins)
    for field, info in parent.model_fields.items():
        in_items = typing.get_origin(_unwrapped(info.annotation)) is tuple
        for child in _models_in(info.annotation):
            for name in child.model_fields:
                below.setdefault(name, f"{field}:" + (" (in each item)" if in_items else ""))
    if key in below and key not in parent.model_fields:
        section = below[key]
        value = "..." if found is None else found
        example = (
            f"{section.split(':')[0]}: {{{key}: {value}}}"
            if "each item" not in section
            else f"'{key}' in an item of {section.split(' ')[0]}"
        )
        return f"not {where}: it belongs under {section}", example
    own = list(parent.model_fields)
    close = difflib.get_close_matches(key, own + list(below), n=1, cutoff=0.75)
    if close:
        match = close[0]
        spelled = f"'{match}'" if match in own else f"'{match}' under {below[match]}"
        return "unknown key", f"{spelled} (check the spelling)"
    return "unknown key", f"one of {', '.join(own)} (check the spelling)"
